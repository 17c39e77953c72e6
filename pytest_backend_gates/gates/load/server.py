"""Serve the contract app on a free 127.0.0.1 port for the load gate, and stop it again.

A load test needs a real socket: locust runs in its own process and talks
HTTP. The app is served from a daemon thread of the pytest process (the app is
already imported there, with the project's `pythonpath`):

- ASGI: uvicorn (`uvicorn.Server` on a socket bound to port 0), no signal
  handlers (it is not the main thread), no logging configuration of its own.
- WSGI: the standard library's `wsgiref` server with one thread per request
  (`socketserver.ThreadingMixIn`), request logging silenced.

A handler that never returns cannot keep the run alive: the threads are
daemons, uvicorn's graceful shutdown is bounded, and the gate's own clock
bounds the load run.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from pytest_backend_gates.service.target import TargetError

START_TIMEOUT_S = 15.0


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stalls
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class ServedApp:
    """`with ServedApp(app, "asgi", label) as base_url:` the app answers at base_url until the block ends."""

    def __init__(self, app: Any, kind: str, label: str) -> None:
        self.app = app
        self.kind = kind
        self.label = label
        self.base_url = ""
        self.server_name = "uvicorn" if kind == "asgi" else "wsgiref (threaded)"
        self._thread: threading.Thread | None = None
        self._stop: Any = None

    def __enter__(self) -> str:
        if self.kind == "asgi":
            self._start_asgi()
        else:
            self._start_wsgi()
        return self.base_url

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    # -- ASGI --------------------------------------------------------------
    def _start_asgi(self) -> None:
        try:
            import uvicorn
        except ImportError:
            raise TargetError(
                f"serving the ASGI app {self.label} for the load run needs uvicorn: pip install uvicorn "
                "(or set base_url to a running server)"
            ) from None
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without
        # it every response written in two parts waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="auto",
                                timeout_graceful_shutdown=1, log_level="warning")
        server = uvicorn.Server(config)
        failure: list[BaseException] = []

        def serve() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported by the waiting thread  # noqa: BLE001
                failure.append(exc)
            finally:
                sock.close()

        self._thread = threading.Thread(target=serve, name="backend-gates-load-uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                why = f"{type(failure[0]).__name__}: {failure[0]}" if failure else \
                    "it did not start (its lifespan startup failed or hung?)"
                self._stop_asgi(server)
                raise TargetError(f"serving {self.label} with uvicorn failed: {why}")
            time.sleep(0.02)
        self._stop = lambda: self._stop_asgi(server)
        self.base_url = f"http://127.0.0.1:{port}"

    def _stop_asgi(self, server: Any) -> None:
        server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
            if self._thread.is_alive():
                server.force_exit = True
                self._thread.join(timeout=3)

    # -- WSGI --------------------------------------------------------------
    def _start_wsgi(self) -> None:
        httpd = make_server("127.0.0.1", 0, self.app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="backend-gates-load-wsgi", daemon=True)
        self._thread.start()

        def stop() -> None:
            httpd.shutdown()
            httpd.server_close()

        self._stop = stop
        self.base_url = f"http://127.0.0.1:{httpd.server_port}"

    def stop(self) -> None:
        stop, self._stop = self._stop, None
        if stop is not None:
            stop()


def check_reachable(base_url: str, timeout: float = 5.0) -> None:
    """A TCP connection to base_url's host and port, or a TargetError saying why not."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            pass
    except OSError as exc:
        raise TargetError(f"base_url = {base_url!r} is not reachable: {exc.strerror or exc} "
                          "(is the server running?)") from None
