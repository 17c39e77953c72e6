"""Security gate: every response the contract gate and the `api` fixture see, judged by
the rules in security_rules.py; each rule can be set to fail, warn or ignore.

Findings are made where the request was made (an xdist worker under xdist) and
merged on the controller. The active probes (security_probes.py: injection,
rate limits, mass assignment, auth, CORS origin reflection) run as items
`backend-gates::security[probe KIND]` after the contract items, against the
target and schema the contract gate loaded; what they provoke goes through the
same rules.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..config import SECURITY_RULES, SecuritySettings
from ..exchange import Exchange, publisher
from ..result import GateResult, Status, Violation
from . import Gate
from .items import GateItem, GateItemFailure, gate_suite, problem_lines
from .security_rules import OWASP, Finding, inspect

RULE_ORDER = ("sqli-error", "xss-reflected", "auth-ignored", "mass-assignment", "rate-limit", "leak-traceback",
              "leak-sql-error", "leak-debug-page", "server-banner", "header-missing", "sensitive-field",
              "cookie-flags", "cors")
# The rules each probe is there to provoke (a probe item fails on new findings of them).
PROBE_RULES = {
    "injection": ("sqli-error", "leak-sql-error", "xss-reflected", "leak-traceback", "leak-debug-page"),
    "rate-limit": ("rate-limit",),
    "mass-assignment": ("mass-assignment",),
    "auth": ("auth-ignored",),
    "cors": ("cors",),
}


class SecurityProbeItem(GateItem):
    kind_name = "security probe"

    def __init__(self, *, gate: SecurityGate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    def runtest(self) -> None:
        before = set(self.gate._findings)
        skipped = self.gate.run_probe(self)
        if skipped:
            pytest.skip(skipped)
        new = [f for key, f in self.gate._findings.items() if key not in before
               and f["rule"] in PROBE_RULES[self.label] and self.gate.severity(f["rule"]) == "fail"]
        if new:
            header = f"{len(new)} security finding{'s' if len(new) != 1 else ''} from the {self.label} probe"
            text = "\n".join([header, *problem_lines(new, check_key="rule")])
            raise GateItemFailure(self.gate.context.config.redactor.redact(text))


# Rules about headers: one finding per header for the whole app, not one per operation.
APP_WIDE_RULES = ("server-banner", "header-missing")


class SecurityGate(Gate):
    name = "security"
    settings: SecuritySettings

    def __init__(self, settings: SecuritySettings | None, context: Any) -> None:
        super().__init__(settings or SecuritySettings(), context)
        self._responses = 0
        self._findings: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._probe_requests = 0
        self._probe_notes: list[str] = []

    def severity(self, rule: str) -> str:
        return self.settings.rules.get(rule, "fail")

    @pytest.hookimpl
    def pytest_backend_gates_exchange(self, config: pytest.Config, exchange: Exchange) -> None:
        self._responses += 1
        for finding in inspect(exchange, self.settings):
            self.record(finding, exchange.reproduce, exchange.source)

    def record(self, finding: Finding, reproduce: Any, source: str) -> None:
        """Keep the first instance of a finding; `reproduce` is a string or a callable making one."""
        key = (finding.rule, finding.where, finding.key)
        if self.severity(finding.rule) == "ignore" or key in self._findings:
            return
        self._findings[key] = {
            "rule": finding.rule,
            "where": finding.where,
            "message": finding.message,
            "key": finding.key,
            "reproduce": reproduce() if callable(reproduce) else reproduce,
            "source": source,
        }

    # -- probes ------------------------------------------------------------
    def _probe_kinds(self) -> list[str]:
        from .security_probes import PROBE_KINDS

        return [kind for kind in PROBE_KINDS if kind != "rate-limit" or self.settings.rate_limits]

    @pytest.hookimpl(tryfirst=True)  # before -k, -m and --lf select among the items
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if config.pluginmanager.get_plugin("backend-gates-contract") is None:
            return  # probes need the target and schema of the contract gate (see evaluate)
        suite = gate_suite(session)
        items.extend(
            SecurityProbeItem.from_parent(suite, name=f"security[probe {kind}]",
                                          nodeid=f"backend-gates::security[probe {kind}]", gate=self, label=kind)
            for kind in self._probe_kinds()
        )

    def run_probe(self, item: SecurityProbeItem) -> str | None:
        """Run one probe; the reason when it cannot run."""
        from ..api_client import target_client
        from ..targets import IN_PROCESS_BASE_URL, REPLAY_BASE_URL
        from .security_probes import Prober, ProbeLimitReached

        contract = item.config.pluginmanager.get_plugin("backend-gates-contract")
        loaded = contract.loaded() if contract is not None else None
        if contract is None or loaded is None:
            return "the contract gate could not load the schema (see its error)"
        schema, target = loaded
        settings = contract.settings
        publish = publisher(item.config) or (lambda exchange: None)
        with target_client(settings, target=target) as client:
            replay_base = REPLAY_BASE_URL if str(client.base_url).startswith(IN_PROCESS_BASE_URL) else None
            prober = Prober(schema, client, lambda: target_client(settings, headers={}, target=target),
                            publish, replay_base)
            try:
                if item.label == "rate-limit":
                    report = prober.rate_limits(dict(self.settings.rate_limits))
                else:
                    report = getattr(prober, item.label.replace("-", "_"))()
            except ProbeLimitReached as exc:
                self._probe_notes.append(str(exc))
                return None
            finally:
                self._probe_requests += prober.sent
        for finding, reproduce in report.findings:
            self.record(finding, reproduce, "security probe")
        self._probe_notes.extend(report.notes)
        return None

    def worker_output(self) -> Any:
        return {"responses": self._responses, "findings": list(self._findings.values()),
                "probe_requests": self._probe_requests, "probe_notes": self._probe_notes}

    def absorb_worker_output(self, data: Any) -> None:
        self._responses += data["responses"]
        self._probe_requests += data["probe_requests"]
        self._probe_notes.extend(data["probe_notes"])
        for finding in data["findings"]:
            self._findings.setdefault((finding["rule"], finding["where"], finding["key"]), finding)

    def _grouped(self) -> list[dict[str, Any]]:
        """Findings in rule order; a header problem usually holds for the whole app, so it is
        reported once, naming the other operations it was seen on."""
        ordered = sorted(self._findings.values(), key=lambda f: (
            RULE_ORDER.index(f["rule"]) if f["rule"] in RULE_ORDER else 99, f["where"]))
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
        probing = self.context.pytest_config.pluginmanager.get_plugin("backend-gates-contract") is not None
        if settings.rate_limits and not probing:
            return GateResult.error(
                self.name, "rate_limits needs the contract gate's target and schema: add a "
                "[tool.backend-gates.contract] table (app or base_url) and run it with the security gate")
        for note in self._probe_notes:
            if note.startswith("rate_limits:"):  # a limit that could not be checked is not a pass
                return GateResult.error(self.name, note)
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
        notes.extend(self._probe_notes)
        if not probing:
            notes.append("active probes (injection, rate-limit, mass-assignment, auth, cors) did not run: "
                         "they need the contract gate")
        measured = {"responses": self._responses, "probe_requests": self._probe_requests, "findings": counts}
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
