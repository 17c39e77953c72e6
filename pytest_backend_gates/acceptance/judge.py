"""Mark the accepted violations of a judged run, and what no longer applies.

Called once on the controller, after the gates were evaluated and redacted (a baseline never
holds a secret). A gate that failed only on accepted violations passes; one whose ratcheted
figure fell below its baseline value fails; a gate that could not run (`error`) stays `error`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from pytest_backend_gates.acceptance.baseline import (
    RATCHETED,
    Baseline,
    BaselineEntry,
    entry_message,
)
from pytest_backend_gates.acceptance.fingerprint import fingerprint
from pytest_backend_gates.acceptance.settings import AcceptanceSettings, IgnoreRule
from pytest_backend_gates.result import GateResult, Status, Violation

BASELINE_REASON = "in the baseline"
UPDATED_REASON = "written to the baseline by this run (--backend-gates-update-baseline)"
_LISTED = 10  # stale entries named one by one; the rest counted
_FIGURE_TOLERANCE = 0.005  # figures are rounded to 2 decimals


@dataclass
class Judged:
    results: list[GateResult]
    # --backend-gates-update-baseline: what to write (None otherwise)
    new_entries: list[BaselineEntry] | None = None
    new_figures: dict[str, dict[str, float]] = field(default_factory=dict)


def judge(results: list[GateResult], settings: AcceptanceSettings, baseline: Baseline | None, *,
          update: bool = False, complete: bool = True) -> Judged:
    """`complete`: the whole run happened (not interrupted, not partial): only then are baseline
    entries that were not seen, and ignore entries that matched nothing, worth a warning."""
    accepted_by_baseline = baseline.by_fingerprint() if baseline is not None else {}
    matched_rules: set[int] = set()
    seen: set[str] = set()
    judged: list[GateResult] = []
    for result in results:
        violations = []
        for violation in result.violations:
            violation = replace(violation, fingerprint=violation.fingerprint or fingerprint(result.gate, violation))
            seen.add(violation.fingerprint)
            rule = _first_match(settings.ignores, result.gate, violation)
            if rule is not None:
                matched_rules.add(rule.index)
                violation = replace(violation, accepted=True, reason=rule.reason)
            elif violation.fingerprint in accepted_by_baseline:
                violation = replace(violation, accepted=True, reason=BASELINE_REASON)
            elif update:
                violation = replace(violation, accepted=True, reason=UPDATED_REASON)
            violations.append(violation)
        result = replace(result, violations=violations, warnings=list(result.warnings))
        # Only a judged figure ratchets: a partial run's coverage is `skipped`, an `error` measured nothing whole.
        if baseline is not None and not update and result.status in (Status.PASSED, Status.FAILED):
            result = _ratchet(result, baseline, settings)
        judged.append(_restatus(result))

    if complete:
        _warn_stale(judged, baseline, seen, update)
        _warn_unused_ignores(judged, settings.ignores, matched_rules)
    outcome = Judged(results=judged)
    if update:
        outcome.new_entries, outcome.new_figures = _updated_baseline(judged, baseline, complete)
    return outcome


def acceptance_of(settings: AcceptanceSettings, baseline: Baseline | None, *,
                  update: bool = False) -> Callable[[str, Violation], str | None]:
    """The reason a (redacted) violation of a gate is accepted, or None: what gate items ask
    before failing, with the rules `judge` applies to the whole run."""
    accepted_by_baseline = baseline.by_fingerprint() if baseline is not None else {}

    def reason(gate: str, violation: Violation) -> str | None:
        rule = _first_match(settings.ignores, gate, violation)
        if rule is not None:
            return rule.reason
        if fingerprint(gate, violation) in accepted_by_baseline:
            return BASELINE_REASON
        return UPDATED_REASON if update else None

    return reason


def _first_match(rules: tuple[IgnoreRule, ...], gate: str, violation: Violation) -> IgnoreRule | None:
    return next((rule for rule in rules if rule.matches(gate, violation.check, violation.where)), None)


def _ratchet(result: GateResult, baseline: Baseline, settings: AcceptanceSettings) -> GateResult:
    """A ratcheted figure below its baseline value is a new violation (ignore entries may accept it)."""
    floor = baseline.figures.get(result.gate, {})
    added = []
    for key in RATCHETED.get(result.gate, ()):
        value, before = result.measured.get(key), floor.get(key)
        if not isinstance(value, (int, float)) or before is None or value >= before - _FIGURE_TOLERANCE:
            continue
        violation = Violation(
            where=key, check="ratchet",
            message=(f"{result.gate} {key} fell to {value:.2f}, below its baseline value {before:.2f} "
                     f"({baseline.path.name}): a figure may rise, not fall; add the tests that covered it, "
                     "or lower it on purpose with --backend-gates-update-baseline"),
            details={"measured": value, "baseline": before})
        violation = replace(violation, fingerprint=fingerprint(result.gate, violation))
        rule = _first_match(settings.ignores, result.gate, violation)
        if rule is not None:
            violation = replace(violation, accepted=True, reason=rule.reason)
        added.append(violation)
    return replace(result, violations=[*result.violations, *added]) if added else result


def _restatus(result: GateResult) -> GateResult:
    accepted = len(result.accepted_violations)
    if result.status == Status.FAILED and result.violations and not result.new_violations:
        return replace(result, status=Status.PASSED,
                       summary=f"passed: every violation is accepted ({accepted}); was: {result.summary}")
    if result.status == Status.PASSED and result.new_violations:  # the ratchet
        return replace(result, status=Status.FAILED,
                       summary=f"{result.new_violations[0].message.splitlines()[0]}; {result.summary}")
    if accepted and result.status in (Status.FAILED, Status.PASSED):
        return replace(result, summary=f"{result.summary} ({accepted} accepted)")
    return result


def _judged_gates(results: list[GateResult]) -> dict[str, GateResult]:
    """The gates whose verdict covers everything they check: their absences mean something."""
    return {r.gate: r for r in results if r.status in (Status.PASSED, Status.FAILED)}


def _warn_stale(results: list[GateResult], baseline: Baseline | None, seen: set[str], update: bool) -> None:
    if baseline is None or update:
        return
    judged = _judged_gates(results)
    stale: dict[str, list[BaselineEntry]] = {}
    for entry in baseline.entries:
        if entry.gate in judged and entry.fingerprint not in seen:
            stale.setdefault(entry.gate, []).append(entry)
    for gate, entries in stale.items():
        named = "; ".join(entry.shown for entry in entries[:_LISTED])
        more = f"; and {len(entries) - _LISTED} more" if len(entries) > _LISTED else ""
        judged[gate].warnings.append(
            f"baseline: {len(entries)} accepted violation{'s' * (len(entries) != 1)} no longer seen (fixed?): "
            f"{named}{more}; prune {baseline.path.name} with --backend-gates-update-baseline")


def _warn_unused_ignores(results: list[GateResult], rules: tuple[IgnoreRule, ...], matched: set[int]) -> None:
    judged = _judged_gates(results)
    for rule in rules:
        if rule.index in matched:
            continue
        gates = [name for name in judged if fnmatch.fnmatchcase(name, rule.gate)]
        if gates:  # only a gate that ran can tell that the entry matched nothing
            judged[gates[0]].warnings.append(
                f"{rule.shown} matched no violation (reason: {rule.reason}): remove it if the cause was fixed")


def _updated_baseline(results: list[GateResult], baseline: Baseline | None,
                      complete: bool) -> tuple[list[BaselineEntry], dict[str, dict[str, float]]]:
    """This run's violations (but those an ignore entry accepts), plus the old entries of gates
    that did not judge this time (not enabled, `error`, skipped) or of the whole baseline when
    the run was partial: a partial run cannot tell that an entry is gone."""
    judged = _judged_gates(results)
    entries = [BaselineEntry(gate=r.gate, check=v.check, where=v.where, fingerprint=v.fingerprint,
                             message=entry_message(v.message))
               for r in results for v in r.violations if v.reason in (UPDATED_REASON, BASELINE_REASON)]
    figures = {gate: dict(values) for gate, values in (baseline.figures.items() if baseline else ())}
    if baseline is not None:
        entries += [e for e in baseline.entries if e.gate not in judged or not complete]
    for gate, result in judged.items():
        values = {key: float(result.measured[key]) for key in RATCHETED.get(gate, ())
                  if isinstance(result.measured.get(key), (int, float))}
        if values:
            figures[gate] = values
    return entries, figures
