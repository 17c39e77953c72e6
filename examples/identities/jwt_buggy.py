"""An account service whose login answers an HS256 JWT -- the BUGGY twin of ``jwt_fixed.py``.
Each seeded defect is marked ``# DEFECT: <rule-id>:``."""

from __future__ import annotations

from typing import Any

from _jwt import SECRET, create_app, decode


def claims_of(token: str) -> dict[str, Any]:
    # DEFECT: jwt-none: "none" is allowed "for the internal health checker", so an unsigned token passes
    # DEFECT: jwt-expired: verify_exp=False "because clocks drift", so a token never expires
    return decode(token, SECRET, algorithms=["HS256", "none"], verify_exp=False)


app = create_app("accounts with JWTs (buggy)", claims_of)
