"""Storage, models and HTTP plumbing shared by ``users_fastapi_buggy`` and ``users_fastapi_fixed``.

Nothing in this module is seeded with a defect: the two twins differ only in
their route handlers and app setup, so ``diff users_fastapi_buggy.py
users_fastapi_fixed.py`` shows exactly the defects and their fixes.

The service: people sign up (``POST /users``), log in (``POST /login``, a JSON
or an HTML-form body; the session is a cookie), look at a public profile
(``GET /users/{user_id}``) and search the shared notes board
(``GET /notes/search?q=``, an HTML page). A few demo users and notes are
seeded into every new database.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import platform
import re
import secrets
import sqlite3
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path

__version__ = "1.4.2"
SERVER_SOFTWARE = f"notes-api/{__version__} (Python {platform.python_version()})"

# Largest id the API accepts: 2**53 - 1, the largest integer every JSON reader
# (JavaScript's Number included) holds exactly. SQLite's own limit, 2**63 - 1,
# is not a safe bound to publish: read back as a double it rounds up past itself.
MAX_ID = 2**53 - 1
SESSION_TTL = 8 * 3600  # seconds
LOGIN_ATTEMPTS = 5  # per username ...
LOGIN_WINDOW = 60.0  # ... per this many seconds
SEARCH_LIMIT = 50
# The single-page frontend; the only origin allowed to call the API with the session cookie.
FRONTEND_ORIGINS = ["https://notes.example.com"]

# Lower-case letter, then letters, digits or "_": "alice", "bob_2". ASCII classes
# spelled out: \w and \d mean different things to ECMA-262, Python and Rust.
Username = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{2,31}$", examples=["carol"])]
Password = Annotated[str, Field(min_length=8, max_length=128, examples=["correct horse battery staple"])]


# ---------------------------------------------------------------- models


class SignupIn(BaseModel):
    """``POST /users``."""

    model_config = ConfigDict(strict=True, extra="forbid")

    username: Username
    password: Password


class LoginIn(BaseModel):
    """``POST /login``: not re-validated against the signup rules, any string may be tried."""

    model_config = ConfigDict(strict=True, extra="forbid")

    username: Annotated[str, Field(min_length=1, max_length=64, examples=["alice"])]
    password: Annotated[str, Field(min_length=1, max_length=128, examples=["correct horse battery staple"])]


class User(BaseModel):
    """A public profile."""

    id: int
    username: str
    created_at: datetime


class UserRecord(User):
    """A row of the ``users`` table, as the store returns it."""

    password_hash: str


class Error(BaseModel):
    detail: str


class ValidationProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrors(BaseModel):
    detail: list[ValidationProblem]


class Health(BaseModel):
    status: Literal["ok"]


Row = dict[str, Any]

# ---------------------------------------------------------------- passwords

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$<salt hex>$<key hex>``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    # surrogatepass: JSON may carry a lone surrogate ("\\ud800"), which strict UTF-8 cannot encode
    key = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)), stored)


# ---------------------------------------------------------------- storage

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id INTEGER NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    expires_at TEXT NOT NULL
);
"""

# The demo account of the docs and of the schema's examples; the other seeded users get random passwords.
DEMO_USER, DEMO_PASSWORD = "alice", "correct horse battery staple"
DEMO_NOTES = {
    "alice": [
        ("Release checklist", "Tag the build, update the changelog, announce in #releases."),
        ("Groceries", "Oat milk, coffee beans, 2 lemons."),
    ],
    "bob": [
        ("Standup", "Blocked on the release build; pairing with Alice after lunch."),
        ("Book club", "Next: 'The Pragmatic Programmer', chapters 1-3."),
    ],
}

# Notes with their author's name; the twins add the WHERE clause of the search.
NOTE_SEARCH = "SELECT n.id, n.title, n.body, u.username AS author FROM notes n JOIN users u ON u.id = n.author_id"
NOTE_ORDER = f" ORDER BY n.id DESC LIMIT {SEARCH_LIMIT}"


class UsernameTaken(Exception):
    pass


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class UserStore:
    """A private in-memory SQLite database per instance, one connection behind a lock."""

    def __init__(self, path: str = ":memory:") -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()
        if self.query("SELECT COUNT(*) AS n FROM users")[0]["n"] == 0:
            self._seed()

    def _seed(self) -> None:
        for username, notes in DEMO_NOTES.items():
            user = self.add_user(username, DEMO_PASSWORD if username == DEMO_USER else secrets.token_urlsafe(12))
            with self._tx() as conn:
                conn.executemany(
                    "INSERT INTO notes (author_id, title, body, created_at) VALUES (?, ?, ?, ?)",
                    [(user["id"], title, body, _now().isoformat()) for title, body in notes],
                )

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    def ping(self) -> None:
        self.query("SELECT 1")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        with self._tx() as conn:
            return [dict(row) for row in conn.execute(sql, params)]

    def add_user(self, username: str, password: str) -> Row:
        password_hash = hash_password(password)  # slow on purpose: outside the lock
        with self._tx() as conn:
            try:
                cur = conn.execute(
                    "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
                    (username, password_hash, _now().isoformat()),
                )
            except sqlite3.IntegrityError:
                raise UsernameTaken(username) from None
            return dict(conn.execute("SELECT * FROM users WHERE id = ?", (cur.lastrowid,)).fetchone())

    def get_user(self, user_id: int) -> Row | None:
        rows = self.query("SELECT * FROM users WHERE id = ?", (user_id,))
        return rows[0] if rows else None

    def find_user(self, username: str) -> Row | None:
        rows = self.query("SELECT * FROM users WHERE username = ?", (username,))
        return rows[0] if rows else None

    def new_session(self, user_id: int) -> str:
        """A fresh session token; only its SHA-256 is stored."""
        token = secrets.token_urlsafe(32)
        expires_at = _now() + timedelta(seconds=SESSION_TTL)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO sessions (token_sha256, user_id, expires_at) VALUES (?, ?, ?)",
                (hashlib.sha256(token.encode()).hexdigest(), user_id, expires_at.isoformat()),
            )
        return token

    def close(self) -> None:
        self._conn.close()


# ---------------------------------------------------------------- the search page

SEARCH_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Notes search</title></head>
<body>
<h1>Notes matching "{query}"</h1>
<p>{count} found</p>
<ul>
{items}
</ul>
</body>
</html>
"""


def note_items(rows: list[Row]) -> str:
    """The ``<li>`` list of a search page; note fields are user content, so escaped."""
    if not rows:
        return "<li>No notes found.</li>"
    return "\n".join(
        f"<li><strong>{html.escape(r['title'])}</strong> by {html.escape(r['author'])}: {html.escape(r['body'])}</li>"
        for r in rows
    )


# ---------------------------------------------------------------- login

_LOGIN_SCHEMA = LoginIn.model_json_schema()
LOGIN_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {"schema": _LOGIN_SCHEMA},
        "application/x-www-form-urlencoded": {"schema": _LOGIN_SCHEMA},
    },
}


async def login_credentials(request: Request) -> LoginIn:
    """The ``LoginIn`` of a JSON or an HTML-form body (without the python-multipart dependency)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("application/json", "application/x-www-form-urlencoded"):
        raise HTTPException(415, "send application/json or application/x-www-form-urlencoded")
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
        if media_type == "application/json":
            payload: Any = json.loads(text)
        else:
            fields = urllib.parse.parse_qs(text, keep_blank_values=True)
            if any(len(values) > 1 for values in fields.values()):
                raise ValueError("a field is repeated")
            payload = {name: values[0] for name, values in fields.items()}
    except ValueError:  # also UnicodeDecodeError and json.JSONDecodeError
        raise HTTPException(400, "body could not be parsed") from None
    try:
        return LoginIn.model_validate(payload)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None


class AttemptLimiter:
    """At most ``limit`` attempts per key in any ``window`` seconds (sliding window, in memory)."""

    def __init__(self, limit: int = LOGIN_ATTEMPTS, window: float = LOGIN_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> int | None:
        """Count an attempt for ``key``; ``None`` if allowed, else the seconds until the next one is."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, int(hits[0] + self.window - now + 1))
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle keys
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
            return None


# ---------------------------------------------------------------- HTTP plumbing


async def validation_errors(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422, without echoing the offending input back: that input may be a password."""
    errors = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


_OPENAPI_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _allow_table(app: FastAPI) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    table = getattr(app.state, "allow_table", None)
    if table is None:
        table = [
            (compile_path(template)[0], frozenset(m.upper() for m in operations if m in _OPENAPI_METHODS))
            for template, operations in app.openapi().get("paths", {}).items()
        ]
        app.state.allow_table = table
    return table


async def method_not_allowed(request: Request, exc: StarletteHTTPException) -> Response:
    """A 405 whose ``Allow`` lists every documented method of the path, not only the first route's.

    FastAPI makes one route per decorator, and Starlette's 405 names the methods
    of the first one whose path matched (see examples/contract/_allow_header.py).
    """
    methods = {m for pattern, allowed in _allow_table(request.app) if pattern.match(request.url.path) for m in allowed}
    if methods:
        exc.headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(methods))}
    return await http_exception_handler(request, exc)


def install_error_plumbing(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_errors)  # type: ignore[arg-type]
    app.add_exception_handler(405, method_not_allowed)  # type: ignore[arg-type]


CREATED: dict[int | str, dict[str, Any]] = {
    201: {"headers": {"Location": {"description": "URL of the new user", "required": True, "schema": {"type": "string"}}}}
}
LOGGED_IN: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Logged in: the session token is in the ``session`` cookie",
        "headers": {"Set-Cookie": {"required": True, "schema": {"type": "string"}}},
    }
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Error, "description": "No user with this id"}}
# FastAPI answers 400 (not 422) to a body it cannot even decode (e.g. invalid UTF-8).
BAD_BODY: dict[int | str, dict[str, Any]] = {400: {"model": Error, "description": "Body could not be parsed"}}
