"""What a gate produces: its status, violations, measurements and thresholds.

These objects are the only thing reporters read, and they map one to one onto
the JSON report of SPEC section 5.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"

    @property
    def fails_run(self) -> bool:
        return self in (Status.FAILED, Status.ERROR)


@dataclass(frozen=True)
class Violation:
    """One thing that broke a gate, phrased so a person can act on it."""

    where: str  # "METHOD /path", a pytest node id, or a file for coverage
    check: str  # a short stable id of what was checked
    message: str
    reproduce: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # The source line to point at, where one is known (a test, an uncovered line, an N+1's origin,
    # the app frame that raised): file relative to the project root, for CI annotations and SARIF.
    file: str | None = None
    line: int | None = None
    # Accepted by the baseline or an `ignore` entry (SPEC section 7): shown, never failing.
    accepted: bool = False
    reason: str | None = None  # why it is accepted: the ignore entry's reason, or "baseline"
    fingerprint: str = ""  # stable id across runs (acceptance/fingerprint.py), set when the run is judged
    # What makes it the same finding on the next run, when the message says more than that (a
    # total's message lists the least covered files): "" means gate, check and where suffice.
    # None: the message's first line without its numbers, ids and generated values.
    identity: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"where": self.where, "check": self.check, "message": self.message}
        if self.reproduce is not None:
            data["reproduce"] = self.reproduce
        if self.details:
            data["details"] = self.details
        # extensions (docs/report.md)
        if self.file is not None:
            data["file"] = self.file
            if self.line is not None:
                data["line"] = self.line
        if self.fingerprint:
            data["fingerprint"] = self.fingerprint
        if self.accepted:
            data["accepted"] = True
            data["reason"] = self.reason
        return data


@dataclass
class GateResult:
    gate: str
    status: Status
    summary: str
    violations: list[Violation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    # Plain information lines for the terminal (e.g. each timed test's p50/p95/p99/max); the
    # JSON report carries the same data in `measured`, and `notes` only when there are some.
    notes: list[str] = field(default_factory=list)

    @property
    def new_violations(self) -> list[Violation]:
        """The violations that fail the gate: not accepted by the baseline or an ignore entry."""
        return [v for v in self.violations if not v.accepted]

    @property
    def accepted_violations(self) -> list[Violation]:
        return [v for v in self.violations if v.accepted]

    @classmethod
    def error(cls, gate: str, reason: str, duration_s: float = 0.0) -> GateResult:
        """A gate that could not run: never a pass."""
        return cls(gate=gate, status=Status.ERROR, summary=reason, duration_s=duration_s)

    def to_json(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "status": self.status.value,
            "summary": self.summary,
            "violations": [v.to_json() for v in self.violations],
            "warnings": list(self.warnings),
            "measured": self.measured,
            "threshold": self.threshold,
            "duration_s": round(self.duration_s, 3),
        } | ({"notes": list(self.notes)} if self.notes else {})


def collapse_repeats(lines: list[str]) -> list[str]:
    """Identical lines once each, in first-seen order, with a count when repeated."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line] = counts.get(line, 0) + 1
    return [line if n == 1 else f"{line} (x{n})" for line, n in counts.items()]


def redact_result(result: GateResult, redact_text: Callable[[str], str], redact_data: Callable[[Any], Any]) -> GateResult:
    """A copy with every string passed through the redactor (secrets from ${ENV})."""
    return replace(
        result,
        summary=redact_text(result.summary),
        violations=[
            replace(
                v,
                where=redact_text(v.where),
                message=redact_text(v.message),
                reproduce=None if v.reproduce is None else redact_text(v.reproduce),
                details=redact_data(v.details),
                reason=None if v.reason is None else redact_text(v.reason),
            )
            for v in result.violations
        ],
        warnings=collapse_repeats([redact_text(w) for w in result.warnings]),
        measured=redact_data(result.measured),
        threshold=redact_data(result.threshold),
        notes=[redact_text(n) for n in result.notes],
    )
