"""The contract gate's result: the outcomes of its items (this process's and the xdist workers')
folded into violations, notes on operations that never answered 2xx, and the status and headline."""

from __future__ import annotations

from collections import Counter

from pytest_backend_gates.result import GateResult, Status, Violation
from pytest_backend_gates.service.engine_events import (
    OperationOutcome,
    fold_same_cause,
    group_tool_errors,
)
from pytest_backend_gates.service.openapi import STATEFUL
from pytest_backend_gates.settings import ContractSettings


def contract_result(gate: str, settings: ContractSettings, outcomes: list[OperationOutcome], *,
                    operations: list[str], seed: int, load_error: str | None, found_notes: list[str],
                    credentials_lost: str | None, interrupted: bool) -> GateResult:
    """Judge the operations' outcomes. `operations`: every operation of the schema; `found_notes`:
    warnings found at collection or sent by workers; `credentials_lost`: the credential watch's warning."""
    threshold = {"max_examples": settings.max_examples, "require_success": settings.require_success,
                 "checks": settings.checks if settings.checks == "all" else list(settings.checks),
                 "max_time_s": settings.max_time, "on_max_time": settings.on_max_time}
    errors = [f"{o.label}: {e}" for o in outcomes for e in o.errors]
    if load_error is not None and not outcomes:
        errors.append(load_error)
    # The stateful item finds again what an operation's item found: report each once. A
    # 5xx that is also an undocumented status (or any other check) with the same cause is one
    # finding: the server error.
    violations: list[Violation] = []
    reported: set[tuple[str, str, str]] = set()
    for v in fold_same_cause([v for o in outcomes for v in o.violations]):
        key = (v["where"], v["check"], str(v.get("details")) if v.get("details") else v["message"].split(" | response")[0])
        if key not in reported:
            reported.add(key)
            violations.append(Violation(**v))
    statuses: dict[str, Counter[int]] = {}
    for outcome in outcomes:
        for operation, counts in outcome.statuses.items():
            statuses.setdefault(operation, Counter()).update(counts)
    tested = sorted({o.label for o in outcomes if o.label not in (STATEFUL, "load schema") and not o.timed_out})
    notes: list[str] = []
    refused: list[str] = []  # operations that answered nothing but 401/403
    for operation in tested:
        counts = statuses.get(operation, Counter())
        if not any(200 <= status < 300 for status in counts):
            got = ", ".join(f"{status} x{n}" for status, n in counts.most_common()) or "no response"
            text = f"{operation} never answered 2xx (got {got})"
            if counts and set(counts) <= {401, 403}:
                refused.append(f"{operation} ({got})")
                text += "; the credentials were refused"
            elif settings.require_success:
                violations.append(Violation(where=operation, check="require_success", message=text))
                continue
            notes.append(text + ("" if text.endswith("refused") else
                                 "; fuzzing may not get past validation or missing resources"))
    answered = [op for op in tested if statuses.get(op)]
    ok = [op for op in answered if any(200 <= status < 300 for status in statuses[op])]
    # Measured on error pages only: no operation answered 2xx, or most refused the credentials.
    shallow = None
    if refused and len(refused) * 2 >= len(answered):
        shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
        shallow = (f"the credentials were refused: {len(refused)} of {len(answered)} operations answered only "
                   f"401/403 ({shown}); check [tool.backend-gates.contract] headers (a valid, unexpired token "
                   "of a user that exists in the app's database), or let the gates log in with an identity "
                   "([tool.backend-gates.identities.NAME] login, docs/auth.md)")
    elif answered and not ok:
        shallow = (f"no operation answered 2xx ({len(answered)} operations answered only errors): nothing "
                   "was tested beyond the error pages; check the app's data and [tool.backend-gates.contract] "
                   "headers")
    if shallow is not None:
        errors.insert(0, shallow)
    notes[:0] = [credentials_lost] if credentials_lost else []  # first: the reason for much of what follows
    notes.extend(found_notes)
    notes.extend(group_tool_errors(list(dict.fromkeys(w for o in outcomes for w in o.warnings))))
    timed_out = [o for o in outcomes if o.timed_out]
    if timed_out:
        notes.append(f"max_time ({settings.max_time:g}s) reached: {unfinished(timed_out)}")
    cases = sum(o.cases for o in outcomes)
    measured = {"operations": len(operations), "operations_tested": len(tested), "cases": cases,
                "seed": seed}
    failing_ops = {v.where for v in violations}
    server_errors = [v for v in violations if v.check == "not_a_server_error"]
    # The headline leads with what a reader acts on first: server errors, then other failures,
    # then what could not be tested (which alone never hides a found defect).
    found_text = ", ".join(part for part in (
        plural(len(server_errors), "server error") if server_errors else "",
        plural(len(violations) - len(server_errors), "other failure") if len(violations) > len(server_errors) else "",
    ) if part)
    if found_text:
        found_text = (f"{found_text} in {len(failing_ops)} of {len(operations)} operations "
                      f"({cases} cases, seed {seed})")
    if errors:
        untested = f"could not test: {errors[0]}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
        status, summary = Status.ERROR, f"{found_text}; {untested}" if found_text else untested
        notes = errors[1:] + notes
    elif not outcomes and interrupted:
        status, summary = Status.ERROR, "the run was interrupted before any contract item's outcome was recorded"
    elif not outcomes:
        status, summary = Status.SKIPPED, "no contract item ran (all deselected?)"
    elif all(o.skipped for o in outcomes):
        status, summary = Status.SKIPPED, f"nothing was tested: {outcomes[0].label}: {outcomes[0].skipped}"
    elif cases == 0 and timed_out:  # never a pass on nothing, whatever on_max_time says
        status, summary = Status.ERROR, f"max_time ({settings.max_time:g}s) was reached before any test case ran"
    elif cases == 0:
        status, summary = Status.ERROR, "no test case was generated for any operation"
    elif violations:
        status, summary = Status.FAILED, found_text
    elif timed_out and settings.on_max_time == "error":
        # The operations not reached are not passed: a fraction is green only when the user says so.
        status = Status.ERROR
        summary = (f"max_time ({settings.max_time:g}s) reached before every operation was tested "
                   f"({unfinished(timed_out)}); {len(tested)} of {len(operations)} operations fully tested, "
                   f"{cases} cases, no failures (seed {seed}); raise max_time, or set on_max_time = \"warn\" to accept a partial run")
    else:
        status = Status.PASSED
        summary = f"{len(tested)} operations, {cases} cases, no failures (seed {seed})"
    return GateResult(gate=gate, status=status, summary=summary, violations=violations,
                      warnings=notes, measured=measured, threshold=threshold,
                      duration_s=sum(o.seconds for o in outcomes))


def unfinished(outcomes: list[OperationOutcome]) -> str:
    """What max_time cut short: operations never reached, operations stopped part-way, stateful."""
    never = [o.label for o in outcomes if o.label != STATEFUL and not o.cases]
    partly = [o.label for o in outcomes if o.label != STATEFUL and o.cases]
    parts = [f"not reached: {', '.join(never)}" if never else "",
             f"stopped part-way: {', '.join(partly)}" if partly else "",
             "stateful testing not (fully) run" if any(o.label == STATEFUL for o in outcomes) else ""]
    return "; ".join(part for part in parts if part)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
