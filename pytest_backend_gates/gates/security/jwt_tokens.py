"""Bearer JWTs as the jwt probe reads and forges them, with the standard library: base64url
segments, the header and claims, and HS256/384/512 signatures (HMAC). A PEM key (RS*, PS*, ES*,
EdDSA) is signed through PyJWT with cryptography, imported only then (`pip install
'pyjwt[crypto]'`).

Forgeries: `alg` none without a signature, the payload changed with the signature kept, and
the same claims expired (signed with the configured `jwt_key`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
HMAC_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
NONE_SPELLINGS = ("none", "None", "NONE", "nOnE")  # libraries have compared it case-sensitively
TAMPER_CLAIM = "backend_gates_probe"  # added to the payload of the tampered token
EXPIRED_BY = 3600  # seconds: past any clock leeway


class SigningError(Exception):
    """The configured key cannot sign tokens of this algorithm (the message says why)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def json_segment(value: Mapping[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


@dataclass(frozen=True)
class Bearer:
    """A JWT sent in a header: `header_name: prefix + token`."""

    header_name: str
    prefix: str
    token: str
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def segments(self) -> list[str]:
        return self.token.split(".")

    @property
    def alg(self) -> str:
        return str(self.header.get("alg", ""))

    @property
    def signature(self) -> str:
        return self.segments[2]

    @property
    def value(self) -> str:
        return self.prefix + self.token


def parse_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(header, claims) of a JWS compact token, or None when it is not one."""
    if not _JWT.fullmatch(token):
        return None
    try:
        header, claims = (json.loads(b64url_decode(part)) for part in token.split(".")[:2])
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict) or not isinstance(header.get("alg"), str):
        return None
    return header, claims


def find_bearer(headers: Mapping[str, str]) -> Bearer | None:
    """The first header whose value ends in a JWT ('Authorization: Bearer eyJ...')."""
    for name, value in headers.items():
        token = value.rsplit(" ", 1)[-1]
        parsed = parse_jwt(token)
        if parsed is not None:
            return Bearer(name, value[: len(value) - len(token)], token, *parsed)
    return None


def forge_none(bearer: Bearer, spelling: str = "none") -> str:
    """The same claims under `alg` none, without a signature."""
    return f"{json_segment({**bearer.header, 'alg': spelling})}.{bearer.segments[1]}."


def forge_tampered(bearer: Bearer) -> str:
    """A claim added to the payload, the header and signature kept."""
    return f"{bearer.segments[0]}.{json_segment({**bearer.claims, TAMPER_CLAIM: 'tampered'})}.{bearer.signature}"


def expired_claims(claims: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The same claims, expired EXPIRED_BY seconds ago (issued and valid from before that)."""
    issued = int(now) - 2 * EXPIRED_BY
    changed = {**claims, "exp": int(now) - EXPIRED_BY, "iat": issued}
    if "nbf" in claims:
        changed["nbf"] = issued
    return changed


def sign(header: Mapping[str, Any], claims: Mapping[str, Any], key: str) -> str:
    """A token of `header` and `claims` signed with `key` (an HS* secret, or the path of a PEM
    private key); SigningError says why it cannot be."""
    alg = str(header.get("alg", ""))
    is_pem = key.lower().endswith((".pem", ".key"))
    signing_input = f"{json_segment(header)}.{json_segment(claims)}"
    if alg in HMAC_HASHES:
        if is_pem:
            raise SigningError(f"the token is signed with {alg} (a shared secret) but jwt_key names a PEM file")
        digest = hmac.new(key.encode(), signing_input.encode(), HMAC_HASHES[alg]).digest()
        return f"{signing_input}.{b64url(digest)}"
    if not is_pem:
        raise SigningError(f"the token is signed with {alg!r}, which needs a private key: set jwt_key to the "
                           "path of its PEM file")
    try:
        import jwt  # PyJWT
    except ImportError:
        raise SigningError(f"signing {alg} with a PEM key needs PyJWT with cryptography: "
                           "pip install 'pyjwt[crypto]'") from None
    extra = {k: v for k, v in header.items() if k not in ("alg", "typ")}
    try:
        return str(jwt.encode(dict(claims), Path(key).read_text(), algorithm=alg, headers=extra or None))
    except Exception as exc:  # noqa: BLE001 - a wrong key type, a missing cryptography: said, not raised
        raise SigningError(f"PyJWT could not sign {alg} with jwt_key: {type(exc).__name__}: {exc}") from None


def key_matches(bearer: Bearer, key: str) -> bool | None:
    """Whether `key` made the token's signature (HS*: recomputed); None when that cannot be told
    offline (an asymmetric algorithm)."""
    if bearer.alg not in HMAC_HASHES or key.lower().endswith((".pem", ".key")):
        return None
    signing_input = ".".join(bearer.segments[:2]).encode()
    digest = hmac.new(key.encode(), signing_input, HMAC_HASHES[bearer.alg]).digest()
    return hmac.compare_digest(b64url(digest), bearer.signature)
