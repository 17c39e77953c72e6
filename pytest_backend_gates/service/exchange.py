"""One HTTP request and its response, as a gate or the `api` fixture saw it.

The contract gate and the `api` fixture publish every exchange through the
`pytest_backend_gates_exchange` hook; gates that judge responses (security)
implement that hook. Plain data, cheap to build, independent of the client.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_backend_gates.service.serving import raised_of

if TYPE_CHECKING:
    import pytest


@dataclass(frozen=True)
class Exchange:
    operation: str  # "GET /items/{item_id}" when the schema is known, else "GET /items/1"
    method: str
    url: str
    status: int
    headers: tuple[tuple[str, str], ...]  # response headers, in order, repeated names kept
    body: bytes
    request_headers: tuple[tuple[str, str], ...] = ()
    request_body: bytes | None = None
    source: str = "contract"  # or "api fixture"
    # What the in-process app raised while answering this 5xx, with the app's own frame
    # ("IntegrityError: ... at app/items.py:42 in update_item"); None if nothing or unknown.
    raised: str | None = None
    # Built only when a finding needs it: a curl command that replays the request.
    reproduce: Callable[[], str | None] = field(default=lambda: None, compare=False, repr=False)
    # A case schemathesis generated to be invalid (negative mode): not a request to show as the
    # way to reproduce a finding about valid use (the queries gate's N+1s).
    negative: bool = False

    def header(self, name: str) -> str | None:
        """The first response header called `name` (case-insensitive)."""
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def request_header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.request_headers if key.lower() == wanted), None)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def text(self, limit: int = 65536) -> str:
        return self.body[:limit].decode("utf-8", "replace")


def publisher(config: pytest.Config) -> Callable[[Exchange], None] | None:
    """Hands each exchange to the gates that judge responses; None when no gate listens
    (then nobody pays for building exchanges)."""
    hook = config.hook.pytest_backend_gates_exchange
    if not hook.get_hookimpls():
        return None
    return lambda exchange: hook(config=config, exchange=exchange)


def curl_command(method: str, url: str, headers: list[tuple[str, str]], body: bytes | None) -> str:
    parts = ["curl", "-X", method]
    for name, value in headers:
        parts += ["-H", f"{name}: {value}"]
    if body:
        parts += ["-d", body.decode("utf-8", "replace")]
    parts.append(url)
    return " ".join(shlex.quote(part) for part in parts)


def from_httpx(response: Any, source: str, replay_base: str | None = None) -> Exchange:
    """An exchange from an httpx response (the `api` fixture's client)."""
    request = response.request
    url = str(request.url)
    if replay_base is not None:  # in-process pseudo host -> where a developer would serve the app
        url = replay_base + request.url.raw_path.decode("ascii")
    # Headers every client adds say nothing about the request: keep the reproduction short.
    sent = [(k, v) for k, v in request.headers.items()
            if k.lower() not in ("host", "accept", "accept-encoding", "connection", "user-agent", "content-length")]
    body = request.content or None
    raised = raised_of(response)
    return Exchange(
        operation=f"{request.method} {request.url.path}",
        method=request.method,
        url=url,
        status=response.status_code,
        headers=tuple(response.headers.multi_items()),
        body=response.content,
        request_headers=tuple(request.headers.items()),
        request_body=body,
        source=source,
        raised=raised.text() if raised is not None else None,
        reproduce=lambda: curl_command(request.method, url, sent, body),
    )
