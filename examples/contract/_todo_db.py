"""Storage, request parsing and error plumbing shared by the two Flask todo twins.

Nothing in this module is seeded with a defect: ``todo_flask_buggy.py`` and
``todo_flask_fixed.py`` differ only where the defects are. The request parsers
mirror ``todo_openapi.yaml`` rule for rule -- a hand-written validator that is
looser than the document fails ``negative_data_rejection``, a stricter one fails
``positive_data_acceptance``.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, send_file
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

SPEC_PATH = Path(__file__).with_name("todo_openapi.yaml")

MAX_TITLE = 200
MAX_LIMIT = 100
MAX_OFFSET = 1_000_000
DEFAULT_PRIORITY = 3
MAX_ID = 2**63 - 1  # SQLite INTEGER range

SCHEMA = """
CREATE TABLE IF NOT EXISTS todos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    slug TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,       -- SQLite has no boolean type: 0 / 1
    priority INTEGER NOT NULL,
    due TEXT,                              -- ISO date or NULL
    created_at TEXT NOT NULL
);
"""

Row = dict[str, Any]


class ValidationError(ValueError):
    """The request does not match the OpenAPI document."""


# ---------------------------------------------------------------- request parsing

# Not bare int(): that also takes " 7", "+7", "7_000" and "٧", and raises ValueError (a 500)
# past 4300 digits. 18 significant digits is beyond every bound used here.
_INT = re.compile(r"-?0*[0-9]{1,18}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # not just fromisoformat(): 3.11 also takes "20240101"


def _query_int(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    if not _INT.fullmatch(raw) or not low <= int(raw) <= high:
        raise ValidationError(f"{name} must be an integer from {low} to {high}")
    return int(raw)


def parse_list_args(args: Mapping[str, str]) -> tuple[bool | None, int, int]:
    """``(done, limit, offset)`` from the query string of ``GET /todos``."""
    done = args.get("done")
    if done not in (None, "true", "false"):
        raise ValidationError("done must be true or false")
    return (
        None if done is None else done == "true",
        _query_int(args, "limit", 20, 1, MAX_LIMIT),
        _query_int(args, "offset", 0, 0, MAX_OFFSET),
    )


def _title(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TITLE:
        raise ValidationError(f"title must be a string of 1 to {MAX_TITLE} characters")
    return value


def _priority(value: Any) -> int:
    # bool is a subclass of int in Python, but `true` is not an integer in JSON
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
        raise ValidationError("priority must be an integer from 1 to 5")
    return value


def _due(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ValidationError("due must be a date (YYYY-MM-DD) or null")


def _done(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("done must be true or false")
    return value


_FIELDS = {"title": _title, "priority": _priority, "due": _due, "done": _done}


def _parse_object(payload: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ValidationError("the body must be a JSON object")
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise ValidationError(f"unknown fields: {', '.join(unknown)}")
    return {name: _FIELDS[name](value) for name, value in payload.items()}


def parse_create(payload: Any) -> dict[str, Any]:
    """Fields of a new todo from a ``TodoCreate`` body (``payload`` is the decoded JSON, or None)."""
    fields = _parse_object(payload, {"title", "priority", "due"})
    if "title" not in fields:
        raise ValidationError("title is required")
    return {"priority": DEFAULT_PRIORITY, "due": None, **fields}


def parse_update(payload: Any) -> dict[str, Any]:
    """Fields to change from a ``TodoUpdate`` body; an empty object changes nothing."""
    return _parse_object(payload, {"title", "done", "priority", "due"})


# ---------------------------------------------------------------- storage


class TodoStore:
    """A private in-memory SQLite database per instance, one connection behind a lock."""

    def __init__(self, path: str = ":memory:") -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    def ping(self) -> None:
        with self._tx() as conn:
            conn.execute("SELECT 1")

    def add(self, title: str, slug: str, priority: int, due: str | None) -> Row:
        created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO todos (title, slug, priority, due, created_at) VALUES (?, ?, ?, ?, ?)",
                (title, slug, priority, due, created_at),
            )
            return dict(conn.execute("SELECT * FROM todos WHERE id = ?", (cur.lastrowid,)).fetchone())

    def get(self, todo_id: int) -> Row | None:
        if not 1 <= todo_id <= MAX_ID:  # cannot exist; the driver would raise OverflowError
            return None
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM todos WHERE id = ?", (todo_id,)).fetchone()
            return dict(row) if row is not None else None

    def update(self, todo_id: int, changes: dict[str, Any]) -> Row | None:
        if not 1 <= todo_id <= MAX_ID:
            return None
        columns = [name for name in ("title", "slug", "done", "priority", "due") if name in changes]
        with self._tx() as conn:
            if columns:
                assignments = ", ".join(f"{name} = ?" for name in columns)
                conn.execute(
                    f"UPDATE todos SET {assignments} WHERE id = ?", (*(changes[c] for c in columns), todo_id)
                )
            row = conn.execute("SELECT * FROM todos WHERE id = ?", (todo_id,)).fetchone()
            return dict(row) if row is not None else None

    def search(self, done: bool | None, limit: int, offset: int) -> tuple[list[Row], int]:
        where, args = ("", ()) if done is None else (" WHERE done = ?", (int(done),))
        with self._tx() as conn:
            total = conn.execute("SELECT COUNT(*) FROM todos" + where, args).fetchone()[0]
            rows = conn.execute(
                "SELECT * FROM todos" + where + " ORDER BY id DESC LIMIT ? OFFSET ?", (*args, limit, offset)
            )
            return [dict(row) for row in rows], total

    def delete(self, todo_id: int) -> bool:
        if not 1 <= todo_id <= MAX_ID:
            return False
        with self._tx() as conn:
            return conn.execute("DELETE FROM todos WHERE id = ?", (todo_id,)).rowcount > 0

    def close(self) -> None:
        self._conn.close()


# ---------------------------------------------------------------- HTTP plumbing


class IdConverter(IntegerConverter):
    """``<id:todo_id>``: at most 19 ASCII digits, else the route does not match (404).

    Werkzeug's ``int`` converter matches any run of ``\\d`` (Unicode digits too)
    and calls ``int()`` on it, which raises ValueError -- a 500 -- past Python's
    4300-digit limit. Its ``min=``/``max=`` options are no way out: when they
    reject a value, Werkzeug goes on to the routes of the other methods and
    answers 405 instead of 404. The store checks the SQLite range instead.
    """

    regex = r"[0-9]{1,19}"


def json_http_errors(app: Flask) -> None:
    """Answer Werkzeug's own errors (404 for an unknown URL or a non-integer id, 405, 400 ...) in JSON.

    The document promises ``application/json`` for 404 and 400; Flask's default
    pages are HTML, which ``content_type_conformance`` reports. The original
    headers are kept, notably ``Allow`` on a 405.
    """

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
