"""Security gate: every response the contract gate and the `api` fixture see, judged by
the rules in security_rules.py; each rule can be set to fail, warn or ignore.

Findings are made where the request was made (an xdist worker under xdist) and
merged on the controller. The active probes (security_probes.py: injection,
rate limits, mass assignment, auth, CORS origin reflection) run as items
`backend-gates::security[probe KIND]` after the contract items, against the
target and schema the contract gate loaded; what they provoke goes through the
same rules. A probe that crashed, that sent nothing, or whose requests all raised
or were all refused (401/403/404) tested nothing: the gate is then `error`, never
`passed` (docs/security.md, "When the gate says error").
"""

from __future__ import annotations

import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_backend_gates.gates.base import Gate
from pytest_backend_gates.gates.items import (
    GateItem,
    GateItemFailure,
    gate_suite,
    problem_lines,
)
from pytest_backend_gates.gates.response_rules import RuleFinding, judge_exchange
from pytest_backend_gates.gates.security.paths import (
    add_path,
    concrete_path,
    merge_paths,
    paths_details,
    paths_text,
)
from pytest_backend_gates.result import GateResult, Status, Violation
from pytest_backend_gates.security_rules import (
    APP_WIDE_RULES,
    OWASP,
    REPORT_ORDER,
    RULE_IDS,
    probe_rules,
)
from pytest_backend_gates.service.exchange import Exchange, publisher
from pytest_backend_gates.settings import SecuritySettings

# Probes whose requests must reach the code they probe: if every answer was refused before it
# (Prober._refused: 404, or 401/403 to a request that should have been let in), the probe tested
# nothing. The rate-limit probe judges its burst itself (a 404 burst is an error note there).
NEEDS_HANDLER = ("injection", "mass-assignment", "cors", "auth")
MAX_RAISED_KEPT = 10  # requests that raised, kept per probe with their reproduction (all are counted)


def statuses_text(statuses: dict[int, int]) -> str:
    return ", ".join(f"{status} x{count}" for status, count in sorted(statuses.items()))


@dataclass
class ProbeOutcome:
    """What one probe did: the requests answered (by status), those that raised, and why it
    could not run (`skipped`: nothing in the schema to probe; `crashed`: the probe itself died)."""

    kind: str
    statuses: dict[int, int] = field(default_factory=dict)
    refused: dict[int, int] = field(default_factory=dict)  # the answers of `statuses` refused before the handler
    raised: list[dict[str, Any]] = field(default_factory=list)  # first MAX_RAISED_KEPT: operation, error, reproduce
    raised_count: int = 0
    skipped: str | None = None
    crashed: str | None = None

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    def problem(self) -> str | None:
        """Why this probe tested nothing although it should have (its gate is then `error`)."""
        if self.crashed is not None:
            return f"the {self.kind} probe crashed: {self.crashed}"
        if self.raised_count and not self.answered:
            first = self.raised[0]
            return (f"every one of the {self.raised_count} requests of the {self.kind} probe raised instead of "
                    f"being answered, e.g. {first['operation']}: {first['error']} "
                    f"(reproduce: {first['reproduce']}); an app behind a server answers 500 where it raises: "
                    "fix the exception, or check that the target is up")
        if self.kind in NEEDS_HANDLER and self.answered and sum(self.refused.values()) == self.answered:
            return (f"the {self.kind} probe reached no handler: all {self.answered} of its requests were answered "
                    f"{statuses_text(self.statuses)}. {refused_hint(self.statuses)}")
        return None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "statuses": {str(k): v for k, v in self.statuses.items()},
                "refused": {str(k): v for k, v in self.refused.items()}, "raised": self.raised,
                "raised_count": self.raised_count, "skipped": self.skipped, "crashed": self.crashed}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbeOutcome:
        return cls(kind=data["kind"], statuses={int(k): v for k, v in data["statuses"].items()},
                   refused={int(k): v for k, v in data["refused"].items()},
                   raised=list(data["raised"]), raised_count=data["raised_count"], skipped=data["skipped"],
                   crashed=data["crashed"])


def sniffable(exchange: Exchange) -> bool:
    """A body a browser could sniff into a page, what a missing X-Content-Type-Options is about:
    markup, or declared HTML/XML. Not JSON, not bare text such as the 'Internal Server Error' a
    server sends for a crash (nothing in it to render)."""
    if not exchange.body.strip() or exchange.content_type.endswith("json"):
        return False
    return "html" in exchange.content_type or "xml" in exchange.content_type or b"<" in exchange.body[:65536]


def refused_hint(statuses: dict[int, int]) -> str:
    refused = sum(count for status, count in statuses.items() if status in (401, 403))
    hints = []
    if refused:
        hints.append("401/403: give the contract gate credentials that are accepted, e.g. "
                     "[tool.backend-gates.contract] headers = { Authorization = \"Bearer ${API_TOKEN}\" }")
    if statuses.get(404):
        hints.append("404: the paths were not found: the probes send to the schema's paths under servers[0].url "
                     "(or base_url's path); check that they are served there, and that path ids name existing "
                     "resources (a path parameter's `example` in the schema is used)")
    return "; ".join(hints)


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
            from pytest_backend_gates.gates.security.probe_types import (
                describe_exception,
            )

            # A bug of the probe (or of a library under it), not of the app: the gate is `error`.
            self.gate.probe_crashed(self.label, exc)
            crash = describe_exception(exc, app_frame=False)
            raise GateItemFailure(redact(f"the {self.label} probe crashed: {crash}\n"
                                         + "".join(traceback.format_exception(exc)).rstrip())) from None
        new = [f for key, f in self.gate._findings.items() if key not in before
               and f["rule"] in probe_rules(self.label) and self.gate.finding_severity(f) == "fail"]
        problem = outcome.problem()
        if new:
            header = f"{len(new)} security finding{'s' if len(new) != 1 else ''} from the {self.label} probe"
            lines = [header, *problem_lines(new, check_key="rule"), *([f"error: {problem}"] if problem else [])]
            raise GateItemFailure(redact("\n".join(lines)))
        if problem:
            raise GateItemFailure(redact(problem))
        if outcome.skipped:
            pytest.skip(outcome.skipped)




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
        from pytest_backend_gates.gates.security.probes import PROBE_KINDS

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

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # What is left after deselection: a selected probe that never reports ran into an
        # interruption or a crashed worker, a deselected one is the user's choice.
        self._probes_selected = {item.label for item in session.items if isinstance(item, SecurityProbeItem)}

    def run_probe(self, item: SecurityProbeItem) -> ProbeOutcome:
        """Run one probe and record what it did."""
        from pytest_backend_gates.gates.security.probe_types import ProbeLimitReached
        from pytest_backend_gates.gates.security.probes import Prober
        from pytest_backend_gates.service.client import target_client
        from pytest_backend_gates.service.target import (
            IN_PROCESS_BASE_URL,
            REPLAY_BASE_URL,
        )

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
        with target_client(settings, target=target) as client:
            replay_base = REPLAY_BASE_URL if str(client.base_url).startswith(IN_PROCESS_BASE_URL) else None
            prober = Prober(schema, client, lambda: target_client(settings, headers={}, target=target),
                            publish, replay_base)
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
            if not outcome.answered and not outcome.raised_count:
                outcome.skipped = report.idle or f"the {item.label} probe found nothing to send"
            elif outcome.problem() is None:
                outcome.skipped = report.untested
        return outcome

    def probe_crashed(self, kind: str, exc: BaseException) -> None:
        from pytest_backend_gates.gates.security.probe_types import describe_exception

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

    def _grouped(self) -> list[dict[str, Any]]:
        """Findings in rule order, each with how often it was seen; an app-wide one (APP_WIDE_RULES)
        once, naming the other operations it was seen on."""
        ordered = sorted(self._findings.values(), key=lambda f: (
            REPORT_ORDER.index(f["rule"]) if f["rule"] in REPORT_ORDER else 99, f["where"]))
        grouped: dict[tuple[str, str], dict[str, Any]] = {}
        result = []
        for finding in ordered:
            if finding["rule"] not in APP_WIDE_RULES:
                result.append(dict(finding))
                continue
            key = (finding["rule"], finding["key"])
            if key not in grouped:
                grouped[key] = {**finding, "also": [], "paths": []}  # app-wide: operations, not ids
                result.append(grouped[key])
            else:
                first = grouped[key]
                first["also"].append(finding["where"])
                first["count"] += finding["count"]
                if finding["sniffable"] and not first["sniffable"]:  # show the answer it matters on
                    first.update(where=finding["where"], message=finding["message"],
                                 reproduce=finding["reproduce"], sniffable=True)
        for finding in result:
            also = finding.pop("also", [])
            if also:
                shown = ", ".join(also[:5]) + (f" and {len(also) - 5} more" if len(also) > 5 else "")
                finding["message"] += f"; also on {shown}"
            if finding["count"] > 1:  # one operation on many ids is one finding: say where it was seen
                finding["message"] += f" (seen in {finding['count']} responses{paths_text(finding)})"
            if finding["rule"] == "header-missing" and self.finding_severity(finding) == "warn":
                finding["message"] += (": every answer without it was JSON or bare text, which browsers do not "
                                       "sniff into a page, so this is a warning; list the header in "
                                       "required_headers to make it a failure")
        return result

    def _probe_problems(self) -> list[str]:
        """Why the probes tested nothing (each makes the gate `error`), the most telling first."""
        outcomes = [self._probes[kind] for kind in sorted(self._probes)]
        problems = [f"the {o.kind} probe crashed: {o.crashed}" for o in outcomes if o.crashed]
        # Anywhere: every answer to every probe (but the auth probe's, which wants its 401s) refused
        # before the handler. Said once for all probes, it names the cause best.
        statuses: Counter[int] = Counter()
        refused: Counter[int] = Counter()
        for outcome in outcomes:
            if outcome.kind != "auth":
                statuses.update(outcome.statuses)
                refused.update(outcome.refused)
        everywhere = bool(statuses) and refused == statuses
        if everywhere:
            problems.append(f"every security probe request was answered {statuses_text(dict(statuses))}: the "
                            f"probes reached no handler. {refused_hint(dict(statuses))}")
        for outcome in outcomes:
            problem = outcome.problem()
            if problem and not outcome.crashed and not (everywhere and "reached no handler" in problem):
                problems.append(problem)
        for kind in sorted(self._probes_selected - set(self._probes)):
            problems.append(f"the {kind} probe was selected but never reported (the run was interrupted "
                            "or its xdist worker crashed)")
        if outcomes and not problems and self.probe_requests == 0:
            kinds: dict[str, list[str]] = {}
            for outcome in outcomes:
                kinds.setdefault(outcome.skipped or "nothing to send", []).append(outcome.kind)
            reasons = "; ".join(f"{', '.join(names)}: {reason}" for reason, names in kinds.items())
            problems.append(f"the security probes sent no request ({reasons})")
        return problems

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
        for finding in self._grouped():
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
            if outcome.skipped:
                notes.append(f"the {outcome.kind} probe did not probe anything: {outcome.skipped}")
        if not probing:
            notes.append("active probes (injection, rate-limit, mass-assignment, auth, cors) did not run: "
                         "they need the contract gate")
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
        errors = [note for note in self._probe_notes if note.startswith("rate_limits:")]  # a limit not checked
        errors += self._probe_problems()
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
