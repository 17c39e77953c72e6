"""The latency gate's result: every recorded timing judged (verdict.py), its notes, warnings and
violations, the baselines of what had none written, and the summary line."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_backend_gates.budget import Budget, parse_budget
from pytest_backend_gates.gates.latency.baseline import (
    BASELINE_FILE,
    BASELINE_KEEP,
    write_baseline,
)
from pytest_backend_gates.gates.latency.stats import histogram
from pytest_backend_gates.gates.latency.verdict import judge, stats_text
from pytest_backend_gates.result import GateResult, Status, Violation


def fill_result(result: GateResult, timings: list[dict[str, Any]], *, regression: float | None,
                baselines: dict[str, dict[str, Any]], baseline_path: Path, test_failures: list[Violation],
                test_budgets: Mapping[str, tuple[Budget, ...]], tests_used: list[str], workers: int) -> None:
    """Judge `timings` into `result` (status, summary, violations, notes, warnings, measured, threshold);
    writes the baselines recorded in this run (regression mode)."""
    new_baselines: dict[str, dict[str, Any]] = {}
    measured: dict[str, Any] = {}
    threshold: dict[str, Any] = {}
    violations: list[Violation] = list(test_failures)
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    for timing in timings:
        where = timing["where"]
        budgets = [parse_budget(text) for text in timing["budgets"]]
        baseline = baselines.get(where) if regression is not None else None
        verdict = judge(budgets, timing["first"], timing["second"], baseline, regression, timing["calibration"])
        stats = verdict["stats"]
        measured[where] = {**stats, "source": timing["source"], "remeasured": verdict["remeasured"],
                           "checks": verdict["checks"], "cpu_wait_removed_percent": timing.get("cpu_wait_removed", 0.0),
                           # the samples the verdict stands on (the re-measurement when there was one)
                           "histogram": histogram(timing["second"] or timing["first"])}
        if "regression" in verdict:
            measured[where]["regression"] = verdict["regression"]
        if timing.get("statuses"):
            measured[where]["statuses"] = timing["statuses"]
            timed = sum(timing["statuses"].values())
            other = {code: n for code, n in timing["statuses"].items() if not code.startswith("2")}
            if other:
                counts = ", ".join(f"{code} x{n}" for code, n in other.items())
                result.warnings.append(f"{where}: {sum(other.values())} of {timed} timed requests were not "
                                       f"answered 2xx ({counts}): left out of the budgets, which are judged on "
                                       f"the 2xx answers only; {timing.get('hint') or 'see the statuses'}")
        threshold[where] = timing["budgets"]
        failed = [c for c in verdict["checks"] if not c["ok"]]
        for check in failed:
            violations.append(Violation(where=where, check="latency-budget",
                                        message=f"{check['text']} | {stats_text(stats)}, {timing['source']}",
                                        details={"budget": check["budget"], "measured": check["measured"],
                                                 "interval": check.get("interval"), **stats}))
        reg = verdict.get("regression")
        if reg is not None and not reg["ok"]:
            violations.append(Violation(where=where, check="latency-regression",
                                        message=f"{reg['text']} | {stats_text(stats)}, {timing['source']}",
                                        details={"slowdown_percent": reg["slowdown"], "p": reg.get("p"),
                                                 "allowed_percent": regression}))
        states = [f"{c['budget']} {'ok' if c['ok'] else 'FAILED'}" for c in verdict["checks"]]
        noise = [c["text"] for c in verdict["checks"] if c.get("suspected") and c["ok"]]
        if reg is not None:
            states.append(f"regression: {reg['text']}" if reg["ok"] else "regression FAILED")
            if reg["ok"] and "p" in reg:
                noise.append(reg["text"])
        elif regression is not None:
            samples = timing["second"] or timing["first"]
            new_baselines[where] = {"samples": list(samples)[:BASELINE_KEEP],
                                    "calibration": timing["calibration"], "recorded": now}
            states.append("baseline recorded")
        share = timing.get("cpu_wait_removed", 0.0)
        if share >= 1:
            states.insert(0, f"{share:.0f}% of the wall time other processes held the CPU: not counted")
        result.notes.append(f"{where}: {stats_text(stats)}, {timing['source']}"
                            + (f"; {'; '.join(states)}" if states else ""))
        result.warnings.extend(f"{where}: {text}" for text in noise)
    for key in test_budgets:
        if not any(nodeid == key or nodeid.split("[", 1)[0] == key for nodeid in tests_used):
            result.warnings.append(f"budgets.{key!r}: no test with this node id ran (node ids are relative to "
                                   "the rootdir, e.g. 'tests/test_perf.py::test_hash'); its budget was not checked")
    if new_baselines:
        entries = {**baselines, **new_baselines}
        first_time = not baselines
        shown = BASELINE_FILE.as_posix()
        try:
            write_baseline(baseline_path, entries)
        except OSError as exc:  # one line, not a crash: this run's verdicts stand
            result.warnings.append(f"the latency baseline could not be written to {baseline_path}: "
                                   f"{exc.strerror or exc}; regressions cannot be checked in the next run")
        else:
            result.notes.append(
                (f"no latency baseline yet: recorded one for {len(new_baselines)} test(s)/operation(s) in "
                 f"{shown}; regressions are checked against it from the next run") if first_time else
                f"recorded a baseline for {len(new_baselines)} new test(s)/operation(s) in {shown}")
    parallel = workers > 0 or any(t.get("parallel") for t in timings)
    if parallel:
        result.notes.append(f"timings were taken in parallel, on {workers or 'several'} xdist workers running "
                            "tests at the same time; judged here on the controller")
    result.violations = violations
    result.measured = {"tests": len(tests_used), "timings": measured, "parallel": parallel}
    result.threshold = {"budgets": threshold}
    if regression is not None:
        result.threshold["regression"] = f"{regression:g}%"
    if result.status is Status.ERROR:
        return
    count = len(timings)
    slow = {v.where for v in violations if v.check in ("latency-budget", "latency-regression")}
    broken = {v.where for v in violations} - slow
    noun = f"{count} timed test{'s' if count != 1 else ''}/operation{'s' if count != 1 else ''}"
    where_parallel = " (timings taken in parallel under xdist)" if parallel else ""
    if violations:
        result.status = Status.FAILED
        parts = [f"{len(slow)} of {count} over budget"] if slow else []
        if broken:
            parts.append(f"{len(broken)} budgeted test{'s' if len(broken) != 1 else ''} failed or "
                         f"{'have' if len(broken) != 1 else 'has'} bad marker arguments")
        result.summary = "; ".join(parts) + where_parallel
    else:
        result.summary = f"{noun} within budget{where_parallel}"
