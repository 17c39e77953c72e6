"""Gates fed by tests: a failed test that uses the gate's fixture or marker is a violation.

SPEC section 4: a test that carries a gate's marker or uses a gate's fixture,
and fails, is a violation of that gate too, with the test's node id as
`where`; this holds for an assertion made after the fixture returned. So the
gate watches the reports of the tests that used it, in the process where they
run (only there are `item.fixturenames` known), and under xdist ships what it
saw to the controller.

These gates are on with a bare `--backend-gates` even without a table (SPEC:
"every gate marker is enforced"); one that no test used and that has no table
is left out of the report (`TestAttributedGate.unused`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any, ClassVar

import pytest

from pytest_backend_gates.gates.base import Gate
from pytest_backend_gates.result import GateResult, Status, Violation


class TestAttributedGate(Gate):
    __test__ = False  # not a pytest test class despite the name

    fixture_names: ClassVar[tuple[str, ...]] = ()
    marker_names: ClassVar[tuple[str, ...]] = ()
    enabled_without_table: ClassVar[bool] = True
    # What one use is called in the summary: "3 validation tests".
    noun: ClassVar[str] = "test"

    def __init__(self, settings: Any, context: Any) -> None:
        super().__init__(settings, context)
        self.tests_used: list[str] = []
        self.test_failures: list[Violation] = []
        # Gate-specific findings from fixtures (e.g. probes run); see record_detail.
        self.details: dict[str, list[dict[str, Any]]] = {}

    # -- which tests belong to the gate -----------------------------------
    def uses_gate(self, item: pytest.Item) -> bool:
        fixtures = getattr(item, "fixturenames", ())
        return any(name in fixtures for name in self.fixture_names) or any(
            item.get_closest_marker(name) is not None for name in self.marker_names
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report: pytest.TestReport = yield
        if not self.uses_gate(item):
            return report
        # Counted when it ran, or when it failed before running (bad marker arguments in setup).
        if (report.when == "call" or report.failed) and item.nodeid not in self.tests_used:
            self.tests_used.append(item.nodeid)
        if report.failed and not hasattr(report, "wasxfail"):
            violation = self.violation_for(item, report, call)
            if violation.file is None:  # the test itself, for CI annotations (item.location is 0-based)
                path, line, _ = item.location
                violation = replace(violation, file=path, line=None if line is None else line + 1)
            self.test_failures.append(violation)
            if report.when == "call":
                self._accept_in_report(report, violation)
        return report

    def _accept_in_report(self, report: pytest.TestReport, violation: Violation) -> None:
        """A failed test whose violation the baseline or an `ignore` entry accepts is reported as
        xfailed, as `@pytest.mark.xfail(reason=...)` would: accepted findings never fail the run,
        and the test still shows (`x` in the progress, `-rx` lists the reason)."""
        redact = self.context.config.redactor.redact
        reason = self.context.accepted(self.name, replace(violation, where=redact(violation.where),
                                                           message=redact(violation.message)))
        if reason is not None:
            report.outcome = "skipped"
            report.wasxfail = f"accepted by backend-gates ({reason})"  # type: ignore[attr-defined]

    def violation_for(self, item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo[None]) -> Violation:
        """The violation a failed test becomes; gates may refine the check id and message."""
        phase = "" if report.when == "call" else f" (in {report.when})"
        return Violation(where=item.nodeid, check=f"{self.name}-test", message=f"test failed{phase}: {failure_text(report)}")

    def record_detail(self, kind: str, data: dict[str, Any]) -> None:
        """Keep a fixture's measurement (execnet-serialisable) for the controller's evaluation."""
        self.details.setdefault(kind, []).append(data)

    # -- xdist ------------------------------------------------------------
    def worker_output(self) -> Any:
        return {
            "tests_used": self.tests_used,
            "failures": [v.to_json() for v in self.test_failures],
            "details": self.details,
        }

    def absorb_worker_output(self, data: Any) -> None:
        self.tests_used.extend(data["tests_used"])
        self.test_failures.extend(
            Violation(where=v["where"], check=v["check"], message=v["message"], reproduce=v.get("reproduce"),
                      details=v.get("details", {}), file=v.get("file"), line=v.get("line"))
            for v in data["failures"]
        )
        for kind, items in data["details"].items():
            self.details.setdefault(kind, []).extend(items)

    # -- evaluation -------------------------------------------------------
    @property
    def unused(self) -> bool:
        """No test used the gate and it has no table: not worth a line in the report."""
        return not self.tests_used and not self.test_failures and not self.details and self.settings is None

    def evaluate(self) -> GateResult:
        count = len(self.tests_used)
        if not count and not self.details:
            return GateResult(self.name, Status.SKIPPED, f"no test used {self._uses()}")
        plural = "" if count == 1 else "s"
        if self.test_failures:
            return GateResult(self.name, Status.FAILED, f"{len(self.test_failures)} of {count} {self.noun}{plural} failed",
                              violations=list(self.test_failures), measured={"tests": count})
        return GateResult(self.name, Status.PASSED, f"{count} {self.noun}{plural} passed", measured={"tests": count})

    def _uses(self) -> str:
        names = [f"the {n} fixture" for n in self.fixture_names] + [f"@pytest.mark.{n}" for n in self.marker_names]
        return " or ".join(names) or "this gate"


def failure_text(report: pytest.TestReport, limit: int = 600) -> str:
    """The failure's last line(s), e.g. 'AssertionError: assert 3 == 4', short enough for a report."""
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(longrepr)
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
