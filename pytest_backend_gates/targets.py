"""What the HTTP gates talk to: an app imported in-process, or a server at base_url.

Shared by the contract gate, the `api` fixture and (later) the race, latency,
security and load gates, so every gate reaches the same target the same way.
"""

from __future__ import annotations

import importlib
import inspect
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from .config import ContractSettings
from .sql_capture import request_scope

IN_PROCESS_BASE_URL = "http://testserver"
# What reproductions say instead of the in-process pseudo host: where a
# developer would start the app to replay a failure.
REPLAY_BASE_URL = "http://127.0.0.1:8000"


class TargetError(Exception):
    """The target cannot be used; the message says why and what to change."""


@dataclass(frozen=True)
class Target:
    kind: Literal["asgi", "wsgi", "url"]
    app: Any  # None for "url"
    base_url: str
    description: str

    @property
    def in_process(self) -> bool:
        return self.app is not None


def is_asgi(app: Any) -> bool:
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(getattr(app, "__call__", None))


def load_app(spec: str) -> Any:
    """'package.module:attr' or 'package.module:factory()'."""
    module_name, _, attribute = spec.partition(":")
    call = attribute.endswith("()")
    attribute = attribute.removesuffix("()")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise TargetError(
            f"app = {spec!r}: importing {module_name!r} failed with {type(exc).__name__}: {exc} "
            "(is the project importable from the rootdir? pytest's `pythonpath` ini option can add src/)"
        ) from exc
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise TargetError(f"app = {spec!r}: {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if call:
        try:
            obj = obj()
        except Exception as exc:
            raise TargetError(f"app = {spec!r}: calling the factory failed with {type(exc).__name__}: {exc}") from exc
    if not callable(obj):
        raise TargetError(f"app = {spec!r} is a {type(obj).__name__}, not an ASGI or WSGI application")
    return obj


def check_loopback(base_url: str, allow_remote: bool) -> None:
    """Generated (and hostile) traffic goes to this machine only, unless the user says otherwise."""
    host = urlsplit(base_url).hostname or ""
    if allow_remote or host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise TargetError(
        f"base_url = {base_url!r} is not a loopback address (127.0.0.0/8, ::1 or localhost): the gates send "
        "thousands of generated, partly hostile requests, so they only target this machine unless you set "
        "allow_remote = true"
    )


def load_target(settings: ContractSettings) -> Target:
    if settings.base_url is not None:
        check_loopback(settings.base_url, settings.allow_remote)
        return Target("url", None, settings.base_url.rstrip("/"), settings.base_url)
    assert settings.app is not None
    app = load_app(settings.app)
    kind: Literal["asgi", "wsgi"] = "asgi" if is_asgi(app) else "wsgi"
    app = ServedLikeAServer(app) if kind == "asgi" else WSGIServedLikeAServer(app)
    return Target(kind, app, IN_PROCESS_BASE_URL, f"{settings.app} ({kind.upper()}, in-process)")


def schema_location(schema: str, rootpath: Path) -> tuple[Literal["file", "path", "url"], str]:
    """Where `schema` points: a full URL, a path on the target ('/openapi.json'), or a local file.

    A value starting with '/' is a path on the target unless it is an existing
    absolute file; anything else is a file relative to the rootdir.
    """
    if schema.startswith(("http://", "https://")):
        return "url", schema
    if schema.startswith("/") and not Path(schema).is_file():
        return "path", schema
    path = Path(schema) if Path(schema).is_absolute() else rootpath / schema
    if not path.is_file():
        raise TargetError(f"schema = {schema!r}: no such file (looked for {path})")
    return "file", str(path)


class ServedLikeAServer:
    """An in-process ASGI app that behaves towards test clients as it would under a server.

    - Lifespan: a server runs it once per process. schemathesis' pytest plugin ends
      ASGI lifespans after every test item, so without this an app whose shutdown
      closes a resource (a database connection) would answer the next contract item
      with errors no server would ever produce. The app's startup runs on the first
      lifespan request; later startups get its state; shutdowns are acknowledged
      without reaching the app.
    - Errors: Starlette sends the 500 from an exception handler and then re-raises for
      the server to log. A server's client receives that response; so does ours. The
      exception is kept (see `errors`) so reports can say where the app raised.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._started: Any = None  # asyncio.Future, set when the app finished its startup
        self._state: dict[str, Any] = {}
        # (METHOD, path?query) -> the exception the app raised after answering it
        self.errors: dict[tuple[str, str], BaseException] = {}

    def __getattr__(self, name: str) -> Any:  # the wrapped app's attributes (e.g. FastAPI's openapi())
        return getattr(self.app, name)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
            return
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        import asyncio

        await receive()  # lifespan.startup
        if self._started is None:
            await self._start_app(scope)
        try:
            await asyncio.shield(self._started)
        except Exception as exc:
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        if isinstance(scope.get("state"), dict) and scope["state"] is not self._state:
            scope["state"].update(self._state)
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown: the app keeps running, as under a server
        await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        answered = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        query = scope.get("query_string", b"").decode("latin-1")
        try:
            with request_scope(scope["method"], scope["path"] + (f"?{query}" if query else "")):
                await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if not answered:
                raise  # nothing was sent: the client sees the crash (a server would send a bare 500)
            key = (scope["method"], scope["path"] + (f"?{query}" if query else ""))
            if len(self.errors) >= 1024:
                self.errors.pop(next(iter(self.errors)))
            self.errors[key] = exc

    async def _start_app(self, scope: dict[str, Any]) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        started = self._started = loop.create_future()
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        inbox.put_nowait({"type": "lifespan.startup"})
        self._state = scope.setdefault("state", {})

        async def app_send(message: dict[str, Any]) -> None:
            if started.done():
                return
            if message["type"] == "lifespan.startup.complete":
                started.set_result(None)
            elif message["type"] == "lifespan.startup.failed":
                started.set_exception(RuntimeError(message.get("message", "lifespan startup failed")))

        def finished(task: asyncio.Task[None]) -> None:
            # An app without lifespan support returns or raises at once: carry on without one.
            if not started.done():
                started.set_result(None)

        # A task of the client's (persistent) event loop, so it outlives this call.
        self._task = loop.create_task(self.app(scope, inbox.get, app_send))
        self._task.add_done_callback(finished)


class WSGIServedLikeAServer:
    """A WSGI app as its clients see it under a server.

    schemathesis' WSGI transport re-raises an exception a Flask app reported (its
    `got_request_exception` signal) even when the app answered: a 500 page, or the
    debugger's. Behind this plain WSGI callable the client gets that answer, as a
    server's client would, and the exception is kept in `errors` for the reports.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.errors: dict[tuple[str, str], BaseException] = {}
        try:
            import flask
        except ImportError:
            return
        if isinstance(app, flask.Flask):
            flask.got_request_exception.connect(self._record, app, weak=False)

    def _record(self, sender: Any, exception: BaseException, **extra: Any) -> None:
        from flask import request

        if len(self.errors) >= 1024:
            self.errors.pop(next(iter(self.errors)))
        self.errors[(request.method, request.full_path.rstrip("?"))] = exception

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        query = environ.get("QUERY_STRING", "")
        target = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
        with request_scope(environ.get("REQUEST_METHOD", "GET"), target):
            return self.app(environ, start_response)
