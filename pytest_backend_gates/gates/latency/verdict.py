"""Judging timings (pure: the controller judges what workers measured): a budget missed at first
is confirmed or dismissed on the re-measurement, a regression against the baseline by Mann-Whitney."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from pytest_backend_gates.budget import Budget, compute_metric, format_duration
from pytest_backend_gates.gates.latency.stats import (
    REGRESSION_ALPHA,
    bootstrap_interval,
    mann_whitney_greater,
    summary,
)


def _violated_even_at(budget: Budget, low: float, high: float) -> bool:
    """A confirmed violation: even the interval's most favourable end misses the budget."""
    return not budget.check(low if budget.op in ("<", "<=") else high).ok


def _regression_limit(baseline: dict[str, Any], regression: float, calibration_now: float | None) -> list[float]:
    scale = 1.0
    if calibration_now and baseline.get("calibration"):
        scale = calibration_now / float(baseline["calibration"])
    return [float(v) * scale * (1 + regression / 100) for v in baseline["samples"]]


def suspected(budgets: Sequence[Budget], samples: Sequence[float], baseline: dict[str, Any] | None,
              regression: float | None, calibration_now: float | None) -> bool:
    """Does the first measurement miss a budget or look like a regression (so: measure again)?"""
    if any(not b.check(compute_metric(b.metric, samples)).ok for b in budgets):
        return True
    if regression is not None and baseline is not None:
        limit = _regression_limit(baseline, regression, calibration_now)
        return statistics.median(samples) > statistics.median(limit)
    return False


def judge(budgets: Sequence[Budget], first: Sequence[float], second: Sequence[float] | None,
          baseline: dict[str, Any] | None = None, regression: float | None = None,
          calibration_now: float | None = None) -> dict[str, Any]:
    """The verdict on one test's or operation's timings (plain data).

    A budget met by `first` passes. One missed by `first` is decided on `second`
    (the re-measurement): it fails only if the lower end of the 95% bootstrap
    interval of its metric (upper end for '>' budgets) still misses it. Without a
    re-measurement, `first` is used for that test.
    """
    checks: list[dict[str, Any]] = []
    decisive = list(second) if second else list(first)
    for budget in budgets:
        first_check = budget.check(compute_metric(budget.metric, first))
        if first_check.ok:
            checks.append({"budget": budget.render(), "ok": True, "measured": first_check.measured,
                           "text": first_check.describe()})
            continue
        data = list(second) if second else list(first)
        check = budget.check(compute_metric(budget.metric, data))
        low, high = bootstrap_interval(data, budget.metric)
        confirmed = _violated_even_at(budget, low, high)
        interval = f"95% interval of {budget.metric} {format_duration(low)}-{format_duration(high)}"
        if confirmed:
            text = f"{check.describe()}; confirmed by re-measuring: {interval}" if second else \
                f"{check.describe()}; {interval}"
        else:
            text = (f"{budget.metric} missed the budget at first ({first_check.describe()}) but not when re-measured "
                    f"({check.describe()}, {interval}): noise, not counted")
        checks.append({"budget": budget.render(), "ok": not confirmed, "measured": check.measured,
                       "interval": [low, high], "text": text, "suspected": True})
    verdict: dict[str, Any] = {"checks": checks, "stats": summary(decisive), "remeasured": bool(second)}
    if regression is not None and baseline is not None:
        verdict["regression"] = _judge_regression(first, second, baseline, regression, calibration_now)
    return verdict


def _judge_regression(first: Sequence[float], second: Sequence[float] | None, baseline: dict[str, Any],
                      regression: float, calibration_now: float | None) -> dict[str, Any]:
    limit = _regression_limit(baseline, regression, calibration_now)
    reference = [v / (1 + regression / 100) for v in limit]  # the baseline on this run's machine speed
    data = list(second) if second else list(first)
    slowdown = statistics.median(data) / statistics.median(reference) - 1 if statistics.median(reference) > 0 else 0.0
    suspect = statistics.median(first) > statistics.median(limit)
    result: dict[str, Any] = {"allowed": regression, "slowdown": slowdown * 100,
                              "baseline_p50": statistics.median(reference), "ok": True}
    if not suspect:
        result["text"] = f"median {slowdown * 100:+.0f}% against the baseline (allowed +{regression:g}%)"
        return result
    _, p = mann_whitney_greater(data, limit)
    confirmed = p < REGRESSION_ALPHA and statistics.median(data) > statistics.median(limit)
    result.update(p=p, ok=not confirmed)
    if confirmed:
        result["text"] = (f"median {format_duration(statistics.median(data))} is {slowdown * 100:.0f}% slower than the "
                          f"baseline's {format_duration(statistics.median(reference))} (allowed {regression:g}%, "
                          f"{slowdown * 100 - regression:.0f} points over); Mann-Whitney p = {p:.2g} < "
                          f"{REGRESSION_ALPHA:g} on the re-measured samples")
    else:
        result["text"] = (f"looked {slowdown * 100:.0f}% slower than the baseline at first, not confirmed when "
                          f"re-measured (Mann-Whitney p = {p:.2g}): noise, not counted")
    return result



def stats_text(stats: dict[str, Any]) -> str:
    return (f"p50 {format_duration(stats['p50'])}, p95 {format_duration(stats['p95'])}, "
            f"p99 {format_duration(stats['p99'])}, max {format_duration(stats['max'])} "
            f"({stats['samples']} samples)")
