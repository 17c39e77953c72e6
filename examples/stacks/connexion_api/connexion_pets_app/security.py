"""Passwords (bcrypt) and access tokens (JWT, HS256), including Connexion's x-bearerInfoFunc."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import bcrypt
import jwt
from connexion.exceptions import OAuthProblem
from sqlalchemy import select

from .config import settings

ALGORITHM = "HS256"
_BCRYPT_MAX_BYTES = 72


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=settings.bcrypt_rounds)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    encoded = password.encode()
    if len(encoded) > _BCRYPT_MAX_BYTES:  # bcrypt refuses (ValueError); no stored password is that long
        return False
    return bcrypt.checkpw(encoded, password_hash.encode())


def create_access_token(email: str) -> tuple[str, int]:
    now = datetime.now(timezone.utc)
    ttl = settings.token_ttl_seconds
    claims = {"sub": email, "jti": uuid.uuid4().hex, "iat": now, "exp": now + timedelta(seconds=ttl)}
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM), ttl


def decode_token(token: str) -> dict[str, Any]:
    """x-bearerInfoFunc: the token's claims for the handlers (`user`, `token_info`), or 401."""
    from .db import SessionLocal
    from .models import RevokedToken, User

    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=[ALGORITHM],
                            options={"require": ["sub", "jti", "exp"]})
    except jwt.PyJWTError as exc:
        raise OAuthProblem(detail=f"Invalid token: {exc}") from exc
    # Connexion calls this function on the event loop: a short session of its own, not the
    # request thread's scoped session.
    with SessionLocal() as session:
        if session.get(RevokedToken, str(claims["jti"])) is not None:
            raise OAuthProblem(detail="Token has been revoked")
        user = session.scalar(select(User).where(User.email == str(claims["sub"])))
        if user is None or not user.is_active:
            raise OAuthProblem(detail="Unknown or inactive user")
        return {**claims, "sub": user.email, "uid": user.id}
