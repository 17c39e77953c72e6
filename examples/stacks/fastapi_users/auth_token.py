"""A bearer token for the seeded account, minted the way fastapi-users' JWTStrategy does.

Standard library and pyjwt only: it does not import the app. The app reads the same secret
from STACK_SECRET_KEY.

    STACK_API_TOKEN=$(python -c "import auth_token; print(auth_token.api_token('$STACK_SECRET_KEY'))")
"""

from __future__ import annotations

import time
import uuid

import jwt

SEED_USER_ID = uuid.uuid5(uuid.NAMESPACE_URL, "https://stack.example/users/gates@example.com")
AUDIENCE = ["fastapi-users:auth"]  # JWTStrategy's default token_audience
LIFETIME_SECONDS = 24 * 3600


def api_token(secret_key: str) -> str:
    now = int(time.time())
    claims = {"sub": str(SEED_USER_ID), "aud": AUDIENCE, "exp": now + LIFETIME_SECONDS}
    return jwt.encode(claims, secret_key, algorithm="HS256")
