"""Properties of the latency gate's statistics (pytest_backend_gates.gates.latency.stats)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_backend_gates.gates.latency.stats import (
    HISTOGRAM_BUCKETS,
    bootstrap_interval,
    histogram,
    mann_whitney_greater,
    summary,
)

hsettings = settings(database=None, deadline=None, max_examples=100)
durations = st.floats(min_value=0, max_value=10, allow_nan=False, allow_infinity=False)
samples = st.lists(durations, min_size=1, max_size=40)
metrics = st.sampled_from(["min", "max", "mean", "median", "p50", "p95", "p99", "p99.9"])


@hsettings
@given(samples, metrics, st.integers(0, 2**32))
def test_bootstrap_interval_is_ordered_inside_the_data_and_reproducible(data: list[float], metric: str,
                                                                         seed: int) -> None:
    low, high = bootstrap_interval(data, metric, resamples=200, seed=seed)
    assert min(data) <= low <= high <= max(data)
    assert bootstrap_interval(data, metric, resamples=200, seed=seed) == (low, high)


@hsettings
@given(durations, st.integers(1, 30), metrics)
def test_bootstrap_interval_of_constant_data_is_that_constant(value: float, n: int, metric: str) -> None:
    assert bootstrap_interval([value] * n, metric, resamples=50) == (value, value)


@hsettings
@given(samples, st.floats(0.5, 0.99))
def test_a_wider_confidence_gives_a_wider_interval(data: list[float], confidence: float) -> None:
    low, high = bootstrap_interval(data, "p95", confidence=confidence, resamples=200)
    wide_low, wide_high = bootstrap_interval(data, "p95", confidence=0.999, resamples=200)
    assert wide_low <= low and high <= wide_high


def test_bootstrap_interval_of_p95_ignores_a_few_outliers() -> None:
    data = [0.001] * 97 + [1.0] * 3
    low, high = bootstrap_interval(data, "p95")
    assert low == 0.001  # three slow samples in a hundred cannot confirm a p95 violation
    assert bootstrap_interval(data, "max")[0] == 0.001  # nor a max violation: 0.97**100 > 2.5%
    assert bootstrap_interval([0.001] * 95 + [1.0] * 5, "max")[0] == 1.0  # five can: 0.95**100 < 2.5%


@pytest.mark.parametrize("args", [([], "p95"), ([1.0], "bogus"), ([1.0], "rps")])
def test_bootstrap_interval_rejects_bad_input(args: tuple[list[float], str]) -> None:
    with pytest.raises(ValueError):
        bootstrap_interval(*args)


def brute_force_u(x: list[float], y: list[float]) -> float:
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)


small = st.lists(st.integers(0, 20).map(float), min_size=1, max_size=25)


@hsettings
@given(small, small)
def test_mann_whitney_u_counts_pairs_and_p_is_a_probability(x: list[float], y: list[float]) -> None:
    u, p = mann_whitney_greater(x, y)
    assert u == brute_force_u(x, y)
    assert u + mann_whitney_greater(y, x)[0] == len(x) * len(y)
    assert 0 <= p <= 1


@hsettings
@given(small, small, st.floats(0.5, 100))
def test_shifting_x_up_never_raises_p(x: list[float], y: list[float], shift: float) -> None:
    _, p = mann_whitney_greater(x, y)
    _, shifted = mann_whitney_greater([v + shift for v in x], y)
    assert shifted <= p + 1e-12


@hsettings
@given(st.lists(durations, min_size=8, max_size=30), st.lists(durations, min_size=8, max_size=30))
def test_completely_separated_samples_are_significant(x: list[float], y: list[float]) -> None:
    _, p = mann_whitney_greater([v + 11 for v in x], y)  # every x above every y
    assert p < 0.01
    _, p_reverse = mann_whitney_greater(y, [v + 11 for v in x])
    assert p_reverse > 0.99


def test_mann_whitney_matches_the_textbook_normal_approximation() -> None:
    # U = 17, mean 10, variance 5*4/12*10; z = (17 - 10 - 0.5) / sqrt(variance)
    u, p = mann_whitney_greater([19, 22, 16, 29, 24], [20, 11, 17, 12])
    assert u == 17
    assert p == pytest.approx(0.5 * math.erfc(6.5 / math.sqrt(50 / 3) / math.sqrt(2)))
    assert p == pytest.approx(0.0557, abs=1e-3)
    assert mann_whitney_greater([1.0] * 5, [1.0] * 5) == (12.5, 1.0)  # no spread: nothing is greater


@hsettings
@given(samples)
def test_summary_is_ordered(data: list[float]) -> None:
    stats = summary(data)
    assert stats["samples"] == len(data)
    assert min(data) <= stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["max"] == max(data)


@hsettings
@given(st.lists(durations, min_size=1, max_size=3000))
def test_histogram_counts_every_sample_in_bounded_ordered_buckets(data: list[float]) -> None:
    shape = histogram(data)
    edges, counts = shape["edges_s"], shape["counts"]
    assert sum(counts) == len(data)
    assert len(edges) == len(counts) + 1 and 1 <= len(counts) <= HISTOGRAM_BUCKETS
    assert edges == sorted(edges)
    assert math.isclose(edges[0], min(data), rel_tol=1e-5) and math.isclose(edges[-1], max(data), rel_tol=1e-5)


def test_histogram_of_a_long_tail_is_log_spaced_and_keeps_the_tail() -> None:
    data = [0.001] * 90 + [0.002] * 9 + [0.5]  # 1 ms, and one 500 ms sample
    shape = histogram(data)
    assert shape["scale"] == "log" and len(shape["counts"]) == 10  # about sqrt(100) buckets
    assert shape["counts"][0] == 90 and shape["counts"][-1] == 1
    ratios = [b / a for a, b in zip(shape["edges_s"], shape["edges_s"][1:])]
    assert max(ratios) / min(ratios) < 1.001  # equal steps on a log scale
    assert histogram([0.01, 0.012, 0.013])["scale"] == "linear"
    assert histogram([0.004] * 5) == {"edges_s": [0.004, 0.004], "counts": [5], "scale": "linear"}
