"""In-process serving: the app as its clients would see it behind a real server.

Every HTTP gate and the `api` fixture reach an in-process app through the one
wrapper this module keeps per app object (`served(app)`), so that:

- an ASGI app runs on one event loop, whoever calls it: its lifespan starts
  once, and what the startup created (an async engine, a pool) is used from the
  loop that created it. That loop is schemathesis' own when schemathesis is
  loaded (its engine calls the app from there, with no hop between threads);
  a call from any other loop is carried over to it.
- an exception the app raises becomes the 500 a server would send, and is kept
  (by request id) so a finding can say what raised and where, in the app's own
  code; also when the framework answered the 500 itself and only logged the
  exception (Connexion, Django) or sent a signal (Flask, Django).
- a WSGI environ is what PEP 3333 says it is (httpx's WSGITransport puts
  unicode above U+00FF into PATH_INFO, which Werkzeug cannot encode).
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_backend_gates.location import PACKAGE_DIR

# Our clients mark each request with an id, removed before the app sees it;
# schemathesis marks its own with the test case id.
REQUEST_ID_HEADER = "x-backend-gates-request"
SCHEMATHESIS_ID_HEADER = "x-schemathesis-testcaseid"
# The plugin's own requests (the schema document): not a request of the app's API, so not
# counted by the gates that watch requests (queries). Removed before the app sees it.
INTERNAL_HEADER = "x-backend-gates-internal"
_WSGI_INTERNAL_KEY = "HTTP_" + INTERNAL_HEADER.upper().replace("-", "_")
_WSGI_ID_KEY = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")
_WSGI_SCHEMATHESIS_KEY = "HTTP_" + SCHEMATHESIS_ID_HEADER.upper().replace("-", "_")
_MAX_KEPT = 2048
_SERVER_ERROR_BODY = b"Internal Server Error"

_current_request: contextvars.ContextVar[str | None] = contextvars.ContextVar("backend_gates_request", default=None)
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
def _observed(method: str, target: str) -> Iterator[None]:
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


_IN_FLIGHT = _InFlight()


def requests_in_flight() -> tuple[Answering, ...]:
    return _IN_FLIGHT.requests


def answering() -> Answering | None:
    """The request the calling thread works for, if an in-process wrapper is answering one."""
    return _answering.get()


# --------------------------------------------------------------------------
# What the app raised, described by the app's own frame
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Raised:
    """An exception the app raised while answering one request."""

    type: str  # "IntegrityError"
    message: str  # first line of str(exc)
    place: str  # "app/items.py:42", the app's own frame ("" if none)
    function: str  # "update_item"
    own_frame: bool  # False: no frame of the app's own code; `place` is the library's

    def text(self) -> str:
        head = f"{self.type}: {self.message}" if self.message else self.type
        if not self.place:
            return head
        return f"{head} at {self.place} in {self.function}" + ("" if self.own_frame else " (library code)")

    def to_data(self) -> dict[str, Any]:
        return {"exception": self.type, "at": self.place, "function": self.function}


def _is_library(filename: str) -> bool:
    return (filename.startswith(PACKAGE_DIR) or "site-packages" in filename or "dist-packages" in filename
            or filename.startswith(("<", sys.base_prefix + "/lib", sys.prefix + "/lib")))


def describe_raised(exc: BaseException, root: Path | None = None) -> Raised:
    """The exception and the deepest frame of the app's own code it passed through: never
    a frame of this plugin, of the standard library or of an installed package.

    When the exception passed through no frame of the app (a framework's error handler failing
    while it handled the app's exception), the exception it was handling is the cause: that one
    is named, with its own frame."""
    cause: BaseException | None = exc
    while cause is not None:
        frames = traceback.extract_tb(cause.__traceback__)
        own = [f for f in frames if not _is_library(f.filename)]
        if own:
            return _raised(cause, own[-1], own=True, root=root)
        cause = cause.__cause__ or cause.__context__
    frames = traceback.extract_tb(exc.__traceback__)
    frame = next((f for f in reversed(frames) if not f.filename.startswith(PACKAGE_DIR)), None)
    return _raised(exc, frame, own=False, root=root)


def _raised(exc: BaseException, frame: traceback.FrameSummary | None, *, own: bool, root: Path | None) -> Raised:
    place = ""
    if frame is not None:
        path = Path(frame.filename)
        try:  # relative to the rootdir (the working directory by default, pytest's usually)
            shown = str(path.resolve().relative_to((root or Path.cwd()).resolve()))
        except (ValueError, OSError):
            shown = path.name
        place = f"{shown}:{frame.lineno}"
    # A database library's wrapper says what the driver said on some line of its own (SQLAlchemy
    # puts "(raised as a result of Query-invoked autoflush ...)" first): the driver's words.
    original = getattr(exc, "orig", None)
    text = str(original if isinstance(original, BaseException) else exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return Raised(type=type(exc).__name__, message=lines[0][:300] if lines else "", place=place,
                  function=frame.name if frame is not None else "", own_frame=own)


class AppErrors:
    """What an app raised, by request id; bounded, thread-safe.

    Described when recorded: a framework may clear or rewrite a traceback once it has logged it
    (Connexion). A request can record several (Flask's signal for the app's own 404 exception,
    then the error handler that failed on it): the one that escaped the app wins, else the last."""

    def __init__(self) -> None:
        self._errors: OrderedDict[str, list[tuple[Raised, bool]]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, request_id: str | None, exc: BaseException, escaped: bool = False) -> None:
        if request_id is None:
            return
        raised = describe_raised(exc)
        with self._lock:
            seen = self._errors.setdefault(request_id, [])
            if len(seen) < 8 and (raised, escaped) not in seen:
                seen.append((raised, escaped))
            while len(self._errors) > _MAX_KEPT:
                self._errors.popitem(last=False)

    def get(self, request_id: str | None) -> Raised | None:
        with self._lock:
            return _best(self._errors.get(request_id or ""))

    def pop(self, request_id: str | None) -> Raised | None:
        with self._lock:
            return _best(self._errors.pop(request_id or "", None))


def _best(seen: list[tuple[Raised, bool]] | None) -> Raised | None:
    if not seen:
        return None
    return next((raised for raised, escaped in reversed(seen) if escaped), seen[-1][0])


class _LoggedErrors(logging.Handler):
    """Frameworks that answer a 500 themselves log the exception (Connexion, Django's
    `django.request`, uvicorn): a record with exc_info during a served request is its error."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.targets: list[AppErrors] = []

    def emit(self, record: logging.LogRecord) -> None:
        request_id = _current_request.get()
        if request_id is None or not record.exc_info or record.exc_info[1] is None:
            return
        for errors in self.targets:
            errors.record(request_id, record.exc_info[1])


_LOG_HANDLER = _LoggedErrors()


def _watch_logs(errors: AppErrors) -> None:
    if not _LOG_HANDLER.targets:
        logging.getLogger().addHandler(_LOG_HANDLER)
    _LOG_HANDLER.targets.append(errors)


def _watch_signals(app: Any, errors: AppErrors) -> None:
    """Flask's and Django's `got_request_exception`: sent while the exception is handled."""
    def record_current(*args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exception") or sys.exc_info()[1]
        if exc is not None:
            errors.record(_current_request.get(), exc)

    flask = sys.modules.get("flask")
    if flask is not None:
        # Connexion's FlaskApp (ASGI) keeps the Flask app it wraps in `.app`.
        for candidate in (app, getattr(app, "app", None)):
            if isinstance(candidate, flask.Flask):
                flask.got_request_exception.connect(record_current, candidate, weak=False)
    django_signals = sys.modules.get("django.core.signals")
    if django_signals is not None or "django" in type(app).__module__:
        from django.core.signals import (
            got_request_exception,
            request_finished,
            request_started,
        )
        from django.db import close_old_connections

        got_request_exception.connect(record_current, weak=False, dispatch_uid=f"backend-gates-{id(errors)}")
        # As Django's own test client does: a request must not close the connection that holds a
        # test's transaction, or the in-memory test database (pytest-django's) with it.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)


# --------------------------------------------------------------------------
# The wrappers
# --------------------------------------------------------------------------


class _Served:
    kind: str

    def __init__(self, app: Any) -> None:
        self.app = app
        self.errors = AppErrors()
        _watch_logs(self.errors)
        _watch_signals(app, self.errors)

    def __getattr__(self, name: str) -> Any:  # the wrapped app's attributes (e.g. FastAPI's openapi())
        return getattr(self.app, name)

    def raised(self, request_id: str | None) -> Raised | None:
        return self.errors.get(request_id)

    def close(self) -> None:  # noqa: B027 - only ASGI apps hold a loop
        pass


class ASGIServed(_Served):
    """An ASGI app on one event loop (one thread), its lifespan started once.

    schemathesis ends lifespans after every test item; that is answered here as a server
    would: the startup runs once on the app's loop, later startups are acknowledged with
    its state, shutdowns happen at exit."""

    kind = "asgi"

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self._lock = threading.Lock()
        self._stack: ExitStack | None = None
        self._portal: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._startup: asyncio.Future[None] | None = None
        self._lifespan_task: asyncio.Task[None] | None = None
        self._state: dict[str, Any] = {}
        self._shutdown: asyncio.Queue[dict[str, Any]] | None = None
        # Requests that arrived on another event loop than the app's and were carried over to it
        # (every message of each costs a round trip between two threads).
        self.carried_over = 0

    # -- the app's loop --------------------------------------------------------
    def portal(self) -> Any:
        """The portal of the app's loop: schemathesis' own when schemathesis is loaded (it calls
        every ASGI app from that loop, so its requests reach the app with no hop between threads),
        else one of our own."""
        if self._portal is not None:
            return self._portal
        shared = _schemathesis_portal()
        # Outside the lock: finding the shared loop may need that loop, whose thread may be
        # waiting for this lock in __call__.
        loop = _loop_of(shared) if shared is not None else None
        with self._lock:
            if self._portal is None:
                if shared is not None:
                    self._portal, self._loop = shared, loop
                else:
                    from anyio.from_thread import start_blocking_portal

                    stack = ExitStack()
                    self._portal = stack.enter_context(start_blocking_portal())
                    self._loop = self._portal.call(asyncio.get_running_loop)
                    self._stack = stack
            return self._portal

    def call(self, function: Callable[[], Any]) -> Any:
        """Run the coroutine function on the app's loop, from a thread outside it."""
        return self.portal().call(function)

    def run_in_worker_threads(self, function: Callable[[], None], count: int, timeout: float = 1.0) -> None:
        """Run `function` once in each of `count` distinct threads of the app's anyio worker pool,
        where Starlette and FastAPI run sync endpoints and dependencies: also in the idle workers
        earlier requests left, which `threading.settrace` does not reach (it only sees threads
        started after it). Each call waits at a barrier until all `count` run at once, so no
        worker takes two; a pool with fewer free workers (its limiter's tokens) breaks the barrier
        after `timeout` and the workers that came have run it."""
        with self._lock:
            portal = self._portal
        if portal is None:
            return  # no request was answered yet: the pool has no worker
        import anyio
        import anyio.to_thread

        barrier = threading.Barrier(count, timeout=timeout)

        def job() -> None:
            function()
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass

        async def spread() -> None:
            async with anyio.create_task_group() as group:
                for _ in range(count):
                    group.start_soon(anyio.to_thread.run_sync, job)

        try:
            portal.call(spread)
        except RuntimeError:  # the loop is closing (end of session): no request will be answered there
            pass

    def start(self) -> None:
        """Run the app's lifespan startup (once); raises what the startup failed with."""
        self.call(self._ensure_started)

    async def _ensure_started(self) -> None:
        if self._startup is None:
            loop = asyncio.get_running_loop()
            self._startup = loop.create_future()
            self._shutdown = asyncio.Queue()
            inbox: asyncio.Queue[dict[str, Any]] = self._shutdown
            inbox.put_nowait({"type": "lifespan.startup"})
            startup = self._startup
            scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self._state}

            async def app_send(message: dict[str, Any]) -> None:
                if startup.done():
                    return
                if message["type"] == "lifespan.startup.complete":
                    startup.set_result(None)
                elif message["type"] == "lifespan.startup.failed":
                    startup.set_exception(RuntimeError(message.get("message") or "lifespan startup failed"))

            def finished(task: asyncio.Task[None]) -> None:
                # An app without lifespan support returns or raises at once: it runs without one.
                if not startup.done():
                    startup.set_result(None)

            self._lifespan_task = loop.create_task(self.app(scope, inbox.get, app_send))
            self._lifespan_task.add_done_callback(finished)
        await asyncio.shield(self._startup)

    def close(self) -> None:
        """End the lifespan (the app's shutdown) and stop our loop (schemathesis stops its own at
        exit); at the end of the session."""
        with self._lock:
            portal, stack = self._portal, self._stack
            self._portal = self._stack = None
        if portal is None:
            return
        try:
            portal.call(self._end_lifespan)
        except Exception:  # noqa: S110 - a failing shutdown at exit has nobody to tell
            pass
        finally:
            if stack is not None:
                stack.close()

    async def _end_lifespan(self) -> None:
        task, inbox = self._lifespan_task, self._shutdown
        if task is None or inbox is None or task.done():
            return
        inbox.put_nowait({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=10)
        except (asyncio.TimeoutError, Exception):
            task.cancel()

    # -- the ASGI interface ------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.portal()
        if scope["type"] == "lifespan":
            # Answered on the caller's loop; only the app's startup runs on the app's loop.
            await self._answer_lifespan(scope, receive, send)
            return
        caller = asyncio.get_running_loop()
        if caller is self._loop:
            await self._serve(scope, receive, send)
            return

        # Another loop (schemathesis' when its portal could not be shared): run on the app's
        # loop, messages carried back to the caller's.
        self.carried_over += 1

        async def on_caller(coroutine: Any) -> Any:
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, caller))

        async def home_receive() -> Any:
            return await on_caller(receive())

        async def home_send(message: dict[str, Any]) -> None:
            await on_caller(send(message))

        await self._on_home(lambda: self._serve(scope, home_receive, home_send))

    async def _on_home(self, coroutine_function: Callable[[], Any]) -> Any:
        """Await a coroutine on the app's loop, from whichever loop this runs on."""
        home = self._loop
        assert home is not None
        if asyncio.get_running_loop() is home:
            return await coroutine_function()
        future = asyncio.run_coroutine_threadsafe(coroutine_function(), home)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._ensure_started()
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _answer_lifespan(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # lifespan.startup
        try:
            await self._on_home(self._ensure_started)
        except Exception as exc:
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        if isinstance(scope.get("state"), dict) and scope["state"] is not self._state:
            scope["state"].update(self._state)
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown: the app keeps running, as under a server
        await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = scope.get("headers") or []
        request_id = None
        internal = False
        kept = []
        for name, value in headers:
            lowered = name.lower()
            if lowered == REQUEST_ID_HEADER.encode():
                request_id = value.decode("latin-1")
                continue
            if lowered == INTERNAL_HEADER.encode():
                internal = True
                continue
            if lowered == SCHEMATHESIS_ID_HEADER.encode() and request_id is None:
                request_id = value.decode("latin-1")
            kept.append((name, value))
        scope = {**scope, "headers": kept, "state": {**self._state, **(scope.get("state") or {})}}
        answered = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        query = scope.get("query_string", b"").decode("latin-1")
        token = _current_request.set(request_id)
        try:
            with _IN_FLIGHT.answering(), nullcontext() if internal else _observed(
                    scope["method"], scope["path"] + (f"?{query}" if query else "")):
                await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # Starlette re-raises after sending its 500, for the server to log; a server
            # sends a bare 500 when nothing was sent. Either way the client gets an answer.
            self.errors.record(request_id, exc, escaped=True)
            if not answered:
                await send({"type": "http.response.start", "status": 500,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"content-length", str(len(_SERVER_ERROR_BODY)).encode())]})
                await send({"type": "http.response.body", "body": _SERVER_ERROR_BODY})
        finally:
            _current_request.reset(token)


def _schemathesis_portal() -> Any | None:
    """The blocking portal of the event-loop thread from which schemathesis 4.x calls every ASGI
    app (`schemathesis.python.asgi`, one loop per process). A private function of schemathesis:
    without it the app gets a loop of its own, and schemathesis' requests are carried over to it
    (the same answers, more thread hops). Not imported for a passive run that has not loaded
    schemathesis."""
    if "schemathesis" not in sys.modules:
        return None
    try:
        from schemathesis.python import asgi
    except ImportError:
        return None
    get_portal = getattr(asgi, "_get_portal", None)
    return get_portal() if callable(get_portal) else None


def _loop_of(portal: Any) -> asyncio.AbstractEventLoop:
    try:
        loop: asyncio.AbstractEventLoop = portal.call(asyncio.get_running_loop)
    except RuntimeError:  # anyio refuses calls from the portal's own thread: the loop running here
        return asyncio.get_running_loop()
    return loop


class WSGIServed(_Served):
    """A WSGI app as its clients see it under a server (see the module docstring)."""

    kind = "wsgi"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request_id = environ.pop(_WSGI_ID_KEY, None)
        if request_id is not None:
            # httpx's WSGITransport: PATH_INFO decoded as UTF-8; PEP 3333 wants the bytes as latin-1.
            environ["PATH_INFO"] = environ.get("PATH_INFO", "").encode("utf-8", "surrogateescape").decode("latin-1")
        else:
            request_id = environ.get(_WSGI_SCHEMATHESIS_KEY)
        started = False

        def tracking_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal started
            started = True
            # Without exc_info: httpx's WSGITransport re-raises it instead of returning the 500.
            return start_response(status, headers)

        query = environ.get("QUERY_STRING", "")
        target = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
        internal = environ.pop(_WSGI_INTERNAL_KEY, None) is not None
        token = _current_request.set(request_id)
        chunks: list[bytes] = []
        try:
            with _IN_FLIGHT.answering(), nullcontext() if internal else _observed(
                    environ.get("REQUEST_METHOD", "GET"), target):
                body = self.app(environ, tracking_start_response)
                try:
                    # Read inside the request: statements of a lazily built body count for it.
                    chunks.extend(body)
                finally:
                    close = getattr(body, "close", None)
                    if close is not None:
                        close()
        except Exception as exc:  # a server answers 500 (Flask's PROPAGATE_EXCEPTIONS, testing mode)
            self.errors.record(request_id, exc, escaped=True)
            if not started:
                start_response("500 Internal Server Error", [("Content-Type", "text/plain; charset=utf-8"),
                                                             ("Content-Length", str(len(_SERVER_ERROR_BODY)))])
                return [_SERVER_ERROR_BODY]
        finally:
            _current_request.reset(token)
        return chunks


# One wrapper per app object and process, like a server process serves one app.
_SERVED: dict[int, tuple[Any, _Served]] = {}
_SERVED_LOCK = threading.Lock()


def served(app: Any, kind: str) -> _Served:
    if isinstance(app, _Served):
        return app
    with _SERVED_LOCK:
        known = _SERVED.get(id(app))
        if known is None:
            known = (app, ASGIServed(app) if kind == "asgi" else WSGIServed(app))
            _SERVED[id(app)] = known
        return known[1]


def run_in_serving_threads(function: Callable[[], None], count: int) -> None:
    """Run `function` in the threads that answer the requests of the apps served in this process
    and exist already: the worker pools of ASGI apps (see ASGIServed.run_in_worker_threads). A
    WSGI app answers in its caller's thread; threads started later are the caller's to reach."""
    with _SERVED_LOCK:
        apps = [wrapper for _, wrapper in _SERVED.values()]
    for wrapper in apps:
        if isinstance(wrapper, ASGIServed):
            wrapper.run_in_worker_threads(function, count)


def close_all() -> None:
    """End the lifespans of the apps served in this process (at the end of the session)."""
    with _SERVED_LOCK:
        apps = [wrapper for _, wrapper in _SERVED.values()]
    for wrapper in apps:
        wrapper.close()


# --------------------------------------------------------------------------
# httpx transports for our own clients
# --------------------------------------------------------------------------


RAISED_EXTENSION = "backend_gates_raised"


def _transports() -> tuple[type, type]:
    import httpx

    class InProcessASGITransport(httpx.BaseTransport):
        """A synchronous httpx transport to an ASGI app on its own loop: callable from
        many threads at once, the requests run concurrently in the app."""

        def __init__(self, app: ASGIServed) -> None:
            self.app = app
            self._inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
            app.start()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            request_id = new_request_id()
            body = request.read()
            inner = httpx.Request(request.method, request.url, content=body,
                                  headers=[*request.headers.raw, (REQUEST_ID_HEADER.encode(), request_id.encode())],
                                  extensions=request.extensions)

            async def send() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
                response = await self._inner.handle_async_request(inner)
                return response.status_code, response.headers.raw, await response.aread()

            status, headers, content = self.app.call(send)
            response: httpx.Response = _response(httpx, self.app, request_id, status, headers, content, request)
            return response

    class InProcessWSGITransport(httpx.WSGITransport):
        def __init__(self, app: WSGIServed) -> None:
            super().__init__(app=app)
            self.served = app

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            request_id = new_request_id()
            body = request.read()
            inner = httpx.Request(request.method, request.url, content=body,
                                  headers=[*request.headers.raw, (REQUEST_ID_HEADER.encode(), request_id.encode())],
                                  extensions=request.extensions)
            answer = super().handle_request(inner)
            response: httpx.Response = _response(httpx, self.served, request_id, answer.status_code,
                                                 answer.headers.raw, answer.read(), request)
            return response

    return InProcessASGITransport, InProcessWSGITransport


def _response(httpx: Any, app: _Served, request_id: str, status: int, headers: Any, content: bytes,
              request: Any) -> Any:
    raised = app.errors.pop(request_id)
    extensions = {RAISED_EXTENSION: raised} if raised is not None and status >= 500 else {}
    return httpx.Response(status, headers=headers, content=content, request=request, extensions=extensions)


def in_process_transport(app: _Served) -> Any:
    asgi_transport, wsgi_transport = _transports()
    return asgi_transport(app) if isinstance(app, ASGIServed) else wsgi_transport(app)


def raised_of(response: Any) -> Raised | None:
    """What the app raised while answering this httpx response of an in-process client."""
    value = getattr(response, "extensions", {}).get(RAISED_EXTENSION)
    # Not isinstance: pytester's in-process runs re-import this module, and a Raised of the
    # previous import is still one.
    return value if value is not None and hasattr(value, "text") else None
