"""Active probes of the security gate: crafted requests the fuzzer would not send.

Each probe starts from the smallest valid request of an operation (hypothesis'
`find` on schemathesis' strategy for it, derandomised, so the same schema gives
the same requests every run) and changes one thing:

- injection: each string parameter / body field set to `x'` (a lone quote that
  breaks SQL built with f-strings), a tautology and a quote-free XSS payload;
  the passive rules (`sqli-error`, `leak-sql-error`, `xss-reflected`) judge the
  responses, so a probe finds what fuzzing finds, only every time.
- rate-limit: `limit + 1` rapid identical requests must meet a 429.
- mass-assignment: a field the schema marks readOnly, or that the response
  has and the request body does not declare, sent with a new value, must not
  come back with that value in a 2xx answer.
- auth: an operation with a security requirement, sent without credentials,
  must not be answered 2xx.
- cors: one request with a foreign `Origin`; the passive `cors` rule flags the
  origin reflected with credentials allowed.

Probes know nothing about pytest; `security.py` runs them as items and records
what they find.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any
from urllib.parse import quote

from pytest_backend_gates import hostile
from pytest_backend_gates.gates.response_rules import PROBE_ORIGIN, RuleFinding
from pytest_backend_gates.location import PACKAGE_DIR
from pytest_backend_gates.service.exchange import Exchange, curl_command, from_httpx
from pytest_backend_gates.service.openapi import operation_strategy

PROBE_KINDS = ("injection", "rate-limit", "mass-assignment", "auth", "cors")
QUOTE, QUOTE_BALANCED = "x'", "x''"
INJECTION_PAYLOADS = (QUOTE, "' OR '1'='1", hostile.XSS[0])
MAX_FIELDS_PER_OPERATION = 6  # mass-assignment candidates tried per operation
UNSAFE = ("POST", "PUT", "PATCH")
# A value no real record holds, so an echo of it is the server accepting ours.
PROBE_STRING = f"{hostile.MARK}-admin"
PROBE_INTEGER = 7919_000_001


class ProbeLimitReached(Exception):
    """The probes' request or time bound was reached."""


@dataclass
class ProbeRequest:
    operation: str  # "PATCH /users/{user_id}"
    method: str
    path_template: str  # the path served: under the schema's base path ("/api/users/{user_id}")
    path_parameters: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    media_type: str | None = None

    @property
    def path(self) -> str:
        path = self.path_template
        for name, value in self.path_parameters.items():
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        return path


@dataclass
class ProbeReport:
    findings: list[tuple[RuleFinding, str | None]] = field(default_factory=list)  # (finding, reproduce)
    requests: int = 0
    notes: list[str] = field(default_factory=list)
    idle: str | None = None  # why the probe had nothing to send, when it sent nothing
    untested: str | None = None  # why it tested nothing although it sent requests


@dataclass(frozen=True)
class RaisedRequest:
    """A probe request that got no answer: sending it raised (the app's own exception under a
    client that propagates it, a dropped connection, a timeout)."""

    operation: str
    error: str
    reproduce: str


def describe_exception(exc: BaseException, *, app_frame: bool = True) -> str:
    """'OperationalError: near "x": syntax error (at app.py:12 in search)': the innermost frame of
    the app's own code, none when the exception came from a library (a dropped connection); with
    `app_frame=False` the innermost frame wherever it is (a probe's own crash)."""
    import sysconfig
    import traceback
    from pathlib import Path

    libraries = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                 PACKAGE_DIR)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not app_frame
              or (not f.filename.startswith(libraries) and "site-packages" not in f.filename)]
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}{': ' + text[:300] if text else ''}{where}"


class Prober:
    """Sends probes to one target through an httpx-style client; publishes every exchange."""

    def __init__(self, schema: Any, client: Any, bare_client: Callable[[], Any], publish: Callable[[Exchange], None],
                 replay_base: str | None, max_requests: int = 1000, max_seconds: float = 60.0) -> None:
        self.schema = schema
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
        self._credentials = _credential_locations(schema.raw_schema)
        self._credential_headers = {"authorization", "cookie"} | {
            name.lower() for place, name in self._credentials if place == "header"}

    # -- schema ------------------------------------------------------------
    @property
    def operations(self) -> dict[str, Any]:
        if self._operations is None:
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
                known = _existing_id(parameter)
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

    # -- probes ------------------------------------------------------------
    def injection(self) -> ProbeReport:
        report = ProbeReport(idle="no operation has a string query or path parameter or JSON body field "
                                  "(without a format or enum) that a valid request could be generated for")
        for label in self.operations:
            base = self.minimal_request(label)
            if base is None:
                continue
            for slot, mutate in _string_slots(self.operations[label], base):
                broken: Exchange | None = None
                broken_raised: RaisedRequest | None = None
                for payload in INJECTION_PAYLOADS:
                    raised = len(self.raised)
                    exchange = self.send(mutate(payload))
                    report.requests += 1
                    if payload != QUOTE:
                        continue
                    if exchange is None:  # the app raised: what a server answers with a 500
                        broken_raised = self.raised[raised] if len(self.raised) > raised else None
                    elif exchange.status >= 500:
                        broken = exchange
                if broken is None and broken_raised is None:
                    continue
                # A lone quote gave a 5xx: SQL built from the input, unless the balanced
                # twin (`x''`, the same text to a parameterised query) fails the same way.
                twin = self.send(mutate(QUOTE_BALANCED))
                report.requests += 1
                if twin is None or twin.status >= 500:
                    continue
                if broken is not None:
                    what, reproduce = f"was answered {broken.status}", broken.reproduce()
                else:
                    assert broken_raised is not None
                    what = f"made the app raise {broken_raised.error} (a server answers 500)"
                    reproduce = broken_raised.reproduce
                report.findings.append((RuleFinding(
                    "sqli-error", label, f"{slot} = {QUOTE!r} {what}, {QUOTE_BALANCED!r} was answered "
                    f"{twin.status}: a lone quote breaks the query, so the value reaches the SQL text "
                    "(error-based injection)", "error-based"), reproduce))
        return report

    def rate_limits(self, limits: dict[str, int]) -> ProbeReport:
        report = ProbeReport()
        for label, limit in limits.items():
            if label not in self.operations:
                report.notes.append(f"rate_limits: {label!r} is not an operation of the schema")
                continue
            request = self.minimal_request(label)
            if request is None:
                report.notes.append(f"rate_limits: no valid request could be generated for {label}")
                continue
            statuses: list[int] = []
            started = time.perf_counter()
            last = None
            raised = len(self.raised)
            for _ in range(limit + 1):
                exchange = self.send(request)
                report.requests += 1
                if exchange is None:
                    continue
                last = exchange
                statuses.append(exchange.status)
                if exchange.status == 429:
                    break
            if 429 in statuses:
                continue
            seconds = time.perf_counter() - started
            if last is None:
                report.notes.append(f"rate_limits: {label}: all {limit + 1} requests raised instead of being "
                                    f"answered, e.g. {self.raised[raised].error}; the limit could not be checked")
                continue
            if set(statuses) == {404}:
                report.notes.append(f"rate_limits: {label} answered 404 to all {len(statuses)} requests "
                                    f"({request.method} {request.path}): the operation was not reached, so its "
                                    "limit could not be checked; check the schema's servers/base path and that "
                                    "its path ids name an existing resource")
                continue
            seen = ", ".join(f"{status} x{statuses.count(status)}" for status in sorted(set(statuses)))
            if len(statuses) <= limit:
                seen += f", raised x{limit + 1 - len(statuses)}"
            single = last.reproduce() or ""
            report.findings.append((RuleFinding(
                "rate-limit", label, f"{limit + 1} identical requests in {seconds:.2f}s, none answered 429 ({seen}); "
                f"rate_limits allows {limit}, so request {limit + 1} should have been answered 429", "burst"),
                f"for i in $(seq {limit + 1}); do {single} -s -o /dev/null -w '%{{http_code}}\\n'; done"))
        return report

    def mass_assignment(self) -> ProbeReport:
        report = ProbeReport(idle="no POST, PUT or PATCH operation with a JSON object body has a field the client "
                                  "must not set (readOnly, or in the 2xx answer but not in the request body)")
        refused: Counter[int] = Counter()
        accepted = False
        for label, operation in self.operations.items():
            if operation.method.upper() not in UNSAFE:
                continue
            candidates = _assignable_candidates(operation)
            if not candidates:
                continue
            # A base request the server accepts: the smallest, else the smallest with a body.
            base, before = None, {}
            for with_body in (False, True):
                request = self.minimal_request(label, with_body=with_body)
                if request is None or not isinstance(request.body, dict) or "json" not in (request.media_type or ""):
                    continue
                first = self.send(request)
                report.requests += 1
                if first is None:
                    continue
                if 200 <= first.status < 300:
                    base, before = request, _json_object(first)
                    break
                refused[first.status] += 1
            if base is None:
                continue
            accepted = True
            for name, schema in list(candidates.items())[:MAX_FIELDS_PER_OPERATION]:
                value = _different_value(schema, before.get(name))
                if value is None:
                    continue
                probe = replace(base, body={**base.body, name: value})
                answer = self.send(probe)
                report.requests += 1
                if answer is not None and 200 <= answer.status < 300 and _json_object(answer).get(name) == value:
                    why = "readOnly in the schema" if schema.get("readOnly") else \
                        "not a field of the request body in the schema"
                    report.findings.append((RuleFinding(
                        "mass-assignment", label, f"the body field {name!r} ({why}) was accepted: sent "
                        f"{json.dumps(value)}, answered {answer.status} with {name}={json.dumps(value)}", name),
                        answer.reproduce()))
        if refused and not accepted:
            hints = {404: "a path parameter's `example` in the schema naming an existing resource",
                     409: "fresh values for unique fields (409: the smallest request names a record that exists)",
                     401: "credentials in the contract gate's `headers`", 403: "credentials allowed to write"}
            helps = "; ".join(hint for status, hint in hints.items() if status in refused)
            report.untested = ("no operation accepted the request to start from (its smallest valid request; "
                               f"answers: {', '.join(f'{k} x{v}' for k, v in sorted(refused.items()))}), so no "
                               "field was tried" + (f"; what helps: {helps}" if helps else ""))
        return report

    def auth(self) -> ProbeReport:
        report = ProbeReport(idle="no operation requires credentials in the schema (security)")
        for label, operation in self.operations.items():
            if not self._requires_credentials(label):
                continue  # none, or `{}` among the alternatives: anonymous access is allowed
            requirement = operation.definition.raw.get("security", self.schema.raw_schema.get("security"))
            request = self.minimal_request(label)
            if request is None:
                continue
            strip_query = {name for place, name in self._credentials if place == "query"}
            request.query = {k: v for k, v in request.query.items() if k not in strip_query}
            headers = tuple(self._credential_headers)
            with self.bare_client() as bare:
                answer = self.send(request, client=bare, strip_headers=headers)
            report.requests += 1
            if answer is not None and 200 <= answer.status < 300:
                schemes = sorted({name for alternative in requirement for name in alternative})
                report.findings.append((RuleFinding(
                    "auth-ignored", label, f"answered {answer.status} to a request without credentials, although "
                    f"the schema requires {' or '.join(schemes)}", "no-credentials"), answer.reproduce()))
        return report

    def cors(self) -> ProbeReport:
        report = ProbeReport(idle="no GET operation with a valid request to send the CORS probe to")
        for label in self.operations:
            request = self.minimal_request(label)
            if request is None or request.method != "GET":
                continue
            answer = self.send(request, extra_headers={"Origin": PROBE_ORIGIN})
            report.requests += 1
            # CORS is configured app-wide: one answer from a handler tells. A refusal or a 404 may
            # come from before the CORS layer, so the next GET is tried (bounded by the operations).
            if answer is not None and answer.status not in (401, 403, 404):
                return report
        return report


def _string_slots(operation: Any, base: ProbeRequest) -> Iterator[tuple[str, Callable[[str], ProbeRequest]]]:
    """(name, function) per string input of the request: payload -> a copy of `base` with it there."""
    for parameter in operation.iter_parameters():
        location = str(getattr(parameter.location, "value", parameter.location))
        if location not in ("query", "path") or not _is_string(parameter.optimized_schema):
            continue

        def mutate(payload: str, name: str = parameter.name, where: str = location) -> ProbeRequest:
            request = replace(base, path_parameters=dict(base.path_parameters), query=dict(base.query))
            (request.path_parameters if where == "path" else request.query)[name] = payload
            return request

        yield f"{location} parameter {parameter.name!r}", mutate
    for body in operation.body:
        if body.media_type != base.media_type or not isinstance(base.body, dict):
            continue
        schema = _bundled_root(body.optimized_schema)
        schema = schema if isinstance(schema, dict) else {}
        for name, prop in (schema.get("properties") or {}).items():
            if not _is_string(prop) or prop.get("readOnly"):
                continue

            def mutate_body(payload: str, name: str = name) -> ProbeRequest:
                return replace(base, body={**base.body, name: payload})

            yield f"body field {name!r}", mutate_body


def _existing_id(parameter: Any) -> Any:
    """A path value likely to name an existing resource: the documented example, else for an
    integer id its lowest allowed value (>= 1: databases count from 1). None: keep hypothesis' value."""
    definition = parameter.definition if isinstance(parameter.definition, dict) else {}
    schema = parameter.optimized_schema if isinstance(parameter.optimized_schema, dict) else {}
    if "example" in definition:
        return definition["example"]
    for examples in (definition.get("examples"), schema.get("examples")):
        if isinstance(examples, dict) and examples:
            first = next(iter(examples.values()))
            return first.get("value") if isinstance(first, dict) else first
        if isinstance(examples, list) and examples:
            return examples[0]
    if "example" in schema:
        return schema["example"]
    if schema.get("type") == "integer":
        lowest = max(int(schema.get("minimum", 1)), 1)
        return lowest if lowest <= schema.get("maximum", lowest) else None
    return None


def _is_string(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    return (kind == "string" or (isinstance(kind, list) and "string" in kind)) and "enum" not in schema \
        and "format" not in schema


def _assignable_candidates(operation: Any) -> dict[str, dict[str, Any]]:
    """Fields a client must not set: readOnly in the request body, or in a 2xx response's object
    but not declared in the request body."""
    request_props: dict[str, Any] = {}
    candidates: dict[str, dict[str, Any]] = {}
    for body in operation.body:
        schema = _bundled_root(body.optimized_schema)
        schema = schema if isinstance(schema, dict) else {}
        for name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict) and prop.get("readOnly"):
                candidates[name] = prop
            elif prop != {"not": {}}:  # schemathesis turns a readOnly property of a request into "never"
                request_props[name] = prop
    for status, response in operation.responses.items():
        if not str(status).startswith("2"):
            continue
        try:
            resolved = response.get_schema()
        except Exception:
            continue
        answer = _bundled_root(getattr(resolved, "schema", None))
        if not isinstance(answer, dict):
            continue
        for name, prop in (answer.get("properties") or {}).items():
            if name not in request_props and isinstance(prop, dict):
                candidates.setdefault(name, prop)
        break
    return candidates


def _bundled_root(schema: Any) -> Any:
    """A response schema as schemathesis resolves it: a model that nests others (an order and its
    items, what most real APIs answer) comes as `{"$ref": "#/x-bundled/schema000001", "x-bundled":
    {...}}`; the object is the bundle's entry the root `$ref` names."""
    if not isinstance(schema, dict):
        return schema
    bundle = schema.get("x-bundled")
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and isinstance(bundle, dict) \
            and schema["$ref"].startswith("#/x-bundled/") and seen < 8:  # bounded: a ref to a ref
        schema = bundle.get(schema["$ref"].rsplit("/", 1)[1])
        seen += 1
    return schema


def _different_value(schema: dict[str, Any], current: Any) -> Any:
    """A value of the field's type that differs from what the server answered (None: cannot make one)."""
    if "enum" in schema:
        others = [value for value in schema["enum"] if value != current and value is not None]
        return others[-1] if others else None  # last: often the privileged one ("admin")
    declared = schema.get("type")
    kind = next((k for k in declared if k != "null"), None) if isinstance(declared, list) else declared
    if kind == "boolean":
        return not current if isinstance(current, bool) else True
    if kind == "integer":
        return PROBE_INTEGER
    if kind == "number":
        return float(PROBE_INTEGER)
    if kind == "string" and "format" not in schema and "pattern" not in schema:
        return PROBE_STRING
    return None


def _json_object(exchange: Exchange) -> dict[str, Any]:
    try:
        data = json.loads(exchange.body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _credential_locations(raw_schema: dict[str, Any]) -> set[tuple[str, str]]:
    """(place, name) of every apiKey credential the schema declares, e.g. ("header", "X-API-Key")."""
    schemes = (raw_schema.get("components") or {}).get("securitySchemes") or \
        raw_schema.get("securityDefinitions") or {}
    found = set()
    for scheme in schemes.values():
        if isinstance(scheme, dict) and scheme.get("type") == "apiKey" and scheme.get("name"):
            found.add((scheme.get("in", "header"), scheme["name"]))
    return found
