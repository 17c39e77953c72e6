"""`[tool.backend-gates.identities.NAME]` and `identity`: who the HTTP gates act as (SPEC section 6).

Parsed once with the rest of the configuration (config.py calls `parse_identities`); logging in
is the service layer's work (service/identities.py). Every string may use `${ENV}`; values taken
from the environment (passwords, static tokens) are redacted wherever they would be shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pytest_backend_gates.text import did_you_mean

if TYPE_CHECKING:
    from pytest_backend_gates.config import Table

IDENTITY_KEYS = ("headers", "login", "signup", "provider", "role")
LOGIN_KEYS = ("operation", "json", "form", "token", "header", "prefix")
SIGNUP_KEYS = ("operation", "json", "form")
_OPERATION = re.compile(r"(GET|POST|PUT|PATCH|DELETE) (/\S*)")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class AuthRequest:
    """A signup or login request: `operation` is 'METHOD /path' as served (base path included)."""

    method: str
    path: str
    body_kind: Literal["json", "form", "none"] = "none"
    body: Any = field(default=None, repr=False)  # may hold a password: never in a traceback's repr
    # login only: where the token is in the JSON answer, and how it is sent
    token: str = "access_token"
    header: str = "Authorization"
    prefix: str = "Bearer "

    @property
    def operation(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class IdentitySettings:
    name: str
    # static; with login: sent besides the token (not in repr: credentials)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    login: AuthRequest | None = None
    signup: AuthRequest | None = None
    provider: str | None = None  # "module:function", called as function(name, client) -> headers
    role: str | None = None  # a free label; security.admin_only refuses identities without role "admin"

    @property
    def kind(self) -> Literal["login", "provider", "static"]:
        return "login" if self.login is not None else "provider" if self.provider is not None else "static"


@dataclass(frozen=True)
class Identities:
    """The identities in definition order, and the default one (None: no identity is defined)."""

    by_name: Mapping[str, IdentitySettings] = field(default_factory=dict)
    default: str | None = None

    def __bool__(self) -> bool:
        return bool(self.by_name)

    def get(self, name: str | None = None) -> IdentitySettings | None:
        return self.by_name.get(name or self.default or "")


def parse_identities(root: Table, table_of: Any) -> Identities:
    """`root`: the [tool.backend-gates] table; `table_of(name, raw)`: a Table for a sub-table."""
    raw = root.table("identities")
    by_name: dict[str, IdentitySettings] = {}
    for name, body in raw.items():
        where = f"identities.{name}"
        if not _NAME.fullmatch(name):
            root.problem(where, "is not a usable identity name; expected letters, digits, '_', '-' or '.'")
            continue
        if not isinstance(body, dict):
            root.error(where, body, f"is not a table; expected a [tool.backend-gates.identities.{name}] section "
                       "with headers, login or provider")
            continue
        by_name[name] = _identity(name, table_of(where, body))
    default = root.string("identity")
    if default is not None and default not in by_name:
        choices = ", ".join(by_name) or "none is defined"
        root.error("identity", default, f"names no identity; {did_you_mean(default, list(by_name))}"
                   f"defined identities: {choices} (a [tool.backend-gates.identities.NAME] table each)")
        default = None
    return Identities(by_name=by_name, default=default or next(iter(by_name), None))


def _identity(name: str, t: Table) -> IdentitySettings:
    headers = t.entries("headers", lambda key, value: t.string_value(key, value))
    login = _request(t, "login", LOGIN_KEYS)
    signup = _request(t, "signup", SIGNUP_KEYS)
    provider = t.string("provider")
    if provider is not None and not re.fullmatch(r"[\w.]+:[\w.]+", provider):
        t.error("provider", t.raw("provider"), "is not 'module:function'; expected e.g. 'tests.auth:admin_headers'")
        provider = None
    role = t.string("role")
    if login is not None and provider is not None:
        t.problem("provider", "and login are both set; an identity obtains its credentials one way: "
                  "login (a request), provider (a function) or headers (static)")
    if not t.has("login") and not t.has("provider") and not t.has("headers"):
        t.problem("headers", f"missing; identity {name!r} needs headers (static credentials), login "
                  "(a request that returns a token) or provider ('module:function')")
    if signup is not None and login is None:
        t.problem("signup", "needs login: signup creates the user once per run, login then obtains its token")
    t.finish(IDENTITY_KEYS)
    return IdentitySettings(name=name, headers=headers, login=login, signup=signup, provider=provider, role=role)


def _request(t: Table, key: str, allowed: tuple[str, ...]) -> AuthRequest | None:
    if not t.has(key):
        return None
    raw = t.table(key)
    if not raw and not isinstance(t.raw(key), dict):
        return None  # "is not a table" already said
    problems_before = t.error_count
    operation = raw.get("operation")
    match = _OPERATION.fullmatch(operation) if isinstance(operation, str) else None
    if match is None:
        t.problem(f"{key}.operation", f"{'missing' if operation is None else repr(operation) + ' is not'}; "
                  "expected 'METHOD /path' as the service serves it, e.g. 'POST /api/v1/login/access-token'")
    for unknown in (k for k in raw if k not in allowed):
        t.problem(f"{key}.{unknown}", f"unknown key; {did_you_mean(unknown, list(allowed))}"
                  f"allowed keys: {', '.join(allowed)}")
    if "json" in raw and "form" in raw:
        t.problem(key, "has both json and form; the body is one of them")
    body_kind: Literal["json", "form", "none"] = "json" if "json" in raw else "form" if "form" in raw else "none"
    body: Any = None
    if body_kind == "form":
        form = raw["form"]
        if not isinstance(form, dict) or not all(isinstance(v, (str, int, float, bool)) for v in form.values()):
            t.error(f"{key}.form", form, "is not a table of fields; expected e.g. { username = \"alice\", "
                    "password = \"${ALICE_PW}\" }")
        else:
            body = {k: t.string_value(f"{key}.form.{k}", v) if isinstance(v, str) else str(v)
                    for k, v in form.items()}
    elif body_kind == "json":
        body = _expand_json(t, f"{key}.json", raw["json"])
    texts = {}
    for name in ("token", "header", "prefix"):
        if name in raw:
            value = raw[name]
            if not isinstance(value, str) or (name != "prefix" and not value.strip()):
                t.error(f"{key}.{name}", value, "is not a non-empty string" if name != "prefix" else
                        "is not a string")
            else:
                texts[name] = value
    if t.error_count > problems_before or match is None:
        return None
    return AuthRequest(method=match.group(1), path=match.group(2), body_kind=body_kind, body=body, **texts)


def _expand_json(t: Table, where: str, value: Any) -> Any:
    if isinstance(value, str):
        return t.string_value(where, value)
    if isinstance(value, dict):
        return {k: _expand_json(t, f"{where}.{k}", v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_json(t, f"{where}[{i}]", v) for i, v in enumerate(value)]
    return value
