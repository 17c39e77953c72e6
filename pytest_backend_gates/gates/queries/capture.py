"""Counting the SQL statements this process executes, through the drivers' public hooks.

What is seen (docs/queries.md):
- SQLAlchemy: a `before_cursor_execute` listener on the `Engine` class, so every engine,
  also one created later, is counted (one statement per cursor execute; executemany is one).
- sqlite3: connections opened while counting (`sqlite3.connect` is wrapped while anything
  counts) are made with a counting subclass of their connection class (connect's public
  `factory=`), whose execute/executemany/executescript and cursors record each statement;
  `watch(conn)` attaches one opened before with `Connection.set_trace_callback`.
  Connections SQLAlchemy opens are left to its listener (no double count).
- A statement is counted once whoever sees it: the outer hook (SQLAlchemy's listener,
  Django's wrapper) counts it and claims its text while it runs; a driver hook underneath
  (the sqlite3 connection aiosqlite runs in its own thread, a watched psycopg connection)
  that sees a claimed text does not count it again (`_Claims`).
- psycopg (3, or 2) and other DB-API connections with a `cursor_factory`: `watch(conn)`.
- Django, when it is imported and configured: `connection.execute_wrapper` on the connections
  of the thread that opened the window (other threads' Django connections are not seen).

Two kinds of sinks get the statements: windows (`query_counter` blocks, `query_budget`
tests) see every thread of the process; a request scope (the queries gate's per-request
count, opened by the in-process app wrappers in targets.py) sees the statements of its
own context: the handler, and the worker threads it hands work to with a copied context
(asyncio, anyio/Starlette's thread pool).

The hooks are process-wide by nature (SQLAlchemy's event registry, the sqlite3 module), so
they are installed once while at least one user needs them and removed when the last one
leaves; `_RECORDER` is that process-wide switchboard, and holds no session state.
"""

from __future__ import annotations

import contextvars
import functools
import os
import re
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from pytest_backend_gates.errors import UsageError
from pytest_backend_gates.location import PACKAGE_DIR
from pytest_backend_gates.service.in_flight import observe_requests

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
# The process-wide switchboard
# --------------------------------------------------------------------------

_NOT_TRACED = ("sqlalchemy.", "django.", "coverage.")  # modules whose sqlite3 connections are not traced
_LIBRARY_MARKERS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")


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


class _Recorder:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._users = 0
        self._windows: tuple[QueryLog, ...] = ()
        self.scope: contextvars.ContextVar[QueryLog | None] = contextvars.ContextVar("backend_gates_sql_scope",
                                                                                     default=None)
        self.request_listeners: tuple[Callable[[str, str, QueryLog], None], ...] = ()
        self.request_root: str | None = None  # where request statements' origins are looked for
        self._sqlalchemy = False
        self._sqlite_originals: list[tuple[Any, Callable[..., Any]]] = []
        self._django_signal = False
        self.claims = _Claims()
        # Set once a driver-level hook exists (a counting sqlite3 connection, a watched one):
        # before that no statement can be seen twice, and outer hooks claim nothing.
        self.inner_hooked = False

    # -- who needs the hooks -------------------------------------------------
    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._users == 1:
                self._wrap_sqlite_connect()
            self.refresh()

    def release(self) -> None:
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0:
                self._uninstall()

    def refresh(self) -> None:
        """Hook libraries imported since the hooks were installed (cheap when nothing is new)."""
        if self._users == 0:
            return
        if not self._sqlalchemy and "sqlalchemy.engine" in sys.modules:
            with self._lock:
                if not self._sqlalchemy:
                    from sqlalchemy import event
                    from sqlalchemy.engine import Engine

                    event.listen(Engine, "before_cursor_execute", _sqlalchemy_listener)
                    event.listen(Engine, "after_cursor_execute", _sqlalchemy_after)
                    self._sqlalchemy = True
        if not self._django_signal and "django.db" in sys.modules:
            self._hook_django()

    def open_window(self, log: QueryLog) -> None:
        self.acquire()
        with self._lock:
            self._windows = (*self._windows, log)
        _django_attach_current_thread()

    def close_window(self, log: QueryLog) -> None:
        with self._lock:
            self._windows = tuple(w for w in self._windows if w is not log)
        self.release()

    def add_request_listener(self, listener: Callable[[str, str, QueryLog], None], project_root: str | None) -> None:
        with self._lock:
            self.request_listeners = (*self.request_listeners, listener)
            self.request_root = project_root
        self.acquire()

    def remove_request_listener(self, listener: Callable[[str, str, QueryLog], None]) -> None:
        with self._lock:
            if listener not in self.request_listeners:
                return
            self.request_listeners = tuple(item for item in self.request_listeners if item != listener)
        self.release()

    # -- recording ------------------------------------------------------------
    def record(self, sql: str, source: str, inner: bool = False) -> bool:
        """Count `sql` for the open windows and the current request scope; False when nobody
        counts it. `inner`: seen by a driver hook, which an outer hook may have counted already."""
        windows = self._windows
        scoped = self.scope.get()
        if not windows and scoped is None:
            return False
        if inner and self.claims.taken(sql):
            return False
        if not isinstance(sql, str):
            sql = str(sql)
        if is_transaction_control(sql):  # BEGIN/COMMIT: the drivers' own bookkeeping
            return False
        root = scoped.project_root if scoped is not None else None
        for log in windows:
            root = root or log.project_root
        statement = Statement(shorten(sql.strip(), SQL_LIMIT), source, _origin(root), threading.current_thread().name)
        for log in windows:
            log.add(statement)
        if scoped is not None and scoped not in windows:
            scoped.add(statement)
        return True

    # -- sqlite3 --------------------------------------------------------------
    def _wrap_sqlite_connect(self) -> None:
        modules: list[Any] = [sqlite3, sqlite3.dbapi2]
        for module in modules:
            original = module.connect
            if getattr(original, "_backend_gates_wrapper", False):
                continue

            def connect(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
                caller = sys._getframe(1).f_globals.get("__name__", "")
                # SQLAlchemy's and Django's connections are counted by their own hooks;
                # coverage.py's data file is not the application's database
                if caller.startswith(_NOT_TRACED):
                    return _original(*args, **kwargs)
                return _counting_sqlite_connect(_original, args, kwargs)

            connect._backend_gates_wrapper = True  # type: ignore[attr-defined]
            connect.__wrapped__ = original  # type: ignore[attr-defined]
            connect.__doc__ = original.__doc__
            module.connect = connect
            self._sqlite_originals.append((module, original))

    def _uninstall(self) -> None:
        for module, original in self._sqlite_originals:
            if getattr(module.connect, "__wrapped__", None) is original:
                module.connect = original
        self._sqlite_originals.clear()
        if self._sqlalchemy:
            from sqlalchemy import event
            from sqlalchemy.engine import Engine

            for name, listener in (("before_cursor_execute", _sqlalchemy_listener),
                                   ("after_cursor_execute", _sqlalchemy_after)):
                if event.contains(Engine, name, listener):
                    event.remove(Engine, name, listener)
            self._sqlalchemy = False
        if self._django_signal:
            from django.db.backends.signals import connection_created

            connection_created.disconnect(dispatch_uid="backend-gates-queries")
            self._django_signal = False

    # -- django -----------------------------------------------------------------
    def _hook_django(self) -> None:
        try:
            from django.conf import settings
            from django.db.backends.signals import connection_created
        except Exception:
            return
        if not settings.configured:
            return
        with self._lock:
            if self._django_signal:
                return
            connection_created.connect(_django_connection_created, weak=False, dispatch_uid="backend-gates-queries")
            self._django_signal = True


_RECORDER = _Recorder()


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


def _sqlite_statement(sql: Any) -> None:
    if not _RECORDER._windows and _RECORDER.scope.get() is None:  # the common case, kept cheap
        return
    try:
        _RECORDER.record(sql, "sqlite3", inner=True)
    except Exception:  # noqa: S110 - never break the application's query
        pass


# sqlite3.connect(database, timeout, detect_types, isolation_level, check_same_thread, factory, ...)
_FACTORY_POSITION = 5


def _with_counting_factory(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """connect()'s arguments with `factory` replaced by a counting subclass of it.

    A connection class of our own (public `factory=` argument) rather than
    `set_trace_callback`: sqlite3 calls a trace callback while it holds the connection's
    mutex and then needs the GIL, and a thread holding the GIL that touches the same
    connection waits for that mutex: a connection shared by threads deadlocked."""
    if len(args) > _FACTORY_POSITION:
        factory: Any = args[_FACTORY_POSITION]
        if isinstance(factory, type) and issubclass(factory, sqlite3.Connection):
            args = (*args[:_FACTORY_POSITION], _counting_sqlite(cast(Any, factory)), *args[_FACTORY_POSITION + 1:])
        return args, kwargs
    factory = kwargs.get("factory", sqlite3.Connection)
    if isinstance(factory, type) and issubclass(factory, sqlite3.Connection):
        kwargs = {**kwargs, "factory": _counting_sqlite(cast(Any, factory))}
    return args, kwargs


def _counting_sqlite_connect(original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    args, kwargs = _with_counting_factory(args, kwargs)
    _RECORDER.inner_hooked = True
    return original(*args, **kwargs)


@functools.lru_cache(maxsize=64)
def _counting_sqlite(base: Any) -> Any:
    """A subclass of a sqlite3 Connection or Cursor class that records each statement it is
    asked to run before running it (Connection.execute does not go through .cursor())."""
    if getattr(base, "_backend_gates_counting", False):
        return base

    def execute(self: Any, sql: Any, *args: Any, **kwargs: Any) -> Any:
        _sqlite_statement(sql)
        return base.execute(self, sql, *args, **kwargs)

    def executemany(self: Any, sql: Any, *args: Any, **kwargs: Any) -> Any:
        _sqlite_statement(sql)
        return base.executemany(self, sql, *args, **kwargs)

    def executescript(self: Any, script: Any, *args: Any, **kwargs: Any) -> Any:
        _sqlite_statement(script)
        return base.executescript(self, script, *args, **kwargs)

    namespace: dict[str, Any] = {"execute": execute, "executemany": executemany, "executescript": executescript,
                                 "_backend_gates_counting": True, "__module__": __name__,
                                 "__qualname__": base.__qualname__}
    if issubclass(base, sqlite3.Connection):
        def cursor(self: Any, factory: type = sqlite3.Cursor) -> Any:
            counted = _counting_sqlite(cast(Any, factory)) if isinstance(factory, type) and issubclass(
                factory, sqlite3.Cursor) else factory
            return base.cursor(self, counted)

        namespace["cursor"] = cursor
    return type(base.__name__, (base,), namespace)


def _sqlite_trace(sql: str) -> None:
    """Only for `watch()` of a sqlite3 connection opened before counting began (docs/queries.md:
    not for a connection that several threads use at once)."""
    if not sql.startswith("--"):  # "-- TRIGGER name": a step of a trigger, not a statement sent
        _sqlite_statement(sql)


def _sqlalchemy_listener(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                         executemany: bool) -> None:
    if ((_RECORDER._windows or _RECORDER.scope.get() is not None) and _RECORDER.record(statement, "sqlalchemy")
            and _RECORDER.inner_hooked and _may_be_seen_again(type(cursor))):
        # the driver below may be one we hook too (aiosqlite's sqlite3 connection): claimed
        # until after_cursor_execute. A statement that fails has no after event: its claim ends
        # with the connection's next statement (one execution at a time per connection), or
        # when _Claims.LIMIT newer ones push it out. (A handle_error listener would end it at
        # once, but makes SQLAlchemy dispatch dialect events on every statement: +0.3 us.)
        _RECORDER.claims.claim(id(conn), statement)


_SEEN_AGAIN: dict[type, bool] = {}  # cursor class -> _may_be_seen_again (a handful of classes)


def _may_be_seen_again(cursor_class: type) -> bool:
    """Whether a hook of ours may see the statements of a DB-API cursor of this class again.
    Ours (a counting sqlite3 or watched connection's cursor): yes. A driver's own class
    (sqlite3.Cursor of a connection SQLAlchemy opened, psycopg's cursor not watched): no. An
    adapter of SQLAlchemy's (aiosqlite's, asyncpg's) hides the driver's cursor: it may."""
    known = _SEEN_AGAIN.get(cursor_class)
    if known is None:
        known = bool(getattr(cursor_class, "_backend_gates_counting", False)
                     or (cursor_class.__module__ or "").startswith("sqlalchemy."))
        if len(_SEEN_AGAIN) < 256:
            _SEEN_AGAIN[cursor_class] = known
    return known


def _sqlalchemy_after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                      executemany: bool) -> None:
    if _RECORDER.claims.open:
        _RECORDER.claims.end(id(conn))


def _django_wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    if not _RECORDER.record(sql, "django") or not _RECORDER.inner_hooked:
        return execute(sql, params, many, context)
    token = object()  # this execution, alive until it returns
    _RECORDER.claims.claim(id(token), sql)
    try:
        return execute(sql, params, many, context)
    finally:
        _RECORDER.claims.end(id(token))


def _django_attach(connection: Any) -> None:
    wrappers = getattr(connection, "execute_wrappers", None)
    if isinstance(wrappers, list) and _django_wrapper not in wrappers:
        wrappers.append(_django_wrapper)


def _django_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    _django_attach(connection)


def _django_attach_current_thread() -> None:
    if "django.db" not in sys.modules:
        return
    try:
        from django.conf import settings
        from django.db import connections

        if settings.configured:
            for connection in connections.all(initialized_only=True):
                _django_attach(connection)
    except Exception:  # noqa: S110 - an unusable Django setup is the app's problem, not ours
        pass


# --------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------


@contextmanager
def counting(log: QueryLog) -> Iterator[QueryLog]:
    """Every statement of the process (any thread) while the block runs goes to `log`."""
    _RECORDER.open_window(log)
    try:
        yield log
    finally:
        _RECORDER.close_window(log)


@contextmanager
def request_scope(method: str, target: str) -> Iterator[None]:
    """Around one in-process HTTP request (targets.py): its statements go to the request
    listeners. Nearly free when nobody listens."""
    listeners = _RECORDER.request_listeners
    if not listeners:
        yield
        return
    _RECORDER.refresh()
    log = QueryLog(project_root=_RECORDER.request_root)
    token = _RECORDER.scope.set(log)
    try:
        yield
    finally:
        _RECORDER.scope.reset(token)
        for listener in listeners:
            listener(method, target, log)


def add_request_listener(listener: Callable[[str, str, QueryLog], None], project_root: str | None = None) -> None:
    observe_requests(request_scope)  # the in-process wrappers enter it around each request
    _RECORDER.add_request_listener(listener, project_root)


def remove_request_listener(listener: Callable[[str, str, QueryLog], None]) -> None:
    _RECORDER.remove_request_listener(listener)


def hold_hooks() -> None:
    """Keep the hooks installed (sqlite3.connect wrapped) until `release_hooks`: the gate does
    this for the whole session, so connections opened at import are counted too."""
    _RECORDER.acquire()


def release_hooks() -> None:
    _RECORDER.release()


class WatchError(UsageError, TypeError):
    """`watch()` was given something whose statements cannot be counted."""


def watch(connection: Any) -> Callable[[], None]:
    """Count the statements of an already open connection; returns how to stop (may be a no-op)."""
    if isinstance(connection, sqlite3.Connection):
        if not getattr(connection, "_backend_gates_counting", False):  # opened while counting: counted already
            _RECORDER.inner_hooked = True
            connection.set_trace_callback(_sqlite_trace)
        return lambda: None
    module = type(connection).__module__ or ""
    if module.startswith("sqlalchemy."):
        return lambda: None  # engines and their connections are counted by the Engine listener
    if module.startswith("django."):
        _django_attach(connection)
        return lambda: None
    factory = getattr(connection, "cursor_factory", None)
    if isinstance(factory, type) and hasattr(factory, "execute"):
        if getattr(factory, "_backend_gates_counting", False):
            return lambda: None
        counting_class = _counting_cursor(factory, "psycopg" if module.startswith("psycopg") else "dbapi")
        _RECORDER.inner_hooked = True
        try:
            connection.cursor_factory = counting_class
        except (AttributeError, TypeError) as exc:
            raise WatchError(f"cannot set cursor_factory on {type(connection).__qualname__}: {exc}") from None

        def unwatch() -> None:
            if getattr(connection, "cursor_factory", None) is counting_class:
                connection.cursor_factory = factory
        return unwatch
    raise WatchError(
        f"cannot count the statements of a {module}.{type(connection).__qualname__}: watch() takes a sqlite3 "
        "connection, a DB-API connection with a cursor_factory (psycopg 3, psycopg2) or a Django connection; "
        "SQLAlchemy engines are counted without watch()")


def _counting_cursor(base: type, source: str) -> type:
    def text(cursor: Any, query: Any) -> str:
        if isinstance(query, (str, bytes)):
            return query.decode("utf-8", "replace") if isinstance(query, bytes) else query
        try:
            return str(query.as_string(cursor))  # psycopg.sql.Composed
        except Exception:
            return str(query)

    def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        _RECORDER.record(text(self, query), source, inner=True)
        return base.execute(self, query, *args, **kwargs)  # type: ignore[attr-defined]

    def executemany(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        _RECORDER.record(text(self, query), source, inner=True)
        return base.executemany(self, query, *args, **kwargs)  # type: ignore[attr-defined]

    namespace: dict[str, Any] = {"execute": execute, "_backend_gates_counting": True, "__module__": __name__}
    if hasattr(base, "executemany"):
        namespace["executemany"] = executemany
    return type(f"Counting{base.__name__}", (base,), namespace)
