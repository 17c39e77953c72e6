"""A bearer token for the gates, minted without the app (standard library and PyJWT only).

The app signs its JWTs (flask-jwt-extended, HS256) with STACK_SECRET_KEY and
seeds the user gates@example.com with id 1 at start-up; this token is what
``POST /login`` would give that user: a fresh access token whose subject is "1".

    export STACK_API_TOKEN=$(python -c "import auth_token; print(auth_token.api_token('$STACK_SECRET_KEY'))")
"""

from __future__ import annotations

import time
import uuid

import jwt

SEEDED_USER_ID = 1
LIFETIME_S = 6 * 3600


def api_token(secret_key: str) -> str:
    now = int(time.time())
    claims = {
        "sub": str(SEEDED_USER_ID),
        "fresh": True,
        "type": "access",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + LIFETIME_S,
    }
    return jwt.encode(claims, secret_key, algorithm="HS256")


if __name__ == "__main__":
    import os

    print(api_token(os.environ.get("STACK_SECRET_KEY", "dev-secret-please-change-0123456789abcdef")))
