"""The load gate's verdict on a run: the runner's error, a run that measured nothing but
errors, or the thresholds (`thresholds`, `thresholds_per_endpoint`, the budget grammar)
checked against locust's statistics; the endpoint table shown with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pytest_backend_gates.budget import Budget, format_duration
from pytest_backend_gates.gates.load.failures import (
    failing_endpoints,
    failing_text,
    failure_hint,
    is_connection_error,
)
from pytest_backend_gates.gates.load.history import history_step, load_history
from pytest_backend_gates.gates.load.locust_process import RunOutcome
from pytest_backend_gates.gates.load.stats import EndpointStats, match_endpoint
from pytest_backend_gates.result import GateResult, Status, Violation
from pytest_backend_gates.settings import LoadSettings

ALL = "all requests"


def judge(gate: str, settings: LoadSettings, outcome: RunOutcome, *, notes: list[str], left_out: Mapping[str, int],
          target_text: str, progress: Callable[[str], None]) -> GateResult:
    """The verdict on a run: its error, or the thresholds checked against its statistics."""
    threshold = {
        "thresholds": [b.render() for b in settings.thresholds],
        "thresholds_per_endpoint": {k: [b.render() for b in v] for k, v in settings.thresholds_per_endpoint.items()},
        "users": settings.users, "spawn_rate": settings.spawn_rate, "duration_s": settings.duration,
        "workers": settings.workers + settings.remote_workers,
    }
    notes = list(notes)
    if outcome.error is not None or outcome.data is None:
        if outcome.log_tail:
            notes.append("locust's output (last lines):\n" + outcome.log_tail)
        return GateResult(gate, Status.ERROR, outcome.error or "no result", warnings=notes,
                          threshold=threshold)
    data = outcome.data
    seconds = float(data["elapsed"])
    total = EndpointStats.from_locust(data["total"])
    endpoints = {f"{e['method']} {e['name']}": EndpointStats.from_locust(e) for e in data["entries"]}
    errors = sorted(data["errors"], key=lambda e: -e["occurrences"])
    if data.get("late_workers"):
        notes.append(f"{data['late_workers']} locust worker(s) sent no final report in time (still answering "
                     "heartbeats at the stop): the last seconds of their requests are missing from the figures")
    for exception in data["exceptions"]:
        notes.append(f"a locust task raised {exception['count']}x: {exception['msg']}")
    measured: dict[str, Any] = {**total.summary(seconds), "duration_s": round(seconds, 2), "users": settings.users,
                                "workers": data["workers"], "target": target_text,
                                "endpoints": {label: s.summary(seconds) for label, s in sorted(endpoints.items())}}
    if data["workers"]:
        measured["per_worker"] = dict(data.get("per_worker") or {})
        measured["lost_workers"] = list(data.get("lost_workers") or [])
    failing = failing_endpoints(errors)
    measured["failing"] = {label: dict(counts) for label, counts in failing.items()}
    default_user = settings.locustfile is None
    ok_word = "answered 2xx" if default_user else "succeeded"
    measured["succeeded"] = total.requests - total.failures
    history = load_history(data["total"], data.get("timeline") or [], data.get("started_at"),
                           history_step(settings.duration))
    if history:
        measured["history"] = history
    if left_out:
        shown = ", ".join(f"{url}: {status}" for url, status in list(left_out.items())[:5])
        more = f" and {len(left_out) - 5} more" if len(left_out) > 5 else ""
        notes.append(f"{len(left_out)} URL(s) of the default user were left out of the run (not counted as "
                     f"load failures): tried once before it, they answered 404 on ids not known to exist, or "
                     f"401/403 to the configured credentials: {shown}{more}")
        measured["left_out"] = dict(left_out)
    if total.requests == 0:
        why = f"; {errors[0]['method']} {errors[0]['name']}: {errors[0]['error']}" if errors else ""
        return GateResult(gate, Status.ERROR,
                          f"no request was answered in the {format_duration(settings.duration)} run against "
                          f"{target_text} (target hung or down?){why}",
                          warnings=notes, measured=measured, threshold=threshold)
    if total.requests == total.failures and errors and all(is_connection_error(e["error"]) for e in errors):
        return GateResult(gate, Status.ERROR,
                          f"every request failed to connect to {target_text}: {errors[0]['error']}",
                          warnings=notes, measured=measured, threshold=threshold)
    if total.failures >= total.requests:
        # Whatever the thresholds say: a run in which nothing succeeded measured nothing but errors,
        # most often of its own making (credentials, ids that do not exist).
        return GateResult(gate, Status.ERROR,
                          f"none of the {total.requests} requests {ok_word}, so the run measured errors only: "
                          f"{failing_text(failing)}{failure_hint(failing)}",
                          warnings=notes, measured=measured, threshold=threshold)

    if data.get("lost_workers"):
        # Locust's master carries on without them: their users stopped (not moved to the others) and
        # their requests since their last report are gone, so the figures are not the load configured.
        lost = data["lost_workers"]
        said = "; ".join(f"{w['worker']}: {w['why']}, {w['after_s']:g}s into the run" for w in lost)
        return GateResult(gate, Status.ERROR,
                          f"{len(lost)} of {data['workers']} locust workers were lost during the run ({said}): "
                          "their users stopped and their last requests are missing, so the figures are not the "
                          f"configured load and the thresholds are not judged ({total.requests} requests counted)",
                          warnings=notes, measured=measured, threshold=threshold)
    violations = [check_budget(ALL, budget, total, seconds, errors) for budget in settings.thresholds]
    for operation, budgets in settings.thresholds_per_endpoint.items():
        stats = match_endpoint(operation, endpoints)
        if stats is None or stats.requests == 0:
            shown = ", ".join(sorted(endpoints)[:8])
            violations.append(Violation(
                where=operation, check="load-endpoint-missing",
                message=f"no request to {operation} was made, so its thresholds could not be checked "
                        f"(endpoints seen: {shown})"))
            continue
        relevant = [e for e in errors if match_endpoint(operation, {f"{e['method']} {e['name']}": stats})]
        violations.extend(check_budget(operation, budget, stats, seconds, relevant) for budget in budgets)
    failed = [v for v in violations if v is not None]
    if errors and not any(v.check == "load-failures" for v in failed):
        notes.append(f"{total.failures} of {total.requests} requests failed: {failing_text(failing)}"
                     f"{failure_hint(failing)}")
    if not settings.thresholds and not settings.thresholds_per_endpoint:
        notes.append("no thresholds are set: the load run is reported, nothing is enforced")
    for line in _table(endpoints, total, seconds):
        progress(line)
    figures = (f"{total.requests} requests sent, {measured['succeeded']} {ok_word}, {measured['rps']:g} req/s, "
               f"{measured['failure_pct']:.3g}% failures, "
               f"p95 {format_duration(total.percentile_ms(95) / 1000)} ({settings.users} users, "
               f"{format_duration(seconds)}{', ' + str(data['workers']) + ' workers' if data['workers'] else ''})")
    count = len(settings.thresholds) + sum(len(b) for b in settings.thresholds_per_endpoint.values())
    if failed:
        summary = f"{len(failed)} of {count} thresholds violated: {figures}"
        status = Status.FAILED
    else:
        summary = f"{count} thresholds met: {figures}" if count else figures
        status = Status.PASSED
    return GateResult(gate, status, summary, violations=failed, warnings=notes, measured=measured,
                      threshold=threshold)


def check_budget(where: str, budget: Budget, stats: EndpointStats, seconds: float,
                 errors: list[dict[str, Any]]) -> Violation | None:
    check = budget.check(stats.metric(budget, seconds))
    if check.ok:
        return None
    message = f"{check.describe()} over {stats.requests} requests"
    if budget.metric == "failures" and errors:
        failing = failing_endpoints(errors)
        message += f"; failing: {failing_text(failing)}{failure_hint(failing)}"
    return Violation(where=where, check=f"load-{budget.metric}", message=message,
                     details={"budget": budget.render(), "measured": check.measured, "requests": stats.requests})


def _table(endpoints: Mapping[str, EndpointStats], total: EndpointStats, seconds: float) -> list[str]:
    rows = [(label, s) for label, s in sorted(endpoints.items())] + [(ALL, total)]
    width = max(len(label) for label, _ in rows)

    def ms(value: float) -> str:
        return format_duration(value / 1000)

    lines = [f"{'endpoint'.ljust(width)}  {'requests':>8} {'failures':>8} {'req/s':>7} {'p50':>7} {'p95':>7} {'p99':>7}"]
    for label, s in rows:
        rps = s.requests / seconds if seconds > 0 else 0.0
        lines.append(f"{label.ljust(width)}  {s.requests:>8} {s.failures:>8} {rps:>7.1f} {ms(s.percentile_ms(50)):>7} "
                     f"{ms(s.percentile_ms(95)):>7} {ms(s.percentile_ms(99)):>7}")
    return lines
