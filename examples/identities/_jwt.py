"""Shared by jwt_buggy.py and jwt_fixed.py: HS256 JWTs with the standard library, as a small
hand-rolled token module of a real service writes them; signup, a password login that answers
a JWT, and the documented answers. The twins differ in how they call `decode`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Form, HTTPException
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel

from _accounts import Accounts, Me, Signup, Token, log_token

SECRET = os.environ.get("JWT_SECRET", "dev-only-jwt-secret-change-me")
LIFETIME = 15 * 60
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "not signed in, or the token is not valid"}}
oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


class InvalidToken(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: dict[str, Any], key: str) -> str:
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest())}"


def decode(token: str, key: str, *, algorithms: list[str], verify_exp: bool = True) -> dict[str, Any]:
    try:
        header_b64, claims_b64, signature = token.split(".")
        header, claims = json.loads(_unb64(header_b64)), json.loads(_unb64(claims_b64))
    except ValueError:
        raise InvalidToken("malformed") from None
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") not in algorithms:
        raise InvalidToken("algorithm not allowed")
    if header["alg"] != "none":  # "none": nothing to verify
        expected = _b64(hmac.new(key.encode(), f"{header_b64}.{claims_b64}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature):
            raise InvalidToken("bad signature")
    if verify_exp and not (isinstance(claims.get("exp"), (int, float)) and claims["exp"] > time.time()):
        raise InvalidToken("expired")
    return claims


class Health(BaseModel):
    status: str


def create_app(title: str, claims_of: Callable[[str], dict[str, Any]]) -> FastAPI:
    """The service; `claims_of(token)` decodes a bearer token (InvalidToken: refused)."""
    accounts = Accounts()
    app = FastAPI(title=title)

    def current_user(token: str | None = Depends(oauth2)) -> str:
        try:
            claims = claims_of(token or "")
        except InvalidToken:
            raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"}) from None
        if claims.get("sub") not in accounts.users:
            raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"})
        return str(claims["sub"])

    @app.get("/health", response_model=Health)
    def health() -> Any:
        return {"status": "ok"}

    @app.post("/auth/signup", status_code=201,
              responses={409: {"description": "taken"}, 400: {"description": "the body is not JSON"}})
    def signup(body: Signup) -> dict[str, str]:
        if not accounts.signup(body.email, body.password):
            raise HTTPException(409, "email taken")
        return {"email": body.email}

    @app.post("/auth/token", response_model=Token, responses={401: {"description": "bad credentials"}})
    def token(username: str = Form(), password: str = Form()) -> Token:
        if not accounts.verify(username, password):
            raise HTTPException(401, "bad credentials")
        now = int(time.time())
        issued = encode({"sub": username, "iat": now, "exp": now + LIFETIME}, SECRET)
        log_token(issued)
        return Token(access_token=issued)

    @app.get("/me", response_model=Me, responses=UNAUTHORIZED)
    def me(email: str = Depends(current_user)) -> Me:
        return Me(email=email, role=accounts.users[email]["role"])

    return app
