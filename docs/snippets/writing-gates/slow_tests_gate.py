"""A third-party gate: fails when a test's call phase took longer than `limit`."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from pytest_backend_gates import Gate, GateResult, Status, Violation
from pytest_backend_gates.budget import format_duration
from pytest_backend_gates.config import Table


@dataclass(frozen=True)
class SlowTestsSettings:
    limit: float = 1.0  # seconds


def parse_slow_tests(t: Table) -> SlowTestsSettings:
    # Table helpers collect problems; they never raise.
    return SlowTestsSettings(limit=t.duration("limit", 1.0))


class SlowTestsGate(Gate):
    name = "slow_tests"
    requires_table = True
    settings_parser = parse_slow_tests
    settings_keys = ("limit",)
    settings: SlowTestsSettings

    def start(self) -> None:
        self.durations: dict[str, float] = {}  # node id -> seconds

    # The gate is registered as a pytest plugin: pytest hooks work as methods.
    # pytest_runtest_call runs in the process that runs the test (an xdist
    # worker under xdist), so workers must hand their data over.
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        started = time.perf_counter()
        try:
            return (yield)
        finally:
            self.durations[item.nodeid] = time.perf_counter() - started

    def worker_output(self) -> dict[str, float]:
        return self.durations

    def absorb_worker_output(self, data: dict[str, float]) -> None:
        self.durations.update(data)

    def evaluate(self) -> GateResult:
        limit = self.settings.limit
        slow = sorted(
            ((node, s) for node, s in self.durations.items() if s > limit),
            key=lambda pair: -pair[1],
        )
        violations = [
            Violation(
                where=node,
                check="test-duration",
                message=f"took {format_duration(s)}, limit {format_duration(limit)}",
                details={"seconds": round(s, 6)},
            )
            for node, s in slow
        ]
        return GateResult(
            gate=self.name,
            status=Status.FAILED if violations else Status.PASSED,
            summary=f"{len(slow)} of {len(self.durations)} tests over {format_duration(limit)}",
            violations=violations,
            measured={"slowest_s": round(max(self.durations.values(), default=0.0), 6)},
            threshold={"limit_s": limit},
        )


@pytest.hookimpl(optionalhook=True)  # no error when pytest-backend-gates is disabled
def pytest_backend_gates_register_gates(config: pytest.Config) -> list[type[Gate]]:
    return [SlowTestsGate]
