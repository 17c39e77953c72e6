"""The engine's events read into plain outcomes: what a contract run observed per item
(violations with reproductions, statuses seen, tool errors), as data xdist workers can send.

Only public schemathesis 4.x API is used: the events of `schemathesis.engine.from_schema(...)
.execute()` and `Case` (the events module imported when a run is read, as in openapi.py).
The configuration and schema loading are openapi.py's.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_backend_gates.service.app_errors import Raised, describe_raised
from pytest_backend_gates.service.credentials import CredentialWatch
from pytest_backend_gates.service.exchange import Exchange
from pytest_backend_gates.service.openapi import IN_PROCESS_HOST, STATEFUL, short_error
from pytest_backend_gates.service.target import REPLAY_BASE_URL, Target

BODY_LIMIT = 300
TOOL_ERROR = "schemathesis could not run a request or check and skipped it: "


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
        return IN_PROCESS_HOST.sub(REPLAY_BASE_URL, command)

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
