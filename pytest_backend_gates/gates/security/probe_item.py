"""The security probes as items, `backend-gates::security[probe KIND]`: each runs its probe
through the gate and fails on the failing findings it made, or on why it tested nothing.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

import pytest

from pytest_backend_gates.gates.items import (
    GateItem,
    GateItemFailure,
    accepted_line,
    problem_lines,
    split_accepted,
)
from pytest_backend_gates.gates.security.probe_types import describe_exception
from pytest_backend_gates.result import Violation
from pytest_backend_gates.security_rules import OWASP, probe_rules

if TYPE_CHECKING:
    from pytest_backend_gates.gates.security.gate import SecurityGate


class SecurityProbeItem(GateItem):
    kind_name = "security probe"

    def __init__(self, *, gate: SecurityGate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    def runtest(self) -> None:
        before = set(self.gate._findings)
        redact = self.gate.context.config.redactor.redact
        try:
            outcome = self.gate.run_probe(self)
        except Exception as exc:
            # A bug of the probe (or of a library under it), not of the app: the gate is `error`.
            self.gate.probe_crashed(self.label, exc)
            crash = describe_exception(exc, app_frame=False)
            raise GateItemFailure(redact(f"the {self.label} probe crashed: {crash}\n"
                                         + "".join(traceback.format_exception(exc)).rstrip())) from None
        found = [f for key, f in self.gate._findings.items() if key not in before
                 and f["rule"] in probe_rules(self.label) and self.gate.finding_severity(f) == "fail"]
        problem = outcome.problem()
        # the message the gate reports for a finding (security/gate.py), so the same fingerprint
        new, accepted = split_accepted(self.gate.context, self.gate.name, found, lambda f: Violation(
            where=f["where"], check=f["rule"], message=f"{f['message']} [{OWASP[f['rule']]}]"))
        if new:
            header = f"{len(new)} security finding{'s' if len(new) != 1 else ''} from the {self.label} probe"
            lines = [header, *problem_lines(new, check_key="rule"), *accepted_line(accepted),
                     *([f"error: {problem}"] if problem else [])]
            raise GateItemFailure(redact("\n".join(lines)))
        if problem:
            raise GateItemFailure(redact(problem))
        if outcome.skipped:
            pytest.skip(outcome.skipped)
