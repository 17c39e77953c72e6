"""Security gate: every response the contract gate and the `api` fixture see, judged by
the rules in security_rules.py; each rule can be set to fail, warn or ignore.

Findings are made where the request was made (an xdist worker under xdist) and
merged on the controller. The active probes (probes.py: injection,
rate limits, mass assignment, auth, CORS origin reflection) run as items
`backend-gates::security[probe KIND]` after the contract items, against the
target and schema the contract gate loaded; what they provoke goes through the
same rules. A probe that crashed, that sent nothing, or whose requests all raised
or were all refused (401/403/404) tested nothing: the gate is then `error`, never
`passed` (docs/security.md, "When the gate says error").

Here: the gate (findings recorded and merged, probes run, the verdict); the probe
items are in probe_item.py, what a probe did in probe_outcome.py, the findings as
reported in findings.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_backend_gates.gates.base import Gate
from pytest_backend_gates.gates.items import gate_suite
from pytest_backend_gates.gates.response_rules import RuleFinding, judge_exchange
from pytest_backend_gates.gates.security.findings import grouped_findings, sniffable
from pytest_backend_gates.gates.security.paths import (
    add_path,
    concrete_path,
    merge_paths,
    paths_details,
)
from pytest_backend_gates.gates.security.probe_item import SecurityProbeItem
from pytest_backend_gates.gates.security.probe_outcome import (
    MAX_RAISED_KEPT,
    ProbeOutcome,
    probe_problems,
)
from pytest_backend_gates.gates.security.probe_types import (
    ProbeContext,
    ProbeLimitReached,
    describe_exception,
)
from pytest_backend_gates.gates.security.probes import PROBE_KINDS, Prober
from pytest_backend_gates.result import GateResult, Status, Violation
from pytest_backend_gates.security_rules import OWASP, RULE_IDS
from pytest_backend_gates.service.client import target_client
from pytest_backend_gates.service.exchange import Exchange, publisher
from pytest_backend_gates.service.identities import identity_session
from pytest_backend_gates.service.target import (
    IN_PROCESS_BASE_URL,
    REPLAY_BASE_URL,
)
from pytest_backend_gates.settings import ContractSettings, SecuritySettings


class SecurityGate(Gate):
    name = "security"
    settings: SecuritySettings

    def __init__(self, settings: SecuritySettings | None, context: Any) -> None:
        super().__init__(settings or SecuritySettings(), context)
        self._responses = 0
        self._findings: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._probe_notes: list[str] = []
        self._probes: dict[str, ProbeOutcome] = {}  # kind -> what it did, once it ran
        self._probes_selected: set[str] = set()  # probe items left after -k/-m/--lf/--deselect

    def severity(self, rule: str) -> str:
        return self.settings.rules.get(rule, "fail")

    def finding_severity(self, finding: dict[str, Any]) -> str:
        """The rule's severity; a header missing only from answers that are not sniffable, with
        `required_headers` not configured, is a warning (the default is a baseline for pages)."""
        rule = finding["rule"]
        if rule == "header-missing" and rule not in self.settings.rules and self.settings.required_headers is None \
                and not finding.get("sniffable"):
            return "warn"
        return self.severity(rule)

    @pytest.hookimpl
    def pytest_backend_gates_exchange(self, config: pytest.Config, exchange: Exchange) -> None:
        self._responses += 1
        for finding in judge_exchange(exchange, self.settings):
            self.record(finding, exchange.reproduce, exchange.source, sniffable=sniffable(exchange),
                        path=concrete_path(exchange.url))

    def record(self, finding: RuleFinding, reproduce: Any, source: str, *, sniffable: bool = False,
               path: str | None = None) -> None:
        """One finding per rule, operation and subject, counted; `reproduce` is a string or a callable
        making one. The first instance is kept, except that one seen on a sniffable answer replaces
        one seen on others only (for a missing header, that answer is the one to show)."""
        key = (finding.rule, finding.where, finding.key)
        if self.severity(finding.rule) == "ignore":
            return
        known = self._findings.get(key)
        if known is not None:
            known["count"] += 1
            if path is not None:
                add_path(known, path)
            if not (sniffable and not known["sniffable"]):
                return
        self._findings[key] = entry = {
            "rule": finding.rule,
            "where": finding.where,
            "message": finding.message,
            "key": finding.key,
            "reproduce": reproduce() if callable(reproduce) else reproduce,
            "source": source,
            "count": known["count"] if known is not None else 1,
            "sniffable": sniffable,
        }
        if known is not None:
            merge_paths(entry, known)
        if path is not None:
            add_path(entry, path)

    # -- probes ------------------------------------------------------------
    def _probe_kinds(self) -> list[str]:
        return [kind for kind in PROBE_KINDS if (kind != "rate-limit" or self.settings.rate_limits)
                and kind not in self._not_collected()]

    def _not_collected(self) -> dict[str, str]:
        """The identity probes left out of a run without credentials for them, and why."""
        config = self.context.config
        contract = config.get(ContractSettings)
        bearer = contract is not None and any(k.lower() == "authorization" for k in contract.headers)
        why: dict[str, str] = {}
        if not config.identities:
            why["authz"] = ("it needs two or more identities ([tool.backend-gates.identities.NAME]); none is "
                            "defined")
            if not bearer:
                why["jwt"] = ("no credentials to forge: no identity is defined and [tool.backend-gates.contract] "
                              "headers carry no Authorization")
        return why

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

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # What is left after deselection: a selected probe that never reports ran into an
        # interruption or a crashed worker, a deselected one is the user's choice.
        self._probes_selected = {item.label for item in session.items if isinstance(item, SecurityProbeItem)}

    def run_probe(self, item: SecurityProbeItem) -> ProbeOutcome:
        """Run one probe and record what it did."""
        contract = item.config.pluginmanager.get_plugin("backend-gates-contract")
        loaded = contract.loaded() if contract is not None else None
        if contract is None or loaded is None:
            outcome = self._probes[item.label] = ProbeOutcome(
                item.label, skipped="the contract gate could not load the schema (see its error)")
            return outcome
        schema, target = loaded
        settings = contract.settings
        publish = publisher(item.config) or (lambda exchange: None)
        outcome = self._probes[item.label] = ProbeOutcome(item.label)
        identities = identity_session(item.config, self.context.config)
        with target_client(settings, target=target, identity=identities) as client:
            replay_base = REPLAY_BASE_URL if str(client.base_url).startswith(IN_PROCESS_BASE_URL) else None
            context = ProbeContext(identities=identities, security=self.settings, redactor=self.context.config.redactor,
                                   headers=dict(settings.headers))
            prober = Prober(schema, client, lambda: target_client(settings, headers={}, target=target),
                            publish, replay_base, context=context)
            report = None
            try:
                if item.label == "rate-limit":
                    report = prober.rate_limits(dict(self.settings.rate_limits))
                else:
                    report = getattr(prober, item.label.replace("-", "_"))()
            except ProbeLimitReached as exc:
                self._probe_notes.append(str(exc))
            finally:
                outcome.statuses = dict(prober.statuses)
                outcome.refused = dict(prober.refused)
                outcome.raised_count = len(prober.raised)
                outcome.raised = [{"operation": r.operation, "error": r.error, "reproduce": r.reproduce}
                                  for r in prober.raised[:MAX_RAISED_KEPT]]
        if report is not None:
            for finding, reproduce in report.findings:
                self.record(finding, reproduce, "security probe")
            self._probe_notes.extend(report.notes)
            outcome.tested_nothing = report.tested_nothing
            if report.not_applicable is not None:
                outcome.skipped, outcome.not_applicable = report.not_applicable, True
            elif not outcome.answered and not outcome.raised_count:
                outcome.skipped = report.idle or f"the {item.label} probe found nothing to send"
            elif outcome.problem() is None:
                outcome.skipped = report.untested
        return outcome

    def probe_crashed(self, kind: str, exc: BaseException) -> None:
        self._probes.setdefault(kind, ProbeOutcome(kind)).crashed = describe_exception(exc, app_frame=False)

    def worker_output(self) -> Any:
        return {"responses": self._responses, "findings": list(self._findings.values()),
                "probe_notes": self._probe_notes, "probes": [o.to_json() for o in self._probes.values()],
                "probes_selected": sorted(self._probes_selected)}

    def absorb_worker_output(self, data: Any) -> None:
        self._responses += data["responses"]
        self._probe_notes.extend(data["probe_notes"])
        self._probes_selected.update(data["probes_selected"])
        for outcome in data["probes"]:
            self._probes[outcome["kind"]] = ProbeOutcome.from_json(outcome)
        for finding in data["findings"]:
            key = (finding["rule"], finding["where"], finding["key"])
            known = self._findings.get(key)
            if known is None:
                self._findings[key] = finding
                continue
            count = known["count"] + finding["count"]
            if finding["sniffable"] and not known["sniffable"]:
                known, finding = finding, known
                self._findings[key] = known
            known["count"] = count
            merge_paths(known, finding)

    @property
    def probe_requests(self) -> int:
        return sum(o.answered + o.raised_count for o in self._probes.values())

    def evaluate(self) -> GateResult:
        settings = self.settings
        threshold = {
            "rules": {rule: self.severity(rule) for rule in RULE_IDS},
            "required_headers": None if settings.required_headers is None else list(settings.required_headers),
            "forbid_leaks": settings.forbid_leaks,
            "sensitive_fields": list(settings.sensitive_fields),
        }
        probing = self.context.pytest_config.pluginmanager.get_plugin("backend-gates-contract") is not None
        if settings.rate_limits and not probing:
            return GateResult.error(
                self.name, "rate_limits needs the contract gate's target and schema: add a "
                "[tool.backend-gates.contract] table (app or base_url) and run it with the security gate")
        violations, notes = [], []
        counts: dict[str, int] = {}
        for finding in grouped_findings(self._findings.values(), self.finding_severity):
            counts[finding["rule"]] = counts.get(finding["rule"], 0) + 1
            message = f"{finding['message']} [{OWASP[finding['rule']]}]"
            if self.finding_severity(finding) == "warn":
                notes.append(f"{finding['where']} [{finding['rule']}]: {message}"
                             + (f"\n    reproduce: {finding['reproduce']}" if finding["reproduce"] else ""))
                continue
            violations.append(Violation(where=finding["where"], check=finding["rule"], message=message,
                                        reproduce=finding["reproduce"],
                                        details={"owasp": OWASP[finding["rule"]], "seen_by": finding["source"],
                                                 "count": finding["count"], **paths_details(finding)}))
        notes.extend(self._probe_notes)
        for outcome in sorted(self._probes.values(), key=lambda o: o.kind):
            if outcome.raised_count and outcome.answered:  # all raised: an error below, not a note
                shown = "; ".join(f"{r['operation']}: {r['error']} (reproduce: {r['reproduce']})"
                                  for r in outcome.raised[:3])
                notes.append(f"{outcome.raised_count} request{'s' if outcome.raised_count != 1 else ''} of the "
                             f"{outcome.kind} probe raised instead of being answered (a server answers 500): {shown}")
            if outcome.skipped and not outcome.not_applicable:
                notes.append(f"the {outcome.kind} probe did not probe anything: {outcome.skipped}")
        if not probing:
            notes.append(f"active probes ({', '.join(PROBE_KINDS)}) did not run: they need the contract gate")
        elif not self._probes_selected and not self._probes:
            # Under xdist the controller collects nothing: an interruption, not a deselection, may be why.
            notes.append("active probes did not run: the run was interrupted before them" if self.context.interrupted
                         else "active probes did not run: their items were deselected (-k, -m, --lf or --deselect)")
        measured = {
            "responses": self._responses,
            "probe_requests": self.probe_requests,
            "probes": {kind: {"requests": o.answered + o.raised_count, "statuses": {str(k): v for k, v in
                              sorted(o.statuses.items())}, "raised": o.raised_count,
                              "outcome": "crashed" if o.crashed else "skipped" if o.skipped else "ran"}
                       for kind, o in sorted(self._probes.items())},
            "findings": counts,
        }
        not_run = {**self._not_collected(), **{o.kind: o.skipped for o in self._probes.values() if o.not_applicable}}
        if probing and not_run:
            measured["probes_not_run"] = dict(sorted(not_run.items()))
        errors = [note for note in self._probe_notes if note.startswith("rate_limits:")]  # a limit not checked
        errors += probe_problems(self._probes, self._probes_selected, self.probe_requests)
        if self._responses == 0:
            errors.append("no HTTP response was seen to check: enable the contract gate "
                          "([tool.backend-gates.contract]) or use the api fixture in tests")
        found = ""
        if violations:
            rules = ", ".join(sorted({v.check for v in violations}))
            found = (f"{len(violations)} finding{'s' if len(violations) != 1 else ''} ({rules}) "
                     f"in {self._responses} responses")
        if errors:
            # Findings stay listed: they are real even when a probe could not run.
            summary = errors[0] + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "") + \
                (f"; also {found}" if found else "")
            return GateResult(gate=self.name, status=Status.ERROR, summary=summary, violations=violations,
                              warnings=errors[1:] + notes, measured=measured, threshold=threshold)
        if violations:
            summary, status = found, Status.FAILED
        else:
            probed = f"{self.probe_requests} probe requests" if probing else \
                "passive checks only (the active probes need the contract gate)"
            summary = f"{self._responses} responses checked, {probed}, no failing finding" \
                + (f" ({len(notes)} warned)" if notes else "")
            status = Status.PASSED
        return GateResult(gate=self.name, status=status, summary=summary, violations=violations,
                          warnings=notes, measured=measured, threshold=threshold)
