"""The security rules that judge one HTTP exchange: pure functions, no pytest, no I/O.

Shared by the security gate (every answer the gates and the `api` fixture see) and the
validation gate's `check_endpoint` (the answers of one operation): not one gate's. Each finding
has a stable rule id from the one rule table (security_rules.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

from pytest_backend_gates import hostile
from pytest_backend_gates.service.exchange import Exchange
from pytest_backend_gates.settings import DEFAULT_REQUIRED_HEADERS, SecuritySettings


@dataclass(frozen=True)
class RuleFinding:
    rule: str
    where: str  # the operation
    message: str
    key: str  # what makes two findings of a rule on one operation the same (a header, a JSON path)


# Stack traces of the common runtimes, as they appear in a response body.
TRACEBACKS = [
    ("Python", re.compile(r"Traceback \(most recent call last\)|File \"[^\"\n]+\", line \d+, in \w+")),
    ("Java", re.compile(r"\bat (?:[\w$]+\.)+[\w$<>]+\([\w$]+\.java:\d+\)")),
    ("Node.js", re.compile(r"\bat (?:[\w.<>]+ )?\(?/[^\s():]+\.(?:js|ts|mjs):\d+:\d+\)?")),
    ("Go", re.compile(r"goroutine \d+ \[running\]")),
    ("Ruby", re.compile(r"\.rb:\d+:in `")),
    (".NET", re.compile(r"\bat [\w.`<>]+\(.*\) in [^\n]+\.cs:line \d+")),
    ("PHP", re.compile(r"Stack trace:\s*#0 ")),
]
SQL_ERRORS = [
    ("SQLite", re.compile(r"sqlite3\.\w*Error|near \"[^\"\n]{0,40}\": syntax error|unrecognized token: |"
                          r"no such (?:table|column): |SQLITE_ERROR")),
    ("PostgreSQL", re.compile(r"syntax error at or near \"|psycopg2?\.(?:errors\.)?\w+|"
                              r"ERROR:\s+(?:relation|column) \"[^\"]+\" does not exist|unterminated quoted string at or near")),
    ("MySQL", re.compile(r"You have an error in your SQL syntax|mysql\.connector\.errors|MySQLdb\.\w*Error|"
                         r"Warning: mysql_")),
    ("SQLAlchemy", re.compile(r"sqlalchemy\.exc\.\w+")),
    ("generic", re.compile(r"SQLSTATE\[\w+\]|ORA-\d{5}: ")),
]
DEBUG_PAGES = [
    ("Werkzeug/Flask debugger", re.compile(r"Werkzeug Debugger|The debugger caught an exception in your WSGI application")),
    ("Django debug page", re.compile(r"You're seeing this error because you have <code>DEBUG = True</code>")),
    ("Starlette debug page", re.compile(r"<title>Starlette Debugger</title>|class=\"traceback-container\"")),
    ("Rails debug page", re.compile(r"Action Controller: Exception caught")),
]
BANNER_HEADERS = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version", "x-runtime-version")
VERSION = re.compile(r"\d+\.\d+")
SESSION_COOKIE = re.compile(r"sess|sid\b|auth|token|jwt|remember|login", re.IGNORECASE)


def _excerpt(text: str, match: re.Match[str], width: int = 60) -> str:
    start, end = max(0, match.start() - 20), min(len(text), match.end() + width)
    return " ".join(text[start:end].split())


def _first_match(text: str, patterns: list[tuple[str, re.Pattern[str]]]) -> tuple[str, str] | None:
    for name, pattern in patterns:
        match = pattern.search(text)
        if match:
            return name, _excerpt(text, match)
    return None


def _json_paths(data: Any, path: str = "$") -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) for every object member, depth first."""
    if isinstance(data, dict):
        for key, value in data.items():
            child = f"{path}.{key}" if re.fullmatch(r"[A-Za-z_]\w*", str(key)) else f"{path}[{json.dumps(key)}]"
            yield child, str(key), value
            yield from _json_paths(value, child)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _json_paths(value, f"{path}[{index}]")


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


def judge_exchange(exchange: Exchange, settings: SecuritySettings) -> list[RuleFinding]:
    """Every passive rule on one response."""
    findings: list[RuleFinding] = []
    where = exchange.operation
    data: Any = None
    if exchange.content_type.endswith("json"):
        try:
            data = json.loads(exchange.body)
        except ValueError:
            data = None
    # Error text inside JSON has its quotes and newlines escaped: scan the decoded strings too.
    text = exchange.text() + ("\n" + "\n".join(_strings(data)) if data is not None else "")

    if settings.forbid_leaks:
        found = _first_match(text, TRACEBACKS)
        if found:
            findings.append(RuleFinding("leak-traceback", where, f"the response ({exchange.status}) contains a {found[0]} "
                                    f"stack trace: \"{found[1]}\"", found[0]))
        found = _first_match(text, SQL_ERRORS)
        if found:
            findings.append(RuleFinding("leak-sql-error", where, f"the response ({exchange.status}) contains {found[0]} "
                                    f"error text: \"{found[1]}\"", found[0]))
        found = _first_match(text, DEBUG_PAGES)
        if found:
            findings.append(RuleFinding("leak-debug-page", where, f"the response ({exchange.status}) is a {found[0]}",
                                    found[0]))
        for name in BANNER_HEADERS:
            value = exchange.header(name)
            if value and VERSION.search(value):
                findings.append(RuleFinding("server-banner", where, f"header {name.title()}: {value!r} tells the "
                                        "software and its version", name))

    for required in DEFAULT_REQUIRED_HEADERS if settings.required_headers is None else settings.required_headers:
        if exchange.header(required) is None:
            findings.append(RuleFinding("header-missing", where, f"no {required} header on the response "
                                    f"({exchange.status})", required.lower()))

    if data is not None and settings.sensitive_fields:
        findings.extend(_sensitive_findings(exchange, data, settings.sensitive_fields))

    for cookie in exchange.header_values("set-cookie"):
        name = cookie.split("=", 1)[0].strip()
        if not SESSION_COOKIE.search(name):
            continue
        attributes = {part.strip().split("=", 1)[0].lower() for part in cookie.split(";")[1:]}
        if _deletes_cookie(cookie):
            continue  # a logout clearing the cookie: no value left to protect
        missing = [flag for flag in ("Secure", "HttpOnly", "SameSite") if flag.lower() not in attributes]
        if missing:
            findings.append(RuleFinding("cookie-flags", where, f"cookie {name!r} is set without {', '.join(missing)}", name))

    findings.extend(_injection_findings(exchange, text, where))

    allow_origin = exchange.header("access-control-allow-origin")
    credentials = (exchange.header("access-control-allow-credentials") or "").lower() == "true"
    origin = exchange.request_header("origin")
    if allow_origin == "*" and credentials:
        findings.append(RuleFinding("cors", where, "Access-Control-Allow-Origin: * together with "
                                "Access-Control-Allow-Credentials: true", "wildcard"))
    elif origin and allow_origin == origin and credentials and origin.endswith(PROBE_ORIGIN_HOST):
        findings.append(RuleFinding("cors", where, f"the request's Origin {origin!r} is reflected in "
                                "Access-Control-Allow-Origin with credentials allowed", "reflected"))
    return findings


# Path segments of an operation about the caller: what it answers is the caller's own.
SELF_SEGMENTS = {"me", "self", "my", "myself", "current", "currentuser", "profile", "account", "whoami", "userinfo"}
# Field names of a secret the server derives and keeps: never the caller's to hold, even on
# the caller's own profile (a password hash, a salt). A plain `password` is the caller's
# only when the caller just sent it.
SERVER_SIDE_SECRET = re.compile(r"passw|passwd|pwd|hash|salt|digest")
# Natural-language text: two words. A secret, a hash or a token is one.
PROSE = re.compile(r"[^\W\d_]{2,}\s+[^\W\d_]{2,}")


def _sensitive_findings(exchange: Exchange, data: Any, fields: tuple[str, ...]) -> list[RuleFinding]:
    """Sensitive members holding a value the caller has no right to: not the API's own
    description, not the caller's own input echoed back, not a message about the field, not the
    caller's own credential (see docs/security.md, `sensitive-field`)."""
    if _is_api_description(data):
        return []  # the OpenAPI document: its `password` members are property schemas, not data
    sensitive = {_normalise(field) for field in fields}
    sent = _sent_values(exchange)
    about_caller = _about_the_caller(exchange)
    created = exchange.method.upper() == "POST" and 200 <= exchange.status < 300
    findings = []
    for path, key, value in _json_paths(data):
        if _normalise(key) not in sensitive or value in (None, "", [], {}):
            continue
        if _echoed(value, sent):
            continue  # the caller's own input, e.g. a 422 whose `input` repeats the body just sent
        if exchange.status >= 400 and _is_message(value):
            continue  # {"password": ["This field is required."]}: a message about the field
        if not SERVER_SIDE_SECRET.search(_normalise(key)) and (
                about_caller or (created and "[" not in path)):
            # The caller's own profile, or what a login, a registration or a key creation
            # answers (outside a list: a list of records is a listing of other people's).
            continue
        findings.append(RuleFinding("sensitive-field", exchange.operation, f"the response ({exchange.status}) exposes "
                                f"{path} (matches sensitive_fields)", re.sub(r"\[\d+\]", "[]", path)))
    return findings


def _is_api_description(data: Any) -> bool:
    """An OpenAPI (3.x, `openapi`) or Swagger (2.0, `swagger`) document."""
    return isinstance(data, dict) and (isinstance(data.get("openapi"), str) or isinstance(data.get("swagger"), str)) \
        and isinstance(data.get("info"), dict) and ("paths" in data or "components" in data or "webhooks" in data)


def _sent_values(exchange: Exchange) -> set[str]:
    """Every value the caller sent: body and query values, header values, and the credential part
    of `Authorization: Bearer X` and of each `Cookie` pair."""
    values: set[str] = set()
    if exchange.request_body:
        body = exchange.request_body.decode("utf-8", "replace")
        try:
            values.update(_scalars(json.loads(body)))
        except ValueError:
            values.update(value for _, value in parse_qsl(body, keep_blank_values=False))
    url = urlsplit(exchange.url)
    values.update(value for _, value in parse_qsl(url.query))
    values.update(unquote(segment) for segment in url.path.split("/"))  # GET /keys/{key}
    for name, value in exchange.request_headers:
        values.add(value)
        if name.lower() == "authorization":
            values.add(value.partition(" ")[2].strip())
        elif name.lower() == "cookie":
            values.update(part.partition("=")[2].strip() for part in value.split(";"))
    values.discard("")
    return values


def _scalars(data: Any) -> Iterator[str]:
    """The scalar leaves of a JSON value, as text (`7` and `"7"` alike)."""
    if isinstance(data, dict):
        for value in data.values():
            yield from _scalars(value)
    elif isinstance(data, list):
        for value in data:
            yield from _scalars(value)
    elif data is not None:
        yield data if isinstance(data, str) else json.dumps(data)


def _echoed(value: Any, sent: set[str]) -> bool:
    leaves = list(_scalars(value))
    return bool(leaves) and all(leaf in sent for leaf in leaves)


def _is_message(value: Any) -> bool:
    """Text for a person (`"This field is required."`), or a list or object of such texts."""
    if isinstance(value, str):
        return bool(PROSE.search(value)) and "-----BEGIN" not in value  # a PEM key has words too
    if isinstance(value, (list, dict)):
        items = list(value.values()) if isinstance(value, dict) else value
        return bool(items) and all(_is_message(item) for item in items)
    return False


def _about_the_caller(exchange: Exchange) -> bool:
    """`GET /users/me`, `PATCH /account/...`: the operation is about the caller itself."""
    path = exchange.operation.partition(" ")[2] or urlsplit(exchange.url).path
    return any(_normalise(segment) in SELF_SEGMENTS for segment in path.split("/"))


def _deletes_cookie(set_cookie: str) -> bool:
    """A Set-Cookie that removes the cookie: an empty value, `Max-Age` <= 0 or an `Expires` in the past
    (Starlette's `delete_cookie`, Flask's `delete_cookie`, Django's `delete_cookie`)."""
    pair, *parts = set_cookie.split(";")
    if pair.partition("=")[2].strip() in ("", '""'):
        return True
    for part in parts:
        name, _, value = part.strip().partition("=")
        if name.lower() == "max-age" and re.fullmatch(r"\s*-?\d+\s*", value) and int(value) <= 0:
            return True
        if name.lower() == "expires":
            try:
                expires = parsedate_to_datetime(value.strip())
            except (TypeError, ValueError, IndexError):
                continue
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=timezone.utc)
            if expires < datetime.now(timezone.utc):
                return True
    return False


def _request_text(exchange: Exchange) -> str:
    """What the client sent, decoded: the URL (percent-decoded) and the body's strings."""
    sent = unquote_plus(exchange.url)
    if exchange.request_body:
        body = exchange.request_body.decode("utf-8", "replace")
        try:
            sent += "\n" + "\n".join(_strings(json.loads(body)))
        except ValueError:
            sent += "\n" + unquote_plus(body)
    return sent


def _injection_findings(exchange: Exchange, text: str, where: str) -> list[RuleFinding]:
    """A hostile input (hostile.py) the request carried, and what the response did with it."""
    sent = _request_text(exchange)
    findings = []
    if "html" in exchange.content_type:
        body = exchange.text()
        for payload in hostile.XSS:
            if payload in sent and payload in body:
                findings.append(RuleFinding("xss-reflected", where, f"the HTML response ({exchange.status}) echoes the "
                                        f"input {payload!r} unescaped", "reflected"))
                break
    # A hostile value with a quote that ends in SQL error text: the value reached the SQL text
    # unescaped (error-based injection). A bare 5xx proves nothing on its own (any bug gives one);
    # the injection probe confirms those with a quote-balanced twin (security_probes.py).
    sql_error = _first_match(text, SQL_ERRORS)
    if sql_error:
        for payload in hostile.ALL:
            if payload in sent and ("'" in payload or '"' in payload):
                findings.append(RuleFinding("sqli-error", where, f"the input {payload!r} produced {sql_error[0]} error "
                                        "text: the value reaches the SQL text (error-based injection)",
                                        "error-based"))
                break
    return findings


# An origin no real allowlist contains, sent by the CORS probe.
PROBE_ORIGIN_HOST = "backend-gates-probe.invalid"
PROBE_ORIGIN = f"https://{PROBE_ORIGIN_HOST}"
