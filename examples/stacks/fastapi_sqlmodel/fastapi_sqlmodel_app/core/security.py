"""Password hashing (bcrypt) and access tokens (JWT, HS256)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
import jwt

from fastapi_sqlmodel_app.core.config import settings

ALGORITHM = "HS256"


def _prehash(password: str) -> bytes:
    # bcrypt reads at most 72 bytes (bcrypt 5 refuses longer input) and stops at NUL:
    # hash a fixed-length digest instead, as Django's BCryptSHA256PasswordHasher does.
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def get_password_hash(password: str) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(settings.BCRYPT_ROUNDS)).decode("ascii")


def verify_password(plain_password: str, hashed_password: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(plain_password), hashed_password.encode("ascii"))
    except ValueError:  # not a bcrypt hash
        return False


# Compared against when the e-mail is unknown, so that a login takes as long either way.
DUMMY_HASH = get_password_hash("not-a-real-password")


def create_access_token(subject: str | Any, expires_delta: timedelta) -> str:
    expire = datetime.now(UTC) + expires_delta
    to_encode = {"exp": expire, "sub": str(subject), "jti": uuid.uuid4().hex}
    return jwt.encode(to_encode, settings.SECRET_KEY, algorithm=ALGORITHM)


def decode_access_token(token: str) -> dict[str, Any]:
    """The token's claims; raises ``jwt.InvalidTokenError`` for a bad, forged or expired token."""
    return jwt.decode(token, settings.SECRET_KEY, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "jti"]})
