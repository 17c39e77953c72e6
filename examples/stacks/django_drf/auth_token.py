"""The API token of the seeded user, for the gates' pre-step (standard library only).

The service uses DRF's TokenAuthentication: tokens are opaque 40-character keys
stored in the `authtoken_token` table. At start-up the service stores, for the
seeded user `gates@example.com`, the key this function derives from the
service's signing secret (env `STACK_SECRET_KEY`), so a CI job that knows the
secret can mint the header without logging in:

    export STACK_API_TOKEN=$(python -c "import auth_token; print(auth_token.api_token('$STACK_SECRET_KEY'))")
    curl -H "Authorization: Token $STACK_API_TOKEN" http://127.0.0.1:8000/api/books/

Do not import the application here: the pre-step runs before it exists.
"""

from __future__ import annotations

import hashlib
import hmac

SEED_EMAIL = "gates@example.com"
TOKEN_LENGTH = 40  # rest_framework.authtoken.models.Token.key is a CharField(max_length=40)


def api_token(secret_key: str) -> str:
    """A deterministic 40-hex-character token for the seeded user, derived from `secret_key`."""
    if not secret_key:
        raise ValueError("secret_key must not be empty")
    digest = hmac.new(secret_key.encode(), f"drf-token:{SEED_EMAIL}".encode(), hashlib.sha256)
    return digest.hexdigest()[:TOKEN_LENGTH]
