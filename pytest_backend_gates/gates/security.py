"""Security gate: every response the contract gate and the `api` fixture see, judged by
the rules in security_rules.py; each rule can be set to fail, warn or ignore.

Findings are made where the request was made (an xdist worker under xdist) and
merged on the controller. Active probes (hostile payloads, rate limits, mass
assignment, auth, CORS origin reflection) are not part of this version: the
passive rules below run on every response.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..config import SECURITY_RULES, SecuritySettings
from ..exchange import Exchange
from ..result import GateResult, Status, Violation
from . import Gate
from .security_rules import OWASP, inspect

PASSIVE_RULES = ("sqli-error", "xss-reflected", "leak-traceback", "leak-sql-error", "leak-debug-page",
                 "server-banner", "header-missing", "sensitive-field", "cookie-flags", "cors")


# Rules about headers: one finding per header for the whole app, not one per operation.
APP_WIDE_RULES = ("server-banner", "header-missing")


class SecurityGate(Gate):
    name = "security"
    settings: SecuritySettings

    def __init__(self, settings: SecuritySettings | None, context: Any) -> None:
        super().__init__(settings or SecuritySettings(), context)
        self._responses = 0
        self._findings: dict[tuple[str, str, str], dict[str, Any]] = {}

    def severity(self, rule: str) -> str:
        return self.settings.rules.get(rule, "fail")

    @pytest.hookimpl
    def pytest_backend_gates_exchange(self, config: pytest.Config, exchange: Exchange) -> None:
        self._responses += 1
        for finding in inspect(exchange, self.settings):
            severity = self.severity(finding.rule)
            key = (finding.rule, finding.where, finding.key)
            if severity == "ignore" or key in self._findings:
                continue
            self._findings[key] = {
                "rule": finding.rule,
                "where": finding.where,
                "message": finding.message,
                "key": finding.key,
                "reproduce": exchange.reproduce(),
                "source": exchange.source,
            }

    def worker_output(self) -> Any:
        return {"responses": self._responses, "findings": list(self._findings.values())}

    def absorb_worker_output(self, data: Any) -> None:
        self._responses += data["responses"]
        for finding in data["findings"]:
            self._findings.setdefault((finding["rule"], finding["where"], finding["key"]), finding)

    def _grouped(self) -> list[dict[str, Any]]:
        """Findings in rule order; a header problem usually holds for the whole app, so it is
        reported once, naming the other operations it was seen on."""
        ordered = sorted(self._findings.values(), key=lambda f: (
            PASSIVE_RULES.index(f["rule"]) if f["rule"] in PASSIVE_RULES else 99, f["where"]))
        grouped: dict[tuple[str, str], dict[str, Any]] = {}
        result = []
        for finding in ordered:
            if finding["rule"] not in APP_WIDE_RULES:
                result.append(finding)
                continue
            key = (finding["rule"], finding["key"])
            if key not in grouped:
                grouped[key] = {**finding, "also": []}
                result.append(grouped[key])
            else:
                grouped[key]["also"].append(finding["where"])
        for finding in result:
            also = finding.pop("also", [])
            if also:
                shown = ", ".join(also[:5]) + (f" and {len(also) - 5} more" if len(also) > 5 else "")
                finding["message"] += f"; also on {shown}"
        return result

    def evaluate(self) -> GateResult:
        settings = self.settings
        threshold = {
            "rules": {rule: self.severity(rule) for rule in SECURITY_RULES},
            "required_headers": list(settings.required_headers),
            "forbid_leaks": settings.forbid_leaks,
            "sensitive_fields": list(settings.sensitive_fields),
        }
        if settings.rate_limits:
            return GateResult.error(
                self.name, "rate_limits is set, but rate-limit probes are not available in this version of "
                "pytest-backend-gates; remove rate_limits or wait for the release that checks them")
        if self._responses == 0:
            return GateResult.error(
                self.name, "no HTTP response was seen to check: enable the contract gate "
                "([tool.backend-gates.contract]) or use the api fixture in tests")
        violations, notes = [], []
        counts: dict[str, int] = {}
        for finding in self._grouped():
            counts[finding["rule"]] = counts.get(finding["rule"], 0) + 1
            message = f"{finding['message']} [{OWASP[finding['rule']]}]"
            if self.severity(finding["rule"]) == "warn":
                notes.append(f"{finding['where']} [{finding['rule']}]: {message}")
                continue
            violations.append(Violation(where=finding["where"], check=finding["rule"], message=message,
                                        reproduce=finding["reproduce"],
                                        details={"owasp": OWASP[finding["rule"]], "seen_by": finding["source"]}))
        measured = {"responses": self._responses, "findings": counts}
        if violations:
            rules = ", ".join(sorted({v.check for v in violations}))
            summary = (f"{len(violations)} finding{'s' if len(violations) != 1 else ''} ({rules}) "
                       f"in {self._responses} responses")
            status = Status.FAILED
        else:
            summary = f"{self._responses} responses checked, no failing finding" + \
                      (f" ({len(notes)} warned)" if notes else "")
            status = Status.PASSED
        return GateResult(gate=self.name, status=status, summary=summary, violations=violations,
                          warnings=notes, measured=measured, threshold=threshold)
