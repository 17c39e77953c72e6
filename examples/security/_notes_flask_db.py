"""Storage, request parsing and error plumbing shared by the two Flask notes twins.

Nothing in this module is seeded with a defect: ``notes_flask_buggy.py`` and
``notes_flask_fixed.py`` differ only where the defects are. The request parsers
mirror ``notes_flask_openapi.yaml`` rule for rule (a hand-written validator that
is looser than the document fails ``negative_data_rejection``, a stricter one
``positive_data_acceptance``; see examples/contract/README.md, lesson 9).

The service is an internal notes board behind the company's API gateway, which
authenticates callers: ``GET /notes`` (search and paging), ``GET /notes/{id}``,
``GET``/``PATCH /users/{id}`` (profiles). Every new database is seeded with a few
users and notes.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, send_file
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

SPEC_PATH = Path(__file__).with_name("notes_flask_openapi.yaml")

MAX_ID = 2**53 - 1  # the documented maximum: JSON-safe, and inside SQLite's 64-bit range
MAX_LIMIT = 100
MAX_OFFSET = 1_000_000
MAX_QUERY = 100
MAX_NAME = 80
MAX_BIO = 500
ROLES = ("member", "moderator", "admin")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    bio TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT 'member',   -- member | moderator | admin
    api_key TEXT NOT NULL,                 -- for scripts calling the API directly
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id INTEGER NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

DEMO = [
    ("Alice Example", "Release manager.", "admin", [
        ("Release checklist", "Tag the build, update the changelog, announce in #releases."),
        ("Groceries", "Oat milk, coffee beans, 2 lemons."),
    ]),
    ("Bob Example", "Backend, mostly.", "member", [
        ("Standup", "Blocked on the release build; pairing with Alice after lunch."),
        ("Book club", "Next: 'The Pragmatic Programmer', chapters 1-3."),
    ]),
]

Row = dict[str, Any]


class ValidationError(ValueError):
    """The request does not match the OpenAPI document (answered 400)."""


# ---------------------------------------------------------------- request parsing

# Not bare int(): that also takes " 7", "+7", "7_000" and "٧", and raises ValueError (a 500)
# past 4300 digits. 18 significant digits is beyond every bound used here.
_INT = re.compile(r"-?0*[0-9]{1,18}")


def _query_int(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    if not _INT.fullmatch(raw) or not low <= int(raw) <= high:
        raise ValidationError(f"{name} must be an integer from {low} to {high}")
    return int(raw)


def parse_list_args(args: Mapping[str, str]) -> tuple[str | None, int, int]:
    """``(q, limit, offset)`` from the query string of ``GET /notes``."""
    q = args.get("q")
    if q is not None and not 1 <= len(q) <= MAX_QUERY:
        raise ValidationError(f"q must be 1 to {MAX_QUERY} characters")
    return q, _query_int(args, "limit", 20, 1, MAX_LIMIT), _query_int(args, "offset", 0, 0, MAX_OFFSET)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME:
        raise ValidationError(f"name must be a string of 1 to {MAX_NAME} characters")
    return value


def _bio(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_BIO:
        raise ValidationError(f"bio must be a string of at most {MAX_BIO} characters")
    return value


def _role(value: Any) -> str:
    if value not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}")
    return value


# A validator for every column of ``users`` that can be written through the API layer.
USER_FIELDS = {"name": _name, "bio": _bio, "role": _role}
# What people may change on their own profile (the document's ``UserUpdate``).
PROFILE_FIELDS = frozenset({"name", "bio"})


def parse_user_update(payload: Any, allowed: Collection[str]) -> dict[str, Any]:
    """The changes in a ``PATCH /users/{id}`` body; ``payload`` is the decoded JSON, or None."""
    if not isinstance(payload, dict):
        raise ValidationError("the body must be a JSON object")
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        raise ValidationError(f"unknown or read-only fields: {', '.join(unknown)}")
    return {name: USER_FIELDS[name](value) for name, value in payload.items()}


# ---------------------------------------------------------------- storage

NOTE_COLUMNS = "n.id, n.author_id, n.title, n.body, n.created_at"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class NotesStore:
    """A private in-memory SQLite database per instance, one connection behind a lock."""

    def __init__(self, path: str = ":memory:") -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()
        with self._tx() as conn:
            if conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0:
                self._seed(conn)

    @staticmethod
    def _seed(conn: sqlite3.Connection) -> None:
        for name, bio, role, notes in DEMO:
            cur = conn.execute(
                "INSERT INTO users (name, bio, role, api_key, created_at) VALUES (?, ?, ?, ?, ?)",
                (name, bio, role, "nk_" + secrets.token_hex(16), _now()),
            )
            conn.executemany(
                "INSERT INTO notes (author_id, title, body, created_at) VALUES (?, ?, ?, ?)",
                [(cur.lastrowid, title, body, _now()) for title, body in notes],
            )

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    def ping(self) -> None:
        with self._tx() as conn:
            conn.execute("SELECT 1")

    def list_notes(self, where: str, params: tuple[Any, ...], limit: int, offset: int) -> tuple[list[Row], int]:
        """A page of notes, newest first, and the total; ``where`` is a SQL condition over ``n`` or ''."""
        clause = f" WHERE {where}" if where else ""
        with self._tx() as conn:
            total = conn.execute("SELECT COUNT(*) FROM notes n" + clause, params).fetchone()[0]
            rows = conn.execute(
                f"SELECT {NOTE_COLUMNS} FROM notes n{clause} ORDER BY n.id DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
            return [dict(row) for row in rows], total

    def get_note(self, note_id: int) -> Row | None:
        if not 1 <= note_id <= MAX_ID:  # cannot exist; past 2**63 - 1 the driver would raise OverflowError
            return None
        with self._tx() as conn:
            row = conn.execute(f"SELECT {NOTE_COLUMNS} FROM notes n WHERE n.id = ?", (note_id,)).fetchone()
            return dict(row) if row is not None else None

    def users_by_id(self, ids: Collection[int]) -> dict[int, Row]:
        """Whole ``users`` rows, by id (one query for a page of notes)."""
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        with self._tx() as conn:
            rows = conn.execute(f"SELECT * FROM users WHERE id IN ({marks})", tuple(ids))
            return {row["id"]: dict(row) for row in rows}

    def get_user(self, user_id: int) -> Row | None:
        if not 1 <= user_id <= MAX_ID:
            return None
        return self.users_by_id([user_id]).get(user_id)

    def update_user(self, user_id: int, changes: Mapping[str, Any]) -> None:
        """Set the columns named in ``changes``: at least one, each a key of ``USER_FIELDS``."""
        columns = [name for name in USER_FIELDS if name in changes]
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._tx() as conn:
            conn.execute(f"UPDATE users SET {assignments} WHERE id = ?", (*(changes[c] for c in columns), user_id))

    def close(self) -> None:
        self._conn.close()


def user_json(row: Row) -> dict[str, Any]:
    """A profile as documented (``User``)."""
    return {k: row[k] for k in ("id", "name", "bio", "role", "created_at")}


# ---------------------------------------------------------------- HTTP plumbing


class IdConverter(IntegerConverter):
    """``<id:note_id>``: at most 19 ASCII digits, else the route does not match (404).

    Werkzeug's ``int`` converter matches any run of ``\\d`` (Unicode digits too)
    and calls ``int()`` on it, which raises ValueError past Python's 4300-digit
    limit. Its ``min=``/``max=`` options are no way out: when they reject a value,
    Werkzeug answers 405 instead of 404 (examples/contract/README.md, lesson 5).
    19 digits still reach past SQLite's 2**63 - 1: the store checks the range.
    """

    regex = r"[0-9]{1,19}"


def json_http_errors(app: Flask) -> None:
    """Answer Werkzeug's own errors (404, 405, 400 ...) in JSON, keeping their headers (``Allow``)."""

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        response = jsonify(error=exc.description or exc.name)
        response.status_code = exc.code or 500
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response


def serve_spec(app: Flask) -> None:
    @app.get("/openapi.yaml")
    def openapi_document() -> Response:
        return send_file(SPEC_PATH, mimetype="application/yaml")
