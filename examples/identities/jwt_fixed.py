"""An account service whose login answers an HS256 JWT -- the FIXED twin of ``jwt_buggy.py``.
Each fix is marked ``# FIX: <rule-id>:``."""

from __future__ import annotations

from typing import Any

from _jwt import SECRET, create_app, decode


def claims_of(token: str) -> dict[str, Any]:
    # FIX: jwt-none: only the algorithm the service signs with
    # FIX: jwt-expired: exp is verified (the default)
    return decode(token, SECRET, algorithms=["HS256"])


app = create_app("accounts with JWTs (fixed)", claims_of)
