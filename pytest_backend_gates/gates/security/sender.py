"""The security probes' sending side: the schema's operations, the smallest valid request of
each (hypothesis' `find`, derandomised), every request sent within the probes' bounds and
published to the gates, and which answers came from before the handler (refused: 404, or
401/403 to a request that should have been let in). The probes themselves are in probes.py.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from typing import Any

from pytest_backend_gates.gates.security.probe_types import (
    ProbeContext,
    ProbeLimitReached,
    ProbeRequest,
    RaisedRequest,
    describe_exception,
)
from pytest_backend_gates.gates.security.schema_fields import (
    credential_locations,
    existing_id,
)
from pytest_backend_gates.service.exchange import Exchange, curl_command, from_httpx
from pytest_backend_gates.service.openapi import operation_strategy


class ProbeSender:
    """Sends probes to one target through an httpx-style client; publishes every exchange."""

    def __init__(self, schema: Any, client: Any, bare_client: Callable[[], Any], publish: Callable[[Exchange], None],
                 replay_base: str | None, max_requests: int = 1000, max_seconds: float = 60.0,
                 context: ProbeContext | None = None) -> None:
        self.schema = schema
        self.context = context or ProbeContext()
        self.client = client
        self.bare_client = bare_client  # a client without the configured headers and cookies
        self.publish = publish
        self.replay_base = replay_base
        self.max_requests = max_requests
        self.deadline = time.monotonic() + max_seconds
        self.sent = 0
        self.statuses: Counter[int] = Counter()  # answers, by status
        self.refused: Counter[int] = Counter()  # answers that never reached the code probed (see _refused)
        self.raised: list[RaisedRequest] = []  # requests that got no answer
        self._operations: dict[str, Any] | None = None
        self._minimal: dict[str, ProbeRequest | None] = {}
        self._credentials = credential_locations(schema.raw_schema)
        self._credential_headers = {"authorization", "cookie"} | {
            name.lower() for place, name in self._credentials if place == "header"}

    # -- schema ------------------------------------------------------------
    @property
    def operations(self) -> dict[str, Any]:
        if self._operations is None:
            # Lazy: a passive security run (no contract gate, no probes) never imports schemathesis.
            from schemathesis.core.result import Ok

            self._operations = {r.ok().label: r.ok() for r in self.schema.get_all_operations() if isinstance(r, Ok)}
        return self._operations

    def minimal_request(self, label: str, *, with_body: bool = False) -> ProbeRequest | None:
        """The smallest valid request hypothesis finds for the operation (None if it cannot make one);
        `with_body`: the smallest with a non-empty body (an empty update is often special)."""
        key = f"{label} +body" if with_body else label
        if key not in self._minimal:
            found = self._find_minimal(self.operations[label], with_body)
            plain = self.minimal_request(label) if with_body else None
            if found is not None and plain is not None:  # the body alone differs from the plain minimum
                found = replace(found, path_parameters=plain.path_parameters, query=plain.query)
            self._minimal[key] = found
        request = self._minimal[key]
        return None if request is None else replace(
            request, path_parameters=dict(request.path_parameters), query=dict(request.query),
            headers=dict(request.headers), body=json.loads(json.dumps(request.body)) if request.body is not None else None)

    def _find_minimal(self, operation: Any, with_body: bool = False) -> ProbeRequest | None:
        # Lazy: a passive security run (no contract gate, no probes) never imports these.
        from hypothesis import HealthCheck, Phase, find, settings
        from schemathesis.core import NOT_SET

        def wanted(case: Any) -> bool:
            return not with_body or (isinstance(case.body, dict) and bool(case.body))

        try:
            case = find(operation_strategy(operation), wanted,
                        # No shrinking: derandomised, the first example is already the simplest, and
                        # shrinking through schemathesis' strategies costs seconds per operation.
                        settings=settings(database=None, derandomize=True, max_examples=50,
                                          phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
        except Exception:  # unsatisfiable schema, generation error: that operation is not probed
            return None
        body = None if case.body is NOT_SET else case.body
        path_parameters = dict(case.path_parameters or {})
        for parameter in operation.iter_parameters():
            if str(getattr(parameter.location, "value", parameter.location)) == "path":
                known = existing_id(parameter)
                if known is not None:
                    path_parameters[parameter.name] = known
        # The served path: schemathesis' full_path puts the schema's base path (OpenAPI 3
        # servers[0].url, Swagger basePath, or base_url's path) before the operation's path.
        return ProbeRequest(operation=operation.label, method=operation.method.upper(),
                            path_template=operation.full_path,
                            path_parameters=path_parameters, query=dict(case.query or {}),
                            # Generated credentials ("Bearer ") would override the configured ones.
                            headers={k: str(v) for k, v in (case.headers or {}).items()
                                     if k.lower() not in self._credential_headers},
                            body=body, media_type=case.media_type)

    # -- sending -----------------------------------------------------------
    def send(self, request: ProbeRequest, *, client: Any = None, extra_headers: dict[str, str] | None = None,
             strip_headers: tuple[str, ...] = ()) -> Exchange | None:
        """The answer, published to the gates; None when sending raised (recorded in `raised`: one
        request never ends a probe)."""
        if self.sent + len(self.raised) >= self.max_requests or time.monotonic() > self.deadline:
            raise ProbeLimitReached(f"security probes stopped after {self.sent + len(self.raised)} requests "
                                    "(their bound)")
        client = client or self.client
        kwargs: dict[str, Any] = {"params": request.query or None,
                                  "headers": {**request.headers, **(extra_headers or {})}}
        if request.body is not None:
            media = request.media_type or "application/json"
            if "json" in media:
                kwargs["json"] = request.body
            elif media == "application/x-www-form-urlencoded" and isinstance(request.body, dict):
                kwargs["data"] = request.body
            elif isinstance(request.body, (str, bytes)):
                kwargs["content"] = request.body
                kwargs["headers"]["content-type"] = media
            else:
                kwargs["json"] = request.body
        # An absolute URL: a path starting with "/" would be appended to base_url's own path.
        url = client.base_url.join(request.path)
        try:
            built = client.build_request(request.method, url, **kwargs)
        except Exception as exc:  # a value httpx cannot put on the wire (a header, a URL): not sent
            self._raised(request, exc, f"{request.method} {url}")
            return None
        for name in strip_headers:
            if name in built.headers:
                del built.headers[name]
        try:
            response = client.send(built)
        except Exception as exc:
            self._raised(request, exc, self._curl(built))
            return None
        self.sent += 1
        self.statuses[response.status_code] += 1
        if self._refused(request, response.status_code, credentials=client is self.client):
            self.refused[response.status_code] += 1
        exchange = replace(from_httpx(response, "security probe", self.replay_base), operation=request.operation)
        self.publish(exchange)
        return exchange

    def _refused(self, request: ProbeRequest, status: int, *, credentials: bool) -> bool:
        """An answer from before the handler: a 404 (routed nowhere, or a path id naming nothing), or
        a 401/403 to a request that should have been let in: sent with the configured credentials
        to an operation whose schema requires some, or, where the document says nothing about
        security anywhere, while credentials are configured. A 401 to an operation the document
        leaves anonymous (`security: []`, or none where others have some: a login) is the handler's
        own answer (a wrong password)."""
        if status == 404:
            return True
        if status not in (401, 403) or not credentials:
            return False
        return self._requires_credentials(request.operation) or (not self._documents_security and self._has_credentials)

    def _security(self, label: str) -> list[Any] | None:
        """The operation's security requirement (its own, else the document's); None: none declared."""
        operation = self.operations.get(label)
        if operation is None:
            return None
        requirement = operation.definition.raw.get("security", self.schema.raw_schema.get("security"))
        return requirement if isinstance(requirement, list) else None

    def _requires_credentials(self, label: str) -> bool:
        requirement = self._security(label)
        return bool(requirement) and all(alternative for alternative in requirement or ())

    @cached_property
    def _documents_security(self) -> bool:
        """The document declares security somewhere (globally or on an operation)."""
        return self.schema.raw_schema.get("security") is not None or any(
            "security" in operation.definition.raw for operation in self.operations.values())

    @property
    def _has_credentials(self) -> bool:
        """The configured `headers` carry a credential (Authorization, Cookie, an apiKey header)."""
        return any(name.lower() in self._credential_headers for name in self.client.headers)

    def _raised(self, request: ProbeRequest, exc: Exception, reproduce: str) -> None:
        self.raised.append(RaisedRequest(request.operation, describe_exception(exc), reproduce))

    def _curl(self, built: Any) -> str:
        url = str(built.url)
        if self.replay_base is not None:
            url = self.replay_base + built.url.raw_path.decode("ascii")
        headers = [(k, v) for k, v in built.headers.items()
                   if k.lower() not in ("host", "accept", "accept-encoding", "connection", "user-agent",
                                        "content-length")]
        return curl_command(built.method, url, headers, built.read() or None)
