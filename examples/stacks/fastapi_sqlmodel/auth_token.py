"""The gates' access token: a JWT the app accepts for the seeded superuser (id 1).

Pure: standard library and pyjwt only, no import of the app. The same secret
always gives the same token (fixed jti and expiry), so a reproduction line that
names ${STACK_API_TOKEN} keeps working:

    export STACK_API_TOKEN=$(python -c "import auth_token; print(auth_token.api_token('$STACK_SECRET_KEY'))")
"""

from __future__ import annotations

import hashlib
import hmac

import jwt

SEEDED_USER_ID = 1  # gates@example.com, seeded first by fastapi_sqlmodel_app.core.db.init_db
EXPIRES_AT = 4102444800  # 2100-01-01T00:00:00Z


def api_token(secret_key: str) -> str:
    """An HS256 access token for the seeded user, signed with the app's STACK_SECRET_KEY."""
    jti = hmac.new(secret_key.encode("utf-8"), b"backend-gates api token", hashlib.sha256).hexdigest()[:32]
    claims = {"sub": str(SEEDED_USER_ID), "jti": jti, "exp": EXPIRES_AT}
    return jwt.encode(claims, secret_key, algorithm="HS256")
