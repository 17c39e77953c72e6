"""One count per statement when two hooks see it: an outer hook (SQLAlchemy's listener, Django's
execute wrapper) claims the text of the statement it counted while it runs, and a driver hook
underneath that sees a claimed text does not count it again (`_Claims`)."""

from __future__ import annotations

import threading


class _Claims:
    """Statements an outer hook has counted and that are still running: one count per statement.

    SQLAlchemy's listener (and Django's execute wrapper) sees a statement before the driver
    does. When that driver is one a hook of ours also sees - the sqlite3 connection under
    aiosqlite (opened by `aiosqlite.core`, in aiosqlite's own thread), a connection passed
    to `creator=`, a watched psycopg connection under SQLAlchemy - the statement reaches us
    twice, and for aiosqlite in another thread, so nothing thread- or context-local links
    the two sightings. The outer hook counts it and claims its text until it returns; an
    inner sighting of a text with more claims running than sightings seen takes one and is
    not counted. An outer statement whose driver we do not hook (asyncpg, aiomysql) leaves
    nothing behind: its claim ends with it.

    Per text, `running` claims and how many of them an inner hook has `seen`. When a claim
    ends, its sighting (if any) ended with it: the common case, a hooked driver, is exact;
    only an unhooked and a hooked driver running the same text at the same moment can
    misattribute one statement.
    """

    LIMIT = 1024  # claims whose end was never seen (a statement that failed) are dropped past this

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open: dict[int, str] = {}  # token (a SQLAlchemy connection, a Django execution) -> text, oldest first
        self._running: dict[str, int] = {}
        self._seen: dict[str, int] = {}

    def claim(self, token: int, sql: str) -> None:
        with self._lock:
            if token in self.open:  # the connection's previous statement failed: it is over
                self._end(token)
            self.open[token] = sql
            self._running[sql] = self._running.get(sql, 0) + 1
            if len(self.open) > self.LIMIT:
                self._end(next(iter(self.open)))

    def end(self, token: int) -> None:
        if token not in self.open:  # the common case, no lock: nothing was claimed
            return
        with self._lock:
            self._end(token)

    def _end(self, token: int) -> None:
        sql = self.open.pop(token, None)
        if sql is None:
            return
        running = self._running[sql] - 1
        seen = max(0, min(self._seen.get(sql, 0) - 1, running))
        if running:
            self._running[sql] = running
        else:
            del self._running[sql]
        if seen:
            self._seen[sql] = seen
        else:
            self._seen.pop(sql, None)

    def taken(self, sql: str) -> bool:
        """An inner hook sees `sql`: True when an outer hook counted it already."""
        if not self._running:  # no statement of an outer hook is running: nothing to look up
            return False
        with self._lock:
            running = self._running.get(sql, 0)
            seen = self._seen.get(sql, 0)
            if running > seen:
                self._seen[sql] = seen + 1
                return True
            return False
