"""The `api` fixture's client: httpx-style, bound to the contract gate's target.

- ASGI app: httpx.Client over serving's transport: the app's lifespan runs once, on the app's
  own event loop; requests from many threads run concurrently in that loop.
- WSGI app: httpx.Client over httpx.WSGITransport (through serving's wrapper); each request runs
  in its caller's thread.
- base_url: httpx.Client against the running server.

No Starlette TestClient: it needs Starlette (a Django or Quart ASGI app has none) and, from
Starlette 1.x, httpx2; httpx is our own dependency.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import httpx

from pytest_backend_gates.errors import UsageError
from pytest_backend_gates.service.exchange import Exchange, from_httpx
from pytest_backend_gates.service.openapi import (
    UNIT_PHASES,
    engine_config,
    load_schema,
    operation_resolver,
)
from pytest_backend_gates.service.serving import in_process_transport
from pytest_backend_gates.service.target import (
    IN_PROCESS_BASE_URL,
    REPLAY_BASE_URL,
    Target,
    load_target,
)
from pytest_backend_gates.settings import ContractSettings
from pytest_backend_gates.text import did_you_mean


@contextmanager
def open_client(settings: ContractSettings, on_exchange: Callable[[Exchange], None] | None = None,
                rootpath: Path | None = None, identity: IdentityAuths | None = None) -> Iterator[Any]:
    """A client for the configured target; every exchange goes to `on_exchange`, named by its
    operation ('GET /items/{item_id}', as the contract gate names it) when the schema has it.
    `identity`: act as the default identity (and let `client.as_(name)` act as another)."""
    with target_client(settings, identity=identity) as client:
        if on_exchange is not None:
            replay_base = REPLAY_BASE_URL if str(client.base_url).startswith(IN_PROCESS_BASE_URL) else None
            names = OperationNames(settings, rootpath or Path.cwd())

            def publish(response: Any) -> None:
                response.read()
                exchange = from_httpx(response, "api fixture", replay_base)
                path = response.request.url.path
                operation = names.resolve(exchange.method, path) or guessed_operation(exchange.method, path)
                on_exchange(replace(exchange, operation=operation))

            client.event_hooks["response"] = [*client.event_hooks["response"], publish]
        yield client


# A path segment that names one resource: a number, a UUID, a long hex id (ObjectId, digest).
_ID_SEGMENT = re.compile(r"\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                         r"|[0-9a-fA-F]{16,}")


def guessed_operation(method: str, path: str) -> str:
    """For a path no schema names (no schema loaded, or not in it): its id-like segments as
    `{id}` ('GET /users/{id}' for /users/1000), so one defect seen on many ids is one finding."""
    segments = ["{id}" if _ID_SEGMENT.fullmatch(segment) else segment for segment in path.split("/")]
    return f"{method.upper()} {'/'.join(segments)}"


class OperationNames:
    """The operation a concrete request belongs to, from the target's schema (loaded once, on
    the first exchange; without a schema the request is named by its path)."""

    def __init__(self, settings: ContractSettings, rootpath: Path) -> None:
        self._settings = settings
        self._rootpath = rootpath
        self._resolve: Callable[[str, str], str | None] | None = None
        self._lock = threading.Lock()

    def resolve(self, method: str, path: str) -> str | None:
        with self._lock:
            if self._resolve is None:
                self._resolve = self._load()
        return self._resolve(method, path)

    def _load(self) -> Callable[[str, str], str | None]:
        try:
            target = load_target(self._settings)
            schema = load_schema(self._settings, target, self._rootpath,
                                 engine_config(self._settings, 0, UNIT_PHASES, target, rootpath=self._rootpath))
            return operation_resolver(schema)
        except Exception:  # noqa: BLE001 - naming is a nicety: the contract gate reports a broken schema
            return lambda method, path: None


class IdentityAuths(Protocol):
    """What a client needs of the identities (service/identities.py): their names, and an httpx
    auth acting as one (None: the default)."""

    def names(self) -> tuple[str, ...]: ...

    def auth(self, name: str | None = None) -> httpx.Auth: ...


class ServiceClient(httpx.Client):
    """An httpx.Client bound to the service under test; `as_("bob")` is one acting as bob."""

    _identities: IdentityAuths | None = None

    def as_(self, identity: str) -> ServiceClient:
        """A client acting as `identity` (one of [tool.backend-gates.identities]); it shares this
        client's connection, hooks and headers, and is closed with it."""
        if self._identities is None:
            raise UsageError(f"api.as_({identity!r}): no identities are defined; add "
                             f"[tool.backend-gates.identities.{identity}] with headers, login or provider "
                             "to pyproject.toml")
        if identity not in self._identities.names():
            raise UsageError(f"api.as_({identity!r}): no such identity; {did_you_mean(identity, self._identities.names())}"
                             f"defined identities: {', '.join(self._identities.names())}")
        clones: dict[str, ServiceClient] = self.__dict__.setdefault("_clones", {})
        if identity not in clones:
            clone = ServiceClient(transport=self._transport, base_url=self.base_url, headers=self.headers,
                                  auth=self._identities.auth(identity), event_hooks=self.event_hooks,
                                  follow_redirects=self.follow_redirects, timeout=self.timeout)
            clone._identities = self._identities
            clones[identity] = clone
        return clones[identity]


@contextmanager
def target_client(settings: ContractSettings, headers: dict[str, str] | None = None,
                  target: Target | None = None, identity: IdentityAuths | None = None) -> Iterator[ServiceClient]:
    """A client for the target (default: loaded from settings), sending `headers` (default: the
    configured ones) with every request, acting as the default identity when `identity` is given."""
    target = target or load_target(settings)  # TargetError: the fixture turns it into a clear failure
    headers = dict(settings.headers) if headers is None else headers
    auth = identity.auth() if identity is not None else None
    if target.in_process:
        client = ServiceClient(transport=in_process_transport(target.app), base_url=IN_PROCESS_BASE_URL,
                               headers=headers, follow_redirects=False, auth=auth)
    else:
        client = ServiceClient(base_url=target.base_url, headers=headers, timeout=30.0, auth=auth)
    client._identities = identity
    with client:
        yield client
