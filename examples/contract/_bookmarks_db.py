"""Storage and models shared by ``bookmarks_buggy`` and ``bookmarks_fixed``.

Nothing in this module is seeded with a defect: the two twins differ only in
their route handlers, so ``diff bookmarks_buggy.py bookmarks_fixed.py`` shows
exactly the defects and their fixes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_ID = 2**63 - 1  # SQLite INTEGER range; larger ids would raise OverflowError in the driver
MAX_OFFSET = 1_000_000
MAX_TAGS = 10

# Tags are lower-case slugs: "python", "web-dev".
Tag = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9-]*$", examples=["python"])]
# An http(s) URL with a plain host name, an optional port, then any printable ASCII.
# Classes are spelled out: `\s`, `\d` or `\w` mean different things to the schema's
# ECMA-262 readers, Python's `re` and pydantic's Rust engine (is U+0085 a space?).
URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!-~]*)?$"
Url = Annotated[str, Field(min_length=8, max_length=2048, pattern=URL_PATTERN, examples=["https://example.com/"])]
Title = Annotated[str, Field(min_length=1, max_length=200, examples=["Example Domain"])]

SCHEMA = """
CREATE TABLE IF NOT EXISTS bookmarks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    created_at INTEGER NOT NULL            -- unix epoch seconds
);
CREATE TABLE IF NOT EXISTS bookmark_tags (
    bookmark_id INTEGER NOT NULL REFERENCES bookmarks(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (bookmark_id, tag)
);
CREATE INDEX IF NOT EXISTS bookmark_tags_by_tag ON bookmark_tags(tag);
"""

# One row per bookmark; tags come back comma-joined (or NULL when there are none).
SELECT = """
SELECT b.id, b.url, b.title, b.created_at,
       (SELECT GROUP_CONCAT(tag, ',') FROM bookmark_tags t WHERE t.bookmark_id = b.id) AS tags
FROM bookmarks b
"""


class BookmarkIn(BaseModel):
    """What a client sends to save a bookmark."""

    model_config = ConfigDict(strict=True, extra="forbid")

    url: Url
    title: Title
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] = []


class Bookmark(BaseModel):
    id: int
    url: str
    title: str
    tags: list[str]
    created_at: datetime


class BookmarkPage(BaseModel):
    items: list[Bookmark]
    total: int
    limit: int
    offset: int
    pages: int


class Error(BaseModel):
    detail: str


class Health(BaseModel):
    status: Literal["ok"]


class DuplicateUrl(Exception):
    """A bookmark with this URL already exists."""

    def __init__(self, existing_id: int) -> None:
        super().__init__(existing_id)
        self.existing_id = existing_id


Row = dict[str, Any]


def to_api(row: Row) -> Row:
    """Turn a storage row into the documented ``Bookmark`` shape (JSON-ready)."""
    return {
        "id": row["id"],
        "url": row["url"],
        "title": row["title"],
        "tags": sorted(row["tags"].split(",")) if row["tags"] else [],
        "created_at": datetime.fromtimestamp(row["created_at"], tz=timezone.utc).isoformat(),
    }


class BookmarkStore:
    """A private in-memory SQLite database per instance, one connection behind a lock."""

    def __init__(self, path: str = ":memory:") -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    def ping(self) -> None:
        with self._tx() as conn:
            conn.execute("SELECT 1")

    def add(self, url: str, title: str, tags: list[str]) -> Row:
        with self._tx() as conn:
            existing = conn.execute("SELECT id FROM bookmarks WHERE url = ?", (url,)).fetchone()
            if existing is not None:
                raise DuplicateUrl(existing["id"])
            cur = conn.execute(
                "INSERT INTO bookmarks (url, title, created_at) VALUES (?, ?, ?)", (url, title, int(time.time()))
            )
            conn.executemany(
                "INSERT OR IGNORE INTO bookmark_tags (bookmark_id, tag) VALUES (?, ?)",
                [(cur.lastrowid, tag) for tag in tags],
            )
            return dict(conn.execute(SELECT + " WHERE b.id = ?", (cur.lastrowid,)).fetchone())

    def get(self, bookmark_id: int) -> Row | None:
        with self._tx() as conn:
            row = conn.execute(SELECT + " WHERE b.id = ?", (bookmark_id,)).fetchone()
            return dict(row) if row is not None else None

    def search(self, tag: str | None, limit: int, offset: int) -> tuple[list[Row], int]:
        """A page of bookmarks (newest first), optionally only those carrying ``tag``, and the total count."""
        where, args = "", ()
        if tag is not None:
            where, args = " WHERE b.id IN (SELECT bookmark_id FROM bookmark_tags WHERE tag = ?)", (tag,)
        with self._tx() as conn:
            total = conn.execute("SELECT COUNT(*) FROM bookmarks b" + where, args).fetchone()[0]
            rows = conn.execute(SELECT + where + " ORDER BY b.id DESC LIMIT ? OFFSET ?", (*args, limit, offset))
            return [dict(row) for row in rows], total

    def delete(self, bookmark_id: int) -> bool:
        with self._tx() as conn:
            return conn.execute("DELETE FROM bookmarks WHERE id = ?", (bookmark_id,)).rowcount > 0

    def close(self) -> None:
        self._conn.close()
