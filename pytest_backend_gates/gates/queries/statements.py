"""Executed SQL statements: their shape (the one normalization rule, docs/queries.md), the
log a window or a request fills (`QueryLog`), and where a statement comes from in the project's
code (`_origin`)."""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any

from pytest_backend_gates.location import PACKAGE_DIR

# --------------------------------------------------------------------------
# Statement shape (the one normalization rule, docs/queries.md)
# --------------------------------------------------------------------------

_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_STRING = re.compile(r"[xXeEnNbB]?'(?:[^']|'')*'")
_PLACEHOLDER = re.compile(r"%\(\w+\)s|%s|\$\d+|(?<![:\w]):\w+|\?")
_NUMBER = re.compile(r"(?<![\w.$\"])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w\"])")
_IN_LIST = re.compile(r"\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", re.I)
_TUPLE = r"\(\s*\?(?:\s*,\s*\?)*\s*\)"
_VALUES = re.compile(rf"\bVALUES\s*({_TUPLE})(?:\s*,\s*{_TUPLE})+", re.I)
_SPACE = re.compile(r"\s+")
_TRANSACTION = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|END|SAVEPOINT|RELEASE)\b", re.I)
SHAPE_LIMIT = 300  # characters of a shape kept for display
SQL_LIMIT = 1000  # characters of a statement kept


def statement_shape(sql: str) -> str:
    """`SELECT * FROM books WHERE author_id = 7` -> `SELECT * FROM books WHERE author_id = ?`.

    Comments dropped; string and number literals and every placeholder style (`?`, `%s`,
    `%(name)s`, `:name`, `$1`) become `?`; `IN (?, ?, ?)` becomes `IN (?)` and a multi-row
    `VALUES (?, ?), (?, ?)` one row; whitespace collapsed. Two statements have the same shape
    when their shapes are equal ignoring case (`shape_key`).
    """
    text = _COMMENT.sub(" ", sql)
    text = _STRING.sub("?", text)
    text = _PLACEHOLDER.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _IN_LIST.sub("IN (?)", text)
    text = _VALUES.sub(lambda m: f"VALUES {m.group(1)}", text)
    return _SPACE.sub(" ", text).strip().rstrip(";").strip()


def shape_key(shape: str) -> str:
    return shape.casefold()


def is_transaction_control(sql: str) -> bool:
    """BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE: the drivers' own bookkeeping, not counted."""
    return _TRANSACTION.match(sql) is not None


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------
# What is recorded
# --------------------------------------------------------------------------


class Statement:
    """One executed statement. Its shape is computed when first asked for (grouping, judging),
    not while the application runs."""

    __slots__ = ("sql", "source", "origin", "thread", "_shape")

    def __init__(self, sql: str, source: str, origin: str | None, thread: str) -> None:
        self.sql = sql
        self.source = source  # "sqlalchemy", "sqlite3", "psycopg", "django", "dbapi"
        self.origin = origin  # "app/views.py:42" - the innermost frame in the project's code
        self.thread = thread
        self._shape: str | None = None

    @property
    def shape(self) -> str:
        if self._shape is None:
            self._shape = _cached_shape(self.sql)
        return self._shape

    def __repr__(self) -> str:
        return f"Statement({self.sql!r}, source={self.source!r}, origin={self.origin!r})"


@functools.lru_cache(maxsize=4096)
def _cached_shape(sql: str) -> str:
    return shorten(statement_shape(sql), SHAPE_LIMIT)


@dataclass(frozen=True)
class ShapeGroup:
    shape: str
    count: int
    first_index: int  # 1-based number of its first statement
    origin: str | None
    example: str


class QueryLog:
    """The statements one window or request saw; safe to fill from many threads."""

    KEEP = 5000  # statements kept in full; beyond, only counted

    def __init__(self, project_root: str | None = None) -> None:
        self.project_root = project_root
        self.entries: list[Statement] = []
        self._lock = threading.Lock()
        self._dropped = 0

    def add(self, statement: Statement) -> None:
        with self._lock:
            if len(self.entries) < self.KEEP:
                self.entries.append(statement)
            else:
                self._dropped += 1

    @property
    def count(self) -> int:
        return len(self.entries) + self._dropped

    def groups(self) -> list[ShapeGroup]:
        """Statements grouped by shape, most frequent first (then in order of appearance)."""
        seen: dict[str, list[Any]] = {}
        for index, statement in enumerate(list(self.entries), start=1):
            key = shape_key(statement.shape)
            group = seen.get(key)
            if group is None:
                seen[key] = [statement.shape, 1, index, statement.origin, statement.sql]
            else:
                group[1] += 1
                group[3] = group[3] or statement.origin
        groups = [ShapeGroup(shape=g[0], count=g[1], first_index=g[2], origin=g[3], example=g[4]) for g in seen.values()]
        return sorted(groups, key=lambda g: (-g.count, g.first_index))


# --------------------------------------------------------------------------
# Where a statement comes from
# --------------------------------------------------------------------------

_LIBRARY_MARKERS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")


def _origin(root: str | None) -> str | None:
    """The innermost frame in the project's code (under rootdir, not a library, not this plugin).

    SQLAlchemy's asyncio layer runs the statement in a greenlet of its own, whose stack ends
    in SQLAlchemy: the app's coroutines are on the stack of the greenlet that waits for it
    (its parent, suspended where it switched), so the search goes on there."""
    if root is None:
        return None
    root = root.rstrip(os.sep) + os.sep
    frame: Any = sys._getframe(1)
    depth = 0
    while frame is not None and depth < 80:  # (inlined _project_frame: this runs for every statement)
        filename = frame.f_code.co_filename
        if (filename.startswith(root) and not filename.startswith(PACKAGE_DIR)
                and not any(marker in filename for marker in _LIBRARY_MARKERS)):
            return f"{os.path.relpath(filename, root)}:{frame.f_lineno}"
        frame = frame.f_back
        depth += 1
    found = None
    if "greenlet" in sys.modules:
        current = sys.modules["greenlet"].getcurrent()
        for _ in range(4):  # nested greenlets: a few levels are plenty
            current = current.parent
            if current is None:
                break
            found = _project_frame(current.gr_frame, root)
            if found is not None:
                break
    return found


def _project_frame(frame: Any, root: str) -> str | None:
    depth = 0
    while frame is not None and depth < 80:
        filename = frame.f_code.co_filename
        if (filename.startswith(root) and not filename.startswith(PACKAGE_DIR)
                and not any(marker in filename for marker in _LIBRARY_MARKERS)):
            return f"{os.path.relpath(filename, root)}:{frame.f_lineno}"
        frame = frame.f_back
        depth += 1
    return None
