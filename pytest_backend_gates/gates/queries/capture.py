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
  that sees a claimed text does not count it again (`_Claims`, claims.py).
- psycopg (3, or 2) and other DB-API connections with a `cursor_factory`: `watch(conn)`.
- Django, when it is imported and configured: `connection.execute_wrapper` on the connections
  of the thread that opened the window (other threads' Django connections are not seen).

Two kinds of sinks get the statements: windows (`query_counter` blocks, `query_budget`
tests) see every thread of the process; a request scope (the queries gate's per-request
count, opened by the in-process app wrappers in service/serving.py) sees the statements of its
own context: the handler, and the worker threads it hands work to with a copied context
(asyncio, anyio/Starlette's thread pool).

The hooks are process-wide by nature (SQLAlchemy's event registry, the sqlite3 module), so
they are installed once while at least one user needs them and removed when the last one
leaves; `_RECORDER` (recorder.py) is that process-wide switchboard, and holds no session state.
This module holds the entry points; the statements and their shape are statements.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pytest_backend_gates.errors import UsageError
from pytest_backend_gates.gates.queries.recorder import (
    _RECORDER,
    _django_attach,
    _sqlite_statement,
)
from pytest_backend_gates.gates.queries.statements import QueryLog
from pytest_backend_gates.service.in_flight import observe_requests

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
    """Around one in-process HTTP request (service/serving.py): its statements go to the request
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


def _sqlite_trace(sql: str) -> None:
    """Only for `watch()` of a sqlite3 connection opened before counting began (docs/queries.md:
    not for a connection that several threads use at once)."""
    if not sql.startswith("--"):  # "-- TRIGGER name": a step of a trigger, not a statement sent
        _sqlite_statement(sql)
