"""Who may change the catalog: staff, with the ``X-API-Key`` header.

Creating, replacing and deleting items needs the key; reading the catalog, quoting and
ordering do not. The key is ``create_app(api_key=...)``, else ``$SHOP_API_KEY``, else a
development default (set ``SHOP_API_KEY`` wherever the service is reachable by others).
"""

import secrets
from typing import Annotated, Any

from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from shop.models import Error
from shop.twin import DEFECTS

DEV_API_KEY = "dev-staff-key"
STAFF_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="Staff key: needed to change the catalog")
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "Missing or wrong X-API-Key header"}
}


def require_staff(request: Request, key: Annotated[str | None, Security(STAFF_KEY)]) -> None:
    """Refuse (401) a request without the staff key, or with another key."""
    expected: str = request.app.state.api_key
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a header may hold some).
    if DEFECTS:  # DEFECT(auth-bypass)
        # DEFECT(auth-bypass): only a wrong key is refused; a request with no key at all gets in, so
        # anyone can create, replace and delete items. The security gate's auth probe (auth-ignored)
        # and the contract gate's ignored_auth check find it.
        refused = key is not None and not secrets.compare_digest(key.encode(), expected.encode())
    else:  # FIX(auth-bypass)
        # FIX(auth-bypass): no key is refused like a wrong one.
        refused = key is None or not secrets.compare_digest(key.encode(), expected.encode())
    if refused:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid X-API-Key header is required",
                            headers={"WWW-Authenticate": "ApiKey"})
