"""A bearer token for the gates, minted from the app's signing secret (STACK_SECRET_KEY).

Standard library and PyJWT only: it must not import the app. The token is the one
`POST /api/auth/login` would give the seeded user gates@example.com, with a longer life.
"""

from __future__ import annotations

import hashlib
import time

import jwt

SEEDED_EMAIL = "gates@example.com"
LIFETIME_SECONDS = 12 * 3600


def api_token(secret_key: str) -> str:
    now = int(time.time())
    jti = "gates-" + hashlib.sha256(f"{secret_key}:{now}".encode()).hexdigest()[:26]
    claims = {"sub": SEEDED_EMAIL, "jti": jti, "iat": now, "exp": now + LIFETIME_SECONDS}
    return jwt.encode(claims, secret_key, algorithm="HS256")


if __name__ == "__main__":
    import os

    print(api_token(os.environ.get("STACK_SECRET_KEY", "dev-secret-please-change-0123456789abcdef")))
