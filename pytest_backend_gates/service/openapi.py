"""The contract gate's use of schemathesis: configuration, schema loading, and turning
the engine's events into plain outcomes (violations with reproductions, statuses seen).

Only public schemathesis 4.x API is used: `schemathesis.Config`, `schemathesis.openapi`
loaders, `schemathesis.engine.from_schema(...).execute()` and its events, and `Case`.
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_backend_gates.service.app_errors import Raised, describe_raised
from pytest_backend_gates.service.credentials import CredentialWatch
from pytest_backend_gates.service.exchange import Exchange
from pytest_backend_gates.service.in_flight import INTERNAL_HEADER
from pytest_backend_gates.service.target import (
    REPLAY_BASE_URL,
    Target,
    TargetError,
    bind_to_app,
    check_loopback,
    schema_location,
)
from pytest_backend_gates.settings import ContractSettings
from pytest_backend_gates.text import did_you_mean

STATEFUL = "stateful"
UNIT_PHASES = ("examples", "coverage", "fuzzing")
BODY_LIMIT = 300
TOOL_ERROR = "schemathesis could not run a request or check and skipped it: "
# schemathesis' in-process hosts: "testserver" (ASGI) and "localhost" (WSGI)
_IN_PROCESS_HOST = re.compile(r"https?://(?:testserver|localhost)(?=[/'\"\s?]|$)")


@dataclass
class OperationOutcome:
    """What one contract item observed; plain data, so xdist workers can send it."""

    label: str  # "GET /items", or "stateful"
    cases: int = 0
    statuses: dict[str, Counter[int]] = field(default_factory=dict)  # operation -> status counts
    violations: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timed_out: bool = False
    seconds: float = 0.0  # engine time (for a batch, all of it on the item that ran it)
    skipped: str | None = None  # why nothing could be tested (stateful: no links between operations)
    done: bool = False  # computed ahead, in another item's engine run (not sent to the controller)

    def to_data(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "cases": self.cases,
            "statuses": {op: dict(counts) for op, counts in self.statuses.items()},
            "violations": self.violations,
            "errors": self.errors,
            "warnings": self.warnings,
            "timed_out": self.timed_out,
            "seconds": self.seconds,
            "skipped": self.skipped,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> OperationOutcome:
        return cls(
            label=data["label"],
            cases=data["cases"],
            statuses={op: Counter({int(k): v for k, v in counts.items()}) for op, counts in data["statuses"].items()},
            violations=data["violations"],
            errors=data["errors"],
            warnings=data["warnings"],
            timed_out=data["timed_out"],
            seconds=data["seconds"],
            skipped=data["skipped"],
        )


def engine_config(settings: ContractSettings, seed: int, phases: tuple[str, ...], target: Target | None,
                  hostile: bool = False) -> Any:
    """`hostile`: also draw string values from the hostile input library (security gate on)."""
    import schemathesis

    s = settings
    checks: dict[str, Any] = {"enabled": True} if s.checks == "all" else {"enabled": False}
    if s.checks != "all":
        checks.update({name: {"enabled": True} for name in s.checks})
    checks.update({name: {"enabled": False} for name in s.exclude_checks})
    data: dict[str, Any] = {
        "seed": seed,
        "generation": {"max-examples": s.max_examples, "database": "none"},
        "phases": {phase: {"enabled": phase in phases} for phase in (*UNIT_PHASES, STATEFUL)},
        "checks": checks,
        # One defect must not hide another in the same operation: every distinct failure.
        "continue-on-failure": True,
        # We redact ourselves, to ${VAR} placeholders that keep a reproduction runnable.
        "output": {"sanitization": {"enabled": False}},
        # No .schemathesis/ cache in the user's tree, and no replayed requests: same seed, same run.
        "cache": {"enabled": False},
    }
    if hostile:
        from pytest_backend_gates import hostile as library

        data["dictionaries"] = {library.DICTIONARY: {"values": [v for v in library.ALL if "\x00" not in v]}}
        data["generation"]["dictionaries"] = {"string": {"dictionary": library.DICTIONARY,
                                                         "probability": library.PROBABILITY}}
    if s.headers:
        data["headers"] = dict(s.headers)
    if target is not None and not target.in_process:
        data["base-url"] = target.base_url
    return schemathesis.Config.from_dict(data)


def load_schema(settings: ContractSettings, target: Target, rootpath: Path, config: Any, *,
                anonymous: bool = False) -> Any:
    """The OpenAPI schema, bound to the target, fetched with the configured headers (a schema
    behind auth), without the operations in `exclude_operations`; TargetError says why it
    cannot be loaded. Every HTTP gate loads it here, so exclusions hold for all of them.

    `anonymous`: without the headers, for a request that must not reach the app's database (a
    Django app under pytest-django at collection, before any test database exists: checking a
    token is a query)."""
    import schemathesis

    kind, where = schema_location(settings.schema, rootpath)
    headers = {} if anonymous else dict(settings.headers)
    if target.in_process and kind != "url":
        headers[INTERNAL_HEADER] = "schema"  # not a request of the API: no gate counts it
    if kind == "url":  # config.py refuses it already; this holds for settings built another way
        check_loopback(where, settings.allow_remote, key="schema")
    try:
        if kind == "file":
            schema = schemathesis.openapi.from_path(where, config=config)
            schema.app = target.app
        elif kind == "url":
            schema = schemathesis.openapi.from_url(where, config=config, headers=headers)
            if target.in_process:
                bind_to_app(schema, target, where)
        elif target.kind == "asgi":
            schema = schemathesis.openapi.from_asgi(where, target.app, config=config, headers=headers)
        elif target.kind == "wsgi":
            schema = schemathesis.openapi.from_wsgi(where, target.app, config=config, headers=headers)
        else:
            schema = schemathesis.openapi.from_url(target.base_url + where, config=config, headers=headers)
    except Exception as exc:
        source = where if kind != "path" else f"{target.description if target.in_process else target.base_url}{where}"
        hint = ""
        if any(f" {code}" in str(exc) for code in ("401", "403")):
            hint = (" (the schema is behind authentication: [tool.backend-gates.contract] headers are sent with "
                    "the schema request; check they hold valid credentials)" if settings.headers else
                    " (the schema is behind authentication: set [tool.backend-gates.contract] headers, e.g. "
                    "{ Authorization = \"Bearer ${API_TOKEN}\" })")
        raise TargetError(f"could not load the OpenAPI schema from {source}: {short_error(exc)}{hint}") from exc
    if settings.exclude_operations:
        return schema.exclude(func=lambda ctx: excluded(ctx.operation, settings.exclude_operations))
    return schema


def schema_fetched_over_the_network(settings: ContractSettings, rootpath: Path) -> bool:
    """The schema comes from a server (a URL, or a path on base_url): `--collect-only` then lists
    no gate item rather than send a request."""
    try:
        kind, _ = schema_location(settings.schema, rootpath)
    except TargetError:
        return False
    return kind == "url" or (kind == "path" and settings.base_url is not None)


def excluded(operation: Any, globs: tuple[str, ...]) -> bool:
    """Whether `exclude_operations` names the operation, by its schema path or its served path
    (with the base path of `servers`, e.g. Connexion's /api)."""
    return any(operation_matches(glob, operation.method, path)
               for glob in globs for path in {operation.path, operation.full_path})


def operation_matches(glob: str, method: str, path: str) -> bool:
    glob_method, _, glob_path = glob.partition(" ")
    return fnmatch.fnmatchcase(method.upper(), glob_method.upper()) and fnmatch.fnmatchcase(path, glob_path)


def operation_resolver(schema: Any) -> Callable[[str, str], str | None]:
    """(method, served path) -> the operation's label ('GET /items/{item_id}'), or None. A literal
    segment wins over a template one (/users/me before /users/{id})."""
    methods = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    routes: list[tuple[tuple[int, int], str, re.Pattern[str], str]] = []
    for path, item in (schema.raw_schema.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        pattern = re.compile("^" + re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(schema.get_full_path(path))) + "/?$")
        templated = path.count("{")
        for method in item:
            if method in methods:
                routes.append(((templated, -len(path)), method.upper(), pattern, f"{method.upper()} {path}"))
    routes.sort(key=lambda route: route[0])

    def resolve(method: str, path: str) -> str | None:
        return next((label for _, verb, pattern, label in routes if verb == method.upper() and pattern.match(path)),
                    None)

    return resolve


def unmatched_exclusions(schema: Any, globs: tuple[str, ...]) -> list[str]:
    """The `exclude_operations` globs that name no operation the schema describes."""
    methods = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    operations = [(method, path, schema.get_full_path(path))
                  for path, item in (schema.raw_schema.get("paths") or {}).items() if isinstance(item, dict)
                  for method in item if method in methods]
    return [glob for glob in globs
            if not any(operation_matches(glob, method, path) or operation_matches(glob, method, full)
                       for method, path, full in operations)]


def validate_checks(settings: ContractSettings) -> None:
    """Check names against schemathesis' registry (custom checks from conftest included)."""
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    known = CHECKS.get_all_names()
    listed = [] if settings.checks == "all" else list(settings.checks)
    for key, names in (("checks", listed), ("exclude_checks", list(settings.exclude_checks))):
        for name in names:
            if name not in known:
                raise pytest.UsageError(
                    f"[tool.backend-gates.contract] {key}: {name!r} is not a schemathesis check; "
                    f"{did_you_mean(name, known)}checks: {', '.join(known)}"
                )


def _is_negative(case: Any) -> bool:
    """Generated to be invalid: the whole case, or one of its parts (schemathesis 4.x metadata)."""
    meta = case.meta
    if meta is None:  # an explicit example, or a case built by hand
        return False
    return bool(meta.generation.mode.is_negative or any(c.mode.is_negative for c in meta.components.values()))


class EventReader:
    """Reads one engine run's events into the outcomes of the items it ran for."""

    def __init__(self, target: Target | None, rootpath: Path, headers: dict[str, str], deadline: float,
                 on_exchange: Callable[[Exchange], None] | None = None,
                 watch: CredentialWatch | None = None) -> None:
        self._on_exchange = on_exchange
        self._watch = watch
        self._target = target
        self._root = str(rootpath)
        self._headers = headers
        self._deadline = deadline

    def read(self, stream: Any, batch: dict[str, OperationOutcome]) -> None:
        from schemathesis.engine import events

        seen: set[tuple[str, ...]] = set()
        fuzzed: set[str] = set()
        stopped = stateful_seen = False
        first = next(iter(batch.values()))
        for event in stream:
            if time.monotonic() >= self._deadline and not stopped:
                stopped = True
                stream.stop()
            if isinstance(event, events.ScenarioFinished):
                stateful_seen = stateful_seen or event.phase.value == STATEFUL
                outcome = batch.get(STATEFUL if event.phase.value == STATEFUL else event.recorder.label or "", first)
                self._absorb_scenario(event.recorder, outcome, seen)
                if event.phase.value == "fuzzing":
                    fuzzed.add(outcome.label)
            elif isinstance(event, events.NonFatalError):
                outcome = batch.get(STATEFUL if getattr(event.phase, "value", None) == STATEFUL else event.label, first)
                self._tool_error(event, outcome)
            elif isinstance(event, events.FatalError):
                first.errors.append(f"schemathesis failed: {short_error(event.exception)}")
            elif isinstance(event, events.Interrupted) and not stopped:
                raise KeyboardInterrupt  # Ctrl-C; the stop at max_time is ours and not an interruption
        if STATEFUL in batch and not stateful_seen and not stopped:
            batch[STATEFUL].skipped = ("no links between operations (none declared in the schema, none inferred): "
                                       "there is no sequence to test statefully")
        if stopped:
            for outcome in batch.values():
                if outcome.label == STATEFUL or outcome.label not in fuzzed:
                    outcome.timed_out = True

    def _exchange(self, case: Any, request: Any, response: Any) -> Exchange:
        def pairs(headers: Any) -> tuple[tuple[str, str], ...]:
            return tuple((name, value) for name, values in (headers or {}).items() for value in values)

        def reproduce() -> str | None:
            return self._replayable(case.as_curl_command(headers=self._headers or None))

        return Exchange(
            operation=case.operation.label,
            method=request.method,
            url=self._replayable(request.uri),
            status=response.status_code,
            headers=pairs(response.headers),
            body=response.content or b"",
            request_headers=pairs(request.headers),
            request_body=request.body,
            source="contract",
            raised=raised.text() if (raised := self._raised(case.id, response.status_code)) is not None else None,
            reproduce=reproduce,
            negative=_is_negative(case),
        )

    def _case_curl(self, case: Any) -> Callable[[], str | None]:
        return lambda: self._replayable(case.as_curl_command(headers=self._headers or None))

    def _replayable(self, command: str) -> str:
        """In-process requests go to a pseudo host; point the command where a developer would
        start the app (http://127.0.0.1:8000) so it can be pasted as is."""
        if self._target is None or not self._target.in_process:
            return command
        return _IN_PROCESS_HOST.sub(REPLAY_BASE_URL, command)

    def _tool_error(self, event: Any, outcome: OperationOutcome) -> None:
        """An exception in schemathesis or the transport, not an answer of the app: in-process apps'
        exceptions are answered with a 500 (serving.py), so this is the tool failing on one request
        or check (schemathesis 4.32's ignored_auth check on a WSGI app, for one). The requests that
        did run are judged; this one is said. Against a server, an unreachable target is an error."""
        text = f"{event.info.title}: {short_error(event.value)}"
        if self._target is not None and self._target.in_process:
            raised = describe_raised(event.value, Path(self._root))
            where = f" (at {raised.place} in {raised.function})" if raised.place else ""
            outcome.warnings.append(f"{event.label or outcome.label}: {TOOL_ERROR}{text}{where}; the requests that "
                                    "did run are judged")
        else:
            outcome.errors.append(text)

    def _raised(self, case_id: str | None, status: int | None) -> Raised | None:
        """What the in-process app raised while answering this case with a 5xx (never
        attached to another answer)."""
        if status is None or status < 500 or self._target is None or not self._target.in_process:
            return None
        raised: Raised | None = self._target.app.raised(case_id)
        return raised

    def _absorb_scenario(self, recorder: Any, outcome: OperationOutcome, seen: set[tuple[str, ...]]) -> None:
        outcome.cases += len(recorder.cases)
        for case_id, interaction in recorder.interactions.items():
            response = interaction.response
            node = recorder.cases.get(case_id)
            if response is None or node is None:
                continue
            operation = node.value.operation.label
            if interaction.request.method.upper() == node.value.operation.method.upper():
                # (not the other methods the unsupported-method check sends to the same path)
                outcome.statuses.setdefault(operation, Counter())[response.status_code] += 1
            if self._watch is not None:
                request = interaction.request
                self._watch.see(operation, request.method, response.status_code,
                                ((name, value) for name, values in (request.headers or {}).items() for value in values),
                                self._case_curl(node.value), requires_auth(node.value.operation))
            if self._on_exchange is not None:
                self._on_exchange(self._exchange(node.value, interaction.request, response))
        for case_id, checks in recorder.checks.items():
            for check in checks:
                info = check.failure_info
                if info is None:
                    continue
                failure = info.failure
                operation = failure.operation or recorder.label or outcome.label
                interaction = recorder.interactions.get(failure.case_id or case_id)
                response = getattr(interaction, "response", None)
                status = getattr(response, "status_code", None)
                raised = self._raised(failure.case_id or case_id, status)
                # Distinct root causes on one operation are distinct findings.
                key = (operation, check.name, failure.title or "", str(status),
                       f"{raised.type}@{raised.place}" if raised else "")
                if key in seen:
                    continue
                seen.add(key)
                curl = info.steps[-1].curl if info.steps else info.code_sample
                violation: dict[str, Any] = {
                    "where": operation,
                    "check": check.name,
                    "message": _failure_message(failure, response, raised),
                    "reproduce": self._replayable(curl) if curl else None,
                }
                if raised is not None:
                    violation["details"] = raised.to_data()
                outcome.violations.append(violation)


def requires_auth(operation: Any) -> bool | None:
    """What the schema says: True when every alternative of the operation's security requirement
    names a scheme, False when it is public (`security: []` or a `{}` alternative), None when the
    schema declares no security at all."""
    raw = getattr(operation.definition, "raw", None) or {}
    security = raw.get("security", operation.schema.raw_schema.get("security"))
    if security is None:
        return None
    return bool(security) and all(bool(requirement) for requirement in security)


def fold_same_cause(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Server errors first; a finding of another check (undocumented status, schema mismatch) on a
    5xx whose cause a server error already names is that server error, not a second finding."""
    crashes = {(v["where"], str(v.get("details"))) for v in violations
               if v["check"] == "not_a_server_error" and v.get("details")}
    return [v for v in sorted(violations, key=lambda v: v["check"] != "not_a_server_error")
            if v["check"] == "not_a_server_error" or not v.get("details")
            or (v["where"], str(v["details"])) not in crashes]


def group_tool_errors(warnings: list[str]) -> list[str]:
    """'OP: schemathesis could not run ...: E' on many operations is one line naming them."""
    by_error: dict[str, list[str]] = {}
    others: list[str] = []
    for warning in warnings:
        operation, found, error = warning.partition(": " + TOOL_ERROR)
        if found:
            by_error.setdefault(error, []).append(operation)
        else:
            others.append(warning)
    grouped = []
    for error, operations in by_error.items():
        names = list(dict.fromkeys(operations))
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        grouped.append(f"{shown}: {TOOL_ERROR}{error}" if len(names) == 1 else
                       f"{len(names)} operations ({shown}): {TOOL_ERROR}{error}")
    return grouped + others


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _failure_message(failure: Any, response: Any, raised: Raised | None = None) -> str:
    title = failure.title or type(failure).__name__
    detail = " ".join((failure.message or "").split())
    text = f"{title}: {detail}" if detail else title
    if raised is not None:  # the cause first: what a reader acts on
        text = f"{title}: the app raised {raised.text()}"
    if response is not None:
        body = (response.content or b"")[:BODY_LIMIT].decode("utf-8", "replace")
        body = " ".join(body.split())
        more = "…" if len(response.content or b"") > BODY_LIMIT else ""
        text += f" | response {response.status_code}" + (f": {body}{more}" if body else "")
    return text


def operation_strategy(operation: Any, **kwargs: Any) -> Any:
    """`operation.as_strategy(**kwargs)` without the constants schemathesis harvests from the app's
    modules: schema-derived values are what the probes need, and schemathesis 4.32 can fail with
    "unhashable type: 'GeneratedValue'" while mixing those constants in. `FeedbackSources` is not
    exported publicly, hence the fallback."""
    try:
        from schemathesis.generation.feedback import FeedbackSources
    except ImportError:
        return operation.as_strategy(**kwargs)
    return operation.as_strategy(feedback=FeedbackSources(), **kwargs)
