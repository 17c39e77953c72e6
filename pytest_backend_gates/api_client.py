"""The `api` fixture's client: httpx-style, bound to the contract gate's target.

- ASGI app: Starlette's TestClient (httpx-based, runs the app's lifespan, no server);
  requests from many threads run concurrently in the app's event loop.
- WSGI app: httpx.Client over httpx.WSGITransport; each request runs in its caller's thread.
- base_url: httpx.Client against the running server.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .config import ContractSettings
from .exchange import Exchange, from_httpx
from .targets import IN_PROCESS_BASE_URL, REPLAY_BASE_URL, Target, load_target


@contextmanager
def open_client(settings: ContractSettings, on_exchange: Callable[[Exchange], None] | None = None,
                target: Target | None = None) -> Iterator[Any]:
    """`target`: an already loaded target (default: loaded from settings), e.g. to read the
    exceptions its in-process app raised."""
    with target_client(settings, target=target) as client:
        if on_exchange is not None:
            replay_base = REPLAY_BASE_URL if str(client.base_url).startswith(IN_PROCESS_BASE_URL) else None

            def publish(response: Any) -> None:
                response.read()
                on_exchange(from_httpx(response, "api fixture", replay_base))

            client.event_hooks["response"] = [*client.event_hooks["response"], publish]
        yield client


@contextmanager
def target_client(settings: ContractSettings, headers: dict[str, str] | None = None,
                  target: Target | None = None) -> Iterator[Any]:
    """A client for the target (default: loaded from settings), sending `headers` (default: the
    configured ones) with every request."""
    import httpx

    target = target or load_target(settings)  # TargetError: the fixture turns it into a clear failure
    headers = dict(settings.headers) if headers is None else headers
    if target.kind == "asgi":
        with warnings.catch_warnings():
            # Starlette >= 1.10 asks for httpx2 at import; that is its users' choice, not a test failure.
            warnings.filterwarnings("ignore", message=".*httpx2", category=UserWarning)
            from starlette.testclient import TestClient

        with TestClient(target.app, base_url=IN_PROCESS_BASE_URL, headers=headers) as client:
            yield client
    elif target.kind == "wsgi":
        transport = httpx.WSGITransport(app=target.app)
        with httpx.Client(transport=transport, base_url=IN_PROCESS_BASE_URL, headers=headers) as client:
            yield client
    else:
        with httpx.Client(base_url=target.base_url, headers=headers, timeout=30.0) as client:
            yield client
