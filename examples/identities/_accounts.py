"""Accounts shared by the identity examples: signup, OAuth2 password login (form or JSON),
bearer tokens in memory that logout revokes. The authz and JWT examples reuse the accounts.

Plain FastAPI, as a real service writes it: `current_user` reads the bearer token.
"""

from __future__ import annotations

import os
import secrets
import threading

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, Field

oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


class Signup(BaseModel):
    email: str = Field(min_length=3, max_length=80)
    password: str = Field(min_length=8, max_length=80)


class JsonLogin(BaseModel):
    email: str
    password: str


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class Me(BaseModel):
    email: str
    role: str


class Accounts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: dict[str, dict[str, str]] = {"admin@example.com": {"password": "admin-password-1", "role": "admin"}}
        self.tokens: dict[str, str] = {}  # token -> email
        self.logins = 0
        self.used: dict[str, int] = {}  # token -> requests made with it
        # A long-lived API token of the admin, for the static-credentials recipe.
        if os.environ.get("ACCOUNTS_ADMIN_TOKEN"):
            self.tokens[os.environ["ACCOUNTS_ADMIN_TOKEN"]] = "admin@example.com"

    def signup(self, email: str, password: str) -> bool:
        with self.lock:
            if email in self.users:
                return False
            self.users[email] = {"password": password, "role": "user"}
            return True

    def verify(self, email: str, password: str) -> bool:
        with self.lock:
            user = self.users.get(email)
            return user is not None and secrets.compare_digest(user["password"].encode(), password.encode())

    def login(self, email: str, password: str) -> str | None:
        if not self.verify(email, password):
            return None
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = email
            self.logins += 1
        log_token(token)
        return token


def log_token(token: str) -> None:
    """The tests look for every issued token in every output."""
    if os.environ.get("ACCOUNTS_TOKEN_LOG"):
        with open(os.environ["ACCOUNTS_TOKEN_LOG"], "a") as log:
            log.write(token + "\n")


def add_account_routes(app: FastAPI, accounts: Accounts) -> None:
    # ACCOUNTS_TOKEN_USES=N: a token expires after N requests (short-lived tokens, deterministic).
    uses = int(os.environ.get("ACCOUNTS_TOKEN_USES", "0"))

    def current_user(token: str | None = Depends(oauth2)) -> str:
        email = accounts.tokens.get(token or "")
        if email is None:
            raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"})
        if uses:
            with accounts.lock:
                accounts.used[token] = accounts.used.get(token, 0) + 1
                if accounts.used[token] > uses:
                    accounts.tokens.pop(token, None)
                    raise HTTPException(401, "token expired", headers={"WWW-Authenticate": "Bearer"})
        return email

    app.state.current_user = current_user

    malformed = {400: {"description": "the body is not JSON"}}

    @app.post("/auth/signup", status_code=201, responses={409: {"description": "taken"}, **malformed})
    def signup(body: Signup) -> dict[str, str]:
        if not accounts.signup(body.email, body.password):
            raise HTTPException(409, "email taken")
        return {"email": body.email}

    @app.post("/auth/token", response_model=Token, responses={401: {"description": "bad credentials"}})
    def token(username: str = Form(), password: str = Form()) -> Token:
        issued = accounts.login(username, password)
        if issued is None:
            raise HTTPException(401, "bad credentials")
        return Token(access_token=issued)

    @app.post("/auth/json-login", response_model=Token,
              responses={401: {"description": "bad credentials"}, **malformed})
    def json_login(body: JsonLogin) -> Token:
        issued = accounts.login(body.email, body.password)
        if issued is None:
            raise HTTPException(401, "bad credentials")
        return Token(access_token=issued)

    @app.post("/auth/logout", status_code=204, responses={401: {"description": "not authenticated"}})
    def logout(request: Request, email: str = Depends(current_user)) -> None:
        token = request.headers["authorization"].partition(" ")[2]
        with accounts.lock:
            accounts.tokens.pop(token, None)

    @app.get("/me", response_model=Me, responses={401: {"description": "not authenticated"}})
    def me(email: str = Depends(current_user)) -> Me:
        return Me(email=email, role=accounts.users[email]["role"])
