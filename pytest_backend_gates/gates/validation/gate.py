"""Validation gate: property-based input validation with hypothesis (the `input_validation` fixture).

`input_validation.check(fn, accepts=..., rejects=(ValueError,))` runs one hypothesis test
(check.py): valid inputs (from `accepts`, see inputs.py) must be accepted, invalid ones
(derived from `accepts`, plus the hostile string library shared with the security gate)
must raise one of `rejects`; another exception, or a call that outlives the per-call
deadline, is a violation. `check_endpoint` does the same for an API operation (endpoint.py).

A failing check fails its test with the shrunk inputs; the gate (a TestAttributedGate,
this module) turns every failed test that used the fixture into a violation whose `where`
is the test's node id.
"""

from __future__ import annotations

from collections import Counter

import pytest

from pytest_backend_gates.gates.test_attributed import TestAttributedGate
from pytest_backend_gates.result import GateResult, Violation


class ValidationGate(TestAttributedGate):
    name = "validation"
    fixture_names = ("input_validation",)
    noun = "validation test"

    def violation_for(self, item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo[None]) -> Violation:
        failed = [c for c in self.details.get("check", []) if c["test"] == item.nodeid and c["violations"]]
        if report.when != "call" or not failed:
            return super().violation_for(item, report, call)
        check = failed[-1]
        first = check["violations"][0]
        more = len(check["violations"]) - 1
        message = f"{check['call']}: {first['message']}" + (f" (and {more} more)" if more else "")
        return Violation(where=item.nodeid, check=first["kind"], message=message, reproduce=check["reproduce"],
                         details={"input": first["input"], "accepts": check["accepts"],
                                  "violations": check["violations"]})

    def evaluate(self) -> GateResult:
        result = super().evaluate()
        checks = self.details.get("check", [])
        if checks:
            result.measured["checks"] = len(checks)
            result.measured["inputs"] = sum(c["inputs"] for c in checks)
            kinds = Counter(v["kind"] for c in checks for v in c["violations"])
            if kinds:
                result.measured["violations"] = dict(kinds)
        return result
