"""The requests the in-process wrappers (serving.py) are answering, seen from outside them.

The headers that mark our own requests, the id of the request answered in the calling
context, the requests in flight right now (the race probe lines them up), and the scopes a
gate enters around every request (`observe_requests`: the queries gate counts SQL this way).
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager

# Our clients mark each request with an id, removed before the app sees it;
# schemathesis marks its own with the test case id.
REQUEST_ID_HEADER = "x-backend-gates-request"
SCHEMATHESIS_ID_HEADER = "x-schemathesis-testcaseid"
# The plugin's own requests (the schema document): not a request of the app's API, so not
# counted by the gates that watch requests (queries). Removed before the app sees it.
INTERNAL_HEADER = "x-backend-gates-internal"

# The id of the request answered in this context: what the app raises is recorded under it.
current_request: contextvars.ContextVar[str | None] = contextvars.ContextVar("backend_gates_request", default=None)
# The request being answered in this context (the handler's thread, and the worker threads a
# framework hands it to with a copied context: anyio's, a2wsgi's); the race probe lines
# concurrent requests up by it (amplify.Gathering).
_answering: contextvars.ContextVar[Answering | None] = contextvars.ContextVar("backend_gates_answering", default=None)
_ids = itertools.count(1)


# Context managers entered around every request the wrappers answer, given (method, target):
# how a gate watches requests without the service layer knowing the gate (the queries gate
# counts each request's SQL statements this way).
RequestScope = Callable[[str, str], AbstractContextManager[None]]
_REQUEST_SCOPES: list[RequestScope] = []


def observe_requests(scope: RequestScope) -> None:
    """Enter `scope(method, target)` around every in-process request from now on (once per scope)."""
    if scope not in _REQUEST_SCOPES:
        _REQUEST_SCOPES.append(scope)


@contextmanager
def observed(method: str, target: str) -> Iterator[None]:
    """The scopes of `observe_requests`, entered around one request."""
    scopes = tuple(_REQUEST_SCOPES)
    if not scopes:
        yield
        return
    with ExitStack() as stack:
        for scope in scopes:
            stack.enter_context(scope(method, target))
        yield


def new_request_id() -> str:
    return f"bg-{next(_ids)}"


class Answering:
    """A request an in-process wrapper is answering: how far it got into the app's own code
    (`stage`: the calls the framework made into it, counted by the race probe; `released`: the
    last stage it was let go on), and whether the probe still waits for it."""

    __slots__ = ("followed", "released", "stage")

    def __init__(self) -> None:
        self.stage = 0
        self.released = 0
        self.followed = True


class _InFlight:
    """The requests the in-process wrappers are answering right now (any app, any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: tuple[Answering, ...] = ()  # replaced, never changed: read without the lock

    @contextmanager
    def answering(self) -> Iterator[None]:
        request = Answering()
        token = _answering.set(request)
        with self._lock:
            self.requests = (*self.requests, request)
        try:
            yield
        finally:
            with self._lock:
                self.requests = tuple(r for r in self.requests if r is not request)
            _answering.reset(token)


IN_FLIGHT = _InFlight()


def requests_in_flight() -> tuple[Answering, ...]:
    return IN_FLIGHT.requests


def answering() -> Answering | None:
    """The request the calling thread works for, if an in-process wrapper is answering one."""
    return _answering.get()

