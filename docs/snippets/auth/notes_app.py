"""The service the auth recipes of docs/auth.md run against (tests/test_docs_snippets.py): a
Flask app whose users live in memory, with a cookie session, an API key and bearer tokens."""

from __future__ import annotations

import os
import secrets

from flask import Flask, abort, jsonify, request, session

app = Flask(__name__)
app.secret_key = secrets.token_hex(16)

USERS: dict[str, str] = {"gates": os.environ.get("GATES_PW", "")}  # username -> password
TOKENS: dict[str, str] = {}                                        # token -> username


def create_user(username: str, password: str) -> str:
    USERS[username] = password
    return username


def create_access_token(username: str) -> str:
    token = secrets.token_urlsafe(16)
    TOKENS[token] = username
    return token


@app.post("/login")
def login():
    username, password = request.form.get("username", ""), request.form.get("password", "")
    if not password or USERS.get(username) != password:
        abort(401)
    session["user"] = username
    return "", 204


@app.get("/me")
def me():
    bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if "user" in session:
        return jsonify(user=session["user"], by="session")
    if bearer in TOKENS:
        return jsonify(user=TOKENS[bearer], by="token")
    if request.headers.get("X-API-Key") and request.headers["X-API-Key"] == os.environ.get("SERVICE_API_KEY"):
        return jsonify(user="service", by="api key")
    abort(401)
