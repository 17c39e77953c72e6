"""The process-wide switchboard of SQL counting: `_RECORDER` and the drivers' hooks it installs.

The hooks are process-wide by nature (SQLAlchemy's event registry, the sqlite3 module), so
they are installed once while at least one user needs them and removed when the last one
leaves (`acquire`, `release`); each statement a hook sees goes to the open windows and the
current request scope (`record`). The hooks: SQLAlchemy's `Engine` listeners, a counting
subclass of sqlite3's connection class behind a wrapped `sqlite3.connect`, and Django's
execute wrapper. What each one sees is in capture.py. SQLAlchemy and Django are imported
inside the functions that hook them, and only once the application imported them itself.
"""

from __future__ import annotations

import contextvars
import functools
import sqlite3
import sys
import threading
from collections.abc import Callable
from typing import Any, cast

from pytest_backend_gates.gates.queries.claims import _Claims
from pytest_backend_gates.gates.queries.statements import (
    SQL_LIMIT,
    QueryLog,
    Statement,
    _origin,
    is_transaction_control,
    shorten,
)

_NOT_TRACED = ("sqlalchemy.", "django.", "coverage.")  # modules whose sqlite3 connections are not traced


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
                    # imported here: the app imported SQLAlchemy already (never imported by us)
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
