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

The parts: in_flight.py (the requests being answered, the scopes gates enter around each),
app_errors.py (what the app raised, by request id), app_loop.py (an ASGI app's loop and
lifespan). The frames that call the app stay in this file: the race gate tells the app's
own exceptions and calls apart by them (`serving.__file__`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any

from pytest_backend_gates.service.app_errors import (
    AppErrors,
    Raised,
    watch_logs,
    watch_signals,
)
from pytest_backend_gates.service.app_loop import AppLoop
from pytest_backend_gates.service.in_flight import (
    IN_FLIGHT,
    INTERNAL_HEADER,
    REQUEST_ID_HEADER,
    SCHEMATHESIS_ID_HEADER,
    current_request,
    new_request_id,
    observed,
)

_WSGI_INTERNAL_KEY = "HTTP_" + INTERNAL_HEADER.upper().replace("-", "_")
_WSGI_ID_KEY = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")
_WSGI_SCHEMATHESIS_KEY = "HTTP_" + SCHEMATHESIS_ID_HEADER.upper().replace("-", "_")
_SERVER_ERROR_BODY = b"Internal Server Error"


# --------------------------------------------------------------------------
# The wrappers
# --------------------------------------------------------------------------


class _Served:
    kind: str

    def __init__(self, app: Any) -> None:
        self.app = app
        self.errors = AppErrors()
        watch_logs(self.errors)
        watch_signals(app, self.errors)

    def __getattr__(self, name: str) -> Any:  # the wrapped app's attributes (e.g. FastAPI's openapi())
        return getattr(self.app, name)

    def raised(self, request_id: str | None) -> Raised | None:
        return self.errors.get(request_id)

    def close(self) -> None:  # noqa: B027 - only ASGI apps hold a loop
        pass


class ASGIServed(AppLoop, _Served):
    """An ASGI app on one event loop (one thread), its lifespan started once (AppLoop, app_loop.py):
    a request from any loop is answered on the app's."""

    kind = "asgi"

    def __init__(self, app: Any) -> None:
        _Served.__init__(self, app)
        AppLoop.__init__(self)
        # Requests that arrived on another event loop than the app's and were carried over to it
        # (every message of each costs a round trip between two threads).
        self.carried_over = 0

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

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._ensure_started()
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

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
        token = current_request.set(request_id)
        try:
            with IN_FLIGHT.answering(), nullcontext() if internal else observed(
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
            current_request.reset(token)


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
        token = current_request.set(request_id)
        chunks: list[bytes] = []
        try:
            with IN_FLIGHT.answering(), nullcontext() if internal else observed(
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
            current_request.reset(token)
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
    # httpx (and these classes built on it) only once an in-process client is made
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
