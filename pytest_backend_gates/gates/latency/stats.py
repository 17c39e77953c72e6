"""The latency gate's statistics, in pure Python (no numpy, no scipy).

- :func:`bootstrap_interval`: a percentile bootstrap confidence interval of a
  budget metric (p95, max, mean, ...) of raw samples. An absolute budget such as
  ``p95 < 20ms`` is violated only when the *lower* end of this interval lies
  above the budget, so a few slow samples (a noisy neighbour, a GC pause) never
  fail a build on their own.
- :func:`mann_whitney_greater`: the one-sided Mann-Whitney U test (normal
  approximation with tie and continuity correction) that a regression check
  uses: are the current samples stochastically greater than the baseline's,
  scaled by the allowed slowdown?

Both are deterministic: the bootstrap draws from a seeded ``random.Random``.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from typing import Any

from pytest_backend_gates.budget import compute_metric

__all__ = ["BOOTSTRAP_RESAMPLES", "CONFIDENCE", "HISTOGRAM_BUCKETS", "REGRESSION_ALPHA", "bootstrap_interval",
           "histogram", "mann_whitney_greater", "summary"]

CONFIDENCE = 0.95  # two-sided bootstrap interval: a violation needs its 2.5% end above the budget
BOOTSTRAP_RESAMPLES = 1000
REGRESSION_ALPHA = 0.01  # one-sided Mann-Whitney significance for a confirmed regression
HISTOGRAM_BUCKETS = 20  # at most, per timed test/operation in the report: the distribution, not the samples
_LOG_SPREAD = 10.0  # max/min above this: log-spaced buckets, else the fast bulk lands in one bucket


def bootstrap_interval(samples: Sequence[float], metric: str, *, confidence: float = CONFIDENCE,
                       resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """(low, high): the percentile-bootstrap `confidence` interval of `metric` over `samples`.

    Each resample draws len(samples) values with replacement and computes the
    metric with :func:`~pytest_backend_gates.budget.compute_metric` (numpy's
    'linear' percentiles); the interval's ends are the (1-confidence)/2 and
    (1+confidence)/2 quantiles of those resampled metrics.
    """
    data = [float(x) for x in samples]
    if not data:
        raise ValueError("cannot bootstrap no samples")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence!r}")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    rng = random.Random(seed)
    n = len(data)
    estimates = sorted(compute_metric(metric, rng.choices(data, k=n)) for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = estimates[min(resamples - 1, int(math.floor(tail * resamples)))]
    high = estimates[min(resamples - 1, int(math.ceil((1 - tail) * resamples)) - 1)]
    return low, high


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Average ranks (1-based) of `values`, and the sizes of the groups of ties."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        average = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = average
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def mann_whitney_greater(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """(U, p): one-sided Mann-Whitney U test of H1 "x tends to be greater than y".

    U counts the pairs (xi, yj) with xi > yj (ties count one half); p comes from
    the normal approximation with tie correction and continuity correction, as
    scipy.stats.mannwhitneyu(x, y, alternative='greater', method='asymptotic').
    With no spread at all (every value equal) p is 1: nothing says x is greater.
    """
    nx, ny = len(x), len(y)
    if nx == 0 or ny == 0:
        raise ValueError("Mann-Whitney needs samples on both sides")
    values = [float(v) for v in x] + [float(v) for v in y]
    if any(math.isnan(v) for v in values):
        raise ValueError("samples contain NaN")
    ranks, ties = _ranks(values)
    rank_sum_x = math.fsum(ranks[:nx])
    u = rank_sum_x - nx * (nx + 1) / 2
    n = nx + ny
    mean = nx * ny / 2
    tie_term = sum(t ** 3 - t for t in ties) / (n * (n - 1)) if n > 1 else 0.0
    variance = nx * ny / 12 * ((n + 1) - tie_term)
    if variance <= 0:
        return u, 1.0
    z = (u - mean - 0.5) / math.sqrt(variance)
    p = 0.5 * math.erfc(z / math.sqrt(2))
    return u, min(1.0, max(0.0, p))


def summary(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean (seconds) and the sample count, for reports."""
    return {
        "samples": len(samples),
        "p50": compute_metric("median", samples),
        "p95": compute_metric("p95", samples),
        "p99": compute_metric("p99", samples),
        "max": compute_metric("max", samples),
        "mean": compute_metric("mean", samples),
    }


def histogram(samples: Sequence[float], buckets: int = HISTOGRAM_BUCKETS) -> dict[str, Any]:
    """The samples' distribution in at most `buckets` buckets, for reports (the HTML report draws it
    against the budgets): `edges_s` (one more than `counts`, seconds, 6 significant digits),
    `counts`, and `scale`: "log" when the slowest sample is over 10x the fastest (latency has a long
    tail: on a linear scale the bulk would fill one bucket), else "linear". About sqrt(n) buckets,
    so a few samples are not spread over mostly empty ones."""
    data = sorted(float(x) for x in samples if math.isfinite(x) and x >= 0)
    if not data:
        return {"edges_s": [], "counts": [], "scale": "linear"}
    low, high = data[0], data[-1]
    if high <= low:
        return {"edges_s": [_sig(low), _sig(high)], "counts": [len(data)], "scale": "linear"}
    count = max(1, min(buckets, math.ceil(math.sqrt(len(data)))))
    log = low >= 1e-9 and high / low > _LOG_SPREAD  # below 1 ns no clock measures: a zero, for the scale
    if log:
        ratio = (high / low) ** (1 / count)
        edges = [low * ratio ** i for i in range(count)] + [high]
    else:
        edges = [low + (high - low) * i / count for i in range(count)] + [high]
    counts = [0] * count
    for value in data:
        index = bisect.bisect_right(edges, value) - 1  # [edge_i, edge_i+1): the last bucket holds `high`
        counts[min(max(index, 0), count - 1)] += 1
    return {"edges_s": [_sig(e) for e in edges], "counts": counts, "scale": "log" if log else "linear"}


def _sig(value: float) -> float:
    return float(f"{value:.6g}")
