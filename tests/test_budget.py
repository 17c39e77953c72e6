"""Tests for pytest_backend_gates.budget: the ``METRIC OP VALUE`` budget grammar."""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_backend_gates.budget import (
    Budget,
    BudgetCheck,
    BudgetError,
    compute_metric,
    format_duration,
    parse_budget,
    parse_duration,
)

# No example database: keep the working tree free of a .hypothesis directory.
hsettings = settings(database=None, deadline=None, max_examples=200)


def plain(x: float) -> str:
    """Decimal text of a float without exponent notation, e.g. 1e-05 -> '0.00001'."""
    text = format(Decimal(repr(x)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- parsing valid budgets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p95 < 50ms", Budget("p95", "<", 50.0, "ms")),
        ("p99 <= 0.2s", Budget("p99", "<=", 0.2, "s")),
        ("mean < 300us", Budget("mean", "<", 300.0, "us")),
        ("max < 1s", Budget("max", "<", 1.0, "s")),
        ("failures < 1%", Budget("failures", "<", 1.0, "%")),
        ("rps > 50", Budget("rps", ">", 50.0, "")),
        ("min >= 2ns", Budget("min", ">=", 2.0, "ns")),
        ("median<1ms", Budget("median", "<", 1.0, "ms")),
        ("p95<50ms", Budget("p95", "<", 50.0, "ms")),
        ("p99.9 < 1s", Budget("p99.9", "<", 1.0, "s")),
        ("p100 <= 1s", Budget("p100", "<=", 1.0, "s")),
        ("p0.5 < 1s", Budget("p0.5", "<", 1.0, "s")),
        ("  p95   <   50ms  ", Budget("p95", "<", 50.0, "ms")),
        ("\tp95 <\n50ms\n", Budget("p95", "<", 50.0, "ms")),
        ("P95 < 50ms", Budget("p95", "<", 50.0, "ms")),
        ("MEDIAN < 50ms", Budget("median", "<", 50.0, "ms")),
        ("Failures <= 0.5%", Budget("failures", "<=", 0.5, "%")),
        ("p95.0 < 50ms", Budget("p95", "<", 50.0, "ms")),
        ("p99.90 < 50ms", Budget("p99.9", "<", 50.0, "ms")),
        ("p095 < 50ms", Budget("p95", "<", 50.0, "ms")),
        ("p95 < 50µs", Budget("p95", "<", 50.0, "us")),
        ("p95 < 50μs", Budget("p95", "<", 50.0, "us")),
        ("p95 < 50 ms", Budget("p95", "<", 50.0, "ms")),
        ("p95 < .5s", Budget("p95", "<", 0.5, "s")),
        ("p95 < 5.s", Budget("p95", "<", 5.0, "s")),
        ("p95 < 1e-3s", Budget("p95", "<", 0.001, "s")),
        ("p95 < 1E+2ms", Budget("p95", "<", 100.0, "ms")),
        ("p95 < 0ms", Budget("p95", "<", 0.0, "ms")),
        ("failures <= 0%", Budget("failures", "<=", 0.0, "%")),
        ("failures < 100%", Budget("failures", "<", 100.0, "%")),
        ("rps >= 0.5", Budget("rps", ">=", 0.5, "")),
    ],
)
def test_parse_valid(text: str, expected: Budget) -> None:
    assert parse_budget(text) == expected


@pytest.mark.parametrize(
    ("text", "value", "kind", "percentile"),
    [
        ("p95 < 50ms", 0.05, "time", 95.0),
        ("p99 <= 0.2s", 0.2, "time", 99.0),
        ("mean < 300us", 0.0003, "time", None),
        ("max < 1s", 1.0, "time", 100.0),
        ("min < 1s", 1.0, "time", 0.0),
        ("median < 7ns", 7e-9, "time", 50.0),
        ("p99.9 < 1s", 1.0, "time", 99.9),
        ("failures < 1%", 1.0, "percent", None),
        ("rps > 50", 50.0, "rate", None),
    ],
)
def test_value_kind_percentile(text: str, value: float, kind: str, percentile: float | None) -> None:
    budget = parse_budget(text)
    assert budget.value == pytest.approx(value, rel=1e-15)
    assert budget.kind == kind
    assert budget.percentile == percentile


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("p95 < 1500us", "p95 < 1.5ms"),
        ("p95 < 1500000ns", "p95 < 1.5ms"),
        ("p95 < 0.0015s", "p95 < 1.5ms"),
        ("p95 < 2000ms", "p95 < 2s"),
        ("p95 < 250000us", "p95 < 0.25s"),
        ("p95 < 1000ns", "p95 < 1us"),
    ],
)
def test_unit_conversions(a: str, b: str) -> None:
    assert parse_budget(a).value == pytest.approx(parse_budget(b).value, rel=1e-15)
    assert parse_budget(a) != parse_budget(b)  # amount and unit are kept as written


def test_unit_conversion_exact_base_values() -> None:
    assert parse_budget("p95 < 1500us").value == 0.0015
    assert parse_budget("p95 < 50ms").value == 0.05
    assert parse_budget("p95 < 3ns").value == 3e-9
    assert parse_budget("p95 < 2s").value == 2.0


# --- parsing invalid budgets -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("p95 < banana", ["'p95 < banana'", "'banana'", "not a duration", "'50ms'"]),
        ("p95 < 50", ["'p95 < 50'", "'50'", "no unit", "'50ms'", "'0.2s'"]),
        ("p42x < 1ms", ["'p42x < 1ms'", "unknown metric 'p42x'", "min, max, mean, median", "p99.9", "rps", "failures"]),
        ("p95 = 1ms", ["'p95 = 1ms'", "unknown operator '='", "<, <=, > or >="]),
        ("p95 == 1ms", ["unknown operator '=='"]),
        ("p95 =< 1ms", ["unknown operator '=<'"]),
        ("p95 ! 1ms", ["unknown operator '!'"]),
        ("failures < 2ms", ["'failures < 2ms'", "failures takes a percentage such as '1%'", "'2ms'"]),
        ("failures < 2", ["failures takes a percentage", "'2'"]),
        ("failures < lots", ["failures takes a percentage", "'lots'"]),
        ("failures < 101%", ["'101%'", "100%"]),
        ("p0 < 1ms", ["'p0 < 1ms'", "percentile 'p0'", "must be above 0 and at most 100"]),
        ("p100.1 < 1ms", ["'p100.1'", "above 0 and at most 100"]),
        ("p101 < 1ms", ["'p101'", "above 0 and at most 100"]),
        ("rps > 5ms", ["'rps > 5ms'", "rps takes a plain number such as '50'", "'5ms'"]),
        ("rps > 5%", ["rps takes a plain number", "'5%'"]),
        ("rps > many", ["rps takes a plain number", "'many'"]),
        ("p95 < 5%", ["'5%'", "is a percentage", "'50ms'"]),
        ("p95 < 5min", ["unknown unit 'min'", "ns, us, ms or s"]),
        ("p95 < 5MS", ["unknown unit 'MS'"]),
        ("p95 < -5ms", ["'-5ms'", "negative"]),
        ("p95 < -0ms", ["'-0ms'", "negative"]),
        ("p95 < 1e999ms", ["'1e999ms'", "finite"]),
        ("p95 < inf", ["'inf'", "not a duration"]),
        ("p95 < nan ms", ["'nan ms'", "not a duration"]),
        ("p95 < 1ms 2ms", ["'1ms 2ms'", "not a duration"]),
        ("p95 50ms", ["missing operator after 'p95'", "<, <=, > or >="]),
        ("p95 <", ["missing value after '<'", "'50ms'"]),
        ("rps >", ["missing value after '>'", "'50'"]),
        ("< 50ms", ["missing metric", "p95"]),
        ("pp95 < 1ms", ["unknown metric 'pp95'"]),
        ("p95.5.5 < 1ms", ["unknown metric 'p95.5.5'"]),
        ("p1e2 < 1ms", ["unknown metric 'p1e2'"]),
        ("latency < 1ms", ["unknown metric 'latency'"]),
        ("p-5 < 1ms", ["unknown metric 'p-5'"]),
    ],
)
def test_parse_invalid(text: str, fragments: list[str]) -> None:
    with pytest.raises(BudgetError) as excinfo:
        parse_budget(text)
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(repr(text.strip()))
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_budget_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        parse_budget("p95 < banana")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty(text: str) -> None:
    with pytest.raises(BudgetError, match=r"^empty budget; expected e\.g\. 'p95 < 50ms'$"):
        parse_budget(text)


@pytest.mark.parametrize(("value", "type_name"), [(None, "NoneType"), (95, "int"), (b"p95 < 1ms", "bytes")])
def test_non_string(value: object, type_name: str) -> None:
    with pytest.raises(BudgetError, match=type_name):
        parse_budget(value)  # type: ignore[arg-type]


def test_multiline_expression_gives_one_line_message() -> None:
    with pytest.raises(BudgetError) as excinfo:
        parse_budget("p95 <\n banana")
    assert "\n" not in str(excinfo.value)


# --- parse_duration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("50ms", 0.05), ("0.2s", 0.2), ("1500us", 0.0015), ("1500µs", 0.0015), ("3ns", 3e-9), (" 15s ", 15.0),
     ("0s", 0.0), ("2 ms", 0.002)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("banana", "'banana' is not a duration"), ("50", "'50' has no unit"), ("5%", "'5%' is a percentage"),
     ("5min", "unknown unit 'min'"), ("-1s", "'-1s' is negative"), ("", "'' is not a duration"),
     ("1e999s", "not a finite number")],
)
def test_parse_duration_invalid(text: str, fragment: str) -> None:
    with pytest.raises(BudgetError, match=re.escape(fragment)):
        parse_duration(text)


def test_parse_duration_non_string() -> None:
    with pytest.raises(BudgetError, match="int"):
        parse_duration(15)  # type: ignore[arg-type]


# --- constructing Budget directly --------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"metric": "P95", "op": "<", "amount": 1.0, "unit": "ms"}, "'p95'"),
        ({"metric": "p95.0", "op": "<", "amount": 1.0, "unit": "ms"}, "'p95'"),
        ({"metric": "p95", "op": "=", "amount": 1.0, "unit": "ms"}, "'='"),
        ({"metric": "p95", "op": "<", "amount": 1.0, "unit": ""}, "no unit"),
        ({"metric": "p95", "op": "<", "amount": -1.0, "unit": "ms"}, "negative"),
        ({"metric": "p95", "op": "<", "amount": math.inf, "unit": "ms"}, "finite"),
        ({"metric": "p95", "op": "<", "amount": math.nan, "unit": "ms"}, "finite"),
        ({"metric": "failures", "op": "<", "amount": 1.0, "unit": "ms"}, "percentage"),
        ({"metric": "failures", "op": "<", "amount": 100.5, "unit": "%"}, "100%"),
        ({"metric": "rps", "op": ">", "amount": 1.0, "unit": "s"}, "plain number"),
        ({"metric": "bogus", "op": "<", "amount": 1.0, "unit": "ms"}, "unknown metric"),
        ({"metric": "p95", "op": "<", "amount": "1", "unit": "ms"}, "number"),
    ],
)
def test_budget_constructor_validates(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(BudgetError, match=re.escape(fragment)):
        Budget(**kwargs)  # type: ignore[arg-type]


def test_budget_constructor_normalises_amount() -> None:
    budget = Budget("p95", "<", 50, "ms")
    assert isinstance(budget.amount, float)
    assert budget == parse_budget("p95 < 50ms")
    assert math.copysign(1.0, Budget("p95", "<", -0.0, "ms").amount) == 1.0


def test_budget_is_frozen() -> None:
    budget = parse_budget("p95 < 50ms")
    with pytest.raises(dataclasses.FrozenInstanceError):
        budget.amount = 10.0  # type: ignore[misc]


# --- render ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("p95<50ms", "p95 < 50ms"),
        ("P99.90 <= 0.20s", "p99.9 <= 0.2s"),
        ("mean < 300µs", "mean < 300us"),
        ("failures<1%", "failures < 1%"),
        ("rps>=50.0", "rps >= 50"),
        ("p95 < 1e-3s", "p95 < 0.001s"),
        ("p95 < 1e-5s", "p95 < 1e-05s"),
        ("p95 < 0.1ms", "p95 < 0.1ms"),
    ],
)
def test_render(text: str, rendered: str) -> None:
    assert parse_budget(text).render() == rendered


# --- check / describe --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "measured", "ok"),
    [
        ("p95 < 50ms", 0.049, True),
        ("p95 < 50ms", 0.05, False),
        ("p95 <= 50ms", 0.05, True),
        ("p95 <= 50ms", 0.0501, False),
        ("rps > 50", 50.0, False),
        ("rps > 50", 50.5, True),
        ("rps >= 50", 50.0, True),
        ("rps >= 50", 49.9, False),
        ("failures < 1%", 0.5, True),
        ("failures < 1%", 1.0, False),
        ("p95 < 1500us", 0.0015, False),
        ("p95 < 1500us", 0.0014999, True),
    ],
)
def test_check_ok(text: str, measured: float, ok: bool) -> None:
    result = parse_budget(text).check(measured)
    assert isinstance(result, BudgetCheck)
    assert result.ok is ok
    assert result.measured == measured
    assert result.budget == parse_budget(text)


@pytest.mark.parametrize(
    ("text", "measured", "described"),
    [
        ("p95 < 50ms", 0.0721, "p95 = 72.1ms, budget < 50ms (44% over)"),
        ("p95 < 50ms", 0.0123, "p95 = 12.3ms, budget < 50ms"),
        ("rps > 50", 31.5, "rps = 31.5, budget > 50 (37% under)"),
        ("rps > 50", 80.0, "rps = 80, budget > 50"),
        ("p99 <= 0.2s", 0.3, "p99 = 300ms, budget <= 0.2s (50% over)"),
        ("failures < 1%", 2.5, "failures = 2.5%, budget < 1% (150% over)"),
        ("failures < 1%", 0.25, "failures = 0.25%, budget < 1%"),
        ("p95 < 50ms", 0.0501, "p95 = 50.1ms, budget < 50ms (0.2% over)"),
        ("p95 < 50ms", 0.05, "p95 = 50ms, budget < 50ms (0% over)"),
        ("p95 <= 0ms", 0.001, "p95 = 1ms, budget <= 0ms (over)"),
        ("mean < 300us", 1.25, "mean = 1.25s, budget < 300us (416567% over)"),
        ("rps >= 1000", 0.0, "rps = 0, budget >= 1000 (100% under)"),
        ("rps > 50", 1234.0, "rps = 1234, budget > 50"),
    ],
)
def test_describe(text: str, measured: float, described: str) -> None:
    assert parse_budget(text).check(measured).describe() == described


# --- format_duration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0721, "72.1ms"),
        (1.25, "1.25s"),
        (0.0003, "300us"),
        (1.0, "1s"),
        (0.001, "1ms"),
        (0.9996, "1s"),
        (0.00099999, "1ms"),
        (0.000999, "999us"),
        (123.456, "123s"),
        (1234.5, "1230s"),
        (4.2e-8, "42ns"),
        (5e-10, "0.5ns"),
        (0.0, "0s"),
        (-0.002, "-2ms"),
        (0.012345, "12.3ms"),
        (math.inf, "inf"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@hsettings
@given(st.floats(min_value=1e-9, max_value=999.0))
def test_format_duration_number_in_range(seconds: float) -> None:
    text = format_duration(seconds)
    unit = next(u for u in ("ns", "us", "ms", "s") if text.endswith(u))
    number = float(text[: -len(unit)])
    assert 1 <= number < 1000, text
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]
    assert math.isclose(number * scale, seconds, rel_tol=5e-3), (seconds, text)


# --- compute_metric ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "samples", "expected"),
    [
        ("min", [3.0, 1.0, 2.0], 1.0),
        ("max", [3.0, 1.0, 2.0], 3.0),
        ("mean", [1.0, 2.0, 3.0, 10.0], 4.0),
        ("median", [3.0, 1.0, 2.0], 2.0),
        ("median", [4.0, 1.0, 3.0, 2.0], 2.5),
        ("p50", [1.0, 2.0, 3.0, 4.0], 2.5),
        ("p25", [1.0, 2.0, 3.0, 4.0], 1.75),  # rank 0.75
        ("p90", [4.0, 3.0, 2.0, 1.0], 3.7),  # rank 2.7
        ("p100", [1.0, 2.0, 3.0, 4.0], 4.0),
        ("p95", [10.0, 20.0, 30.0, 40.0, 50.0], 48.0),  # rank 3.8
        ("p40", [15.0, 20.0, 35.0, 40.0, 50.0], 29.0),  # rank 1.6 -> 20 + 0.6 * 15
        ("p99.9", [0.0, 1.0], 0.999),
        ("p1", [0.0, 100.0], 1.0),
        ("p95", [0.25], 0.25),
        ("mean", [0.25], 0.25),
        ("P50", [1.0, 3.0], 2.0),
        ("p10", [i / 1000 for i in range(11)], 0.001),  # rank 1.0 exactly
    ],
)
def test_compute_metric_known_values(metric: str, samples: list[float], expected: float) -> None:
    assert compute_metric(metric, samples) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_compute_metric_accepts_any_sequence_and_does_not_mutate() -> None:
    samples = [3.0, 1.0, 2.0]
    assert compute_metric("max", tuple(samples)) == 3.0
    assert compute_metric("min", samples) == 1.0
    assert samples == [3.0, 1.0, 2.0]


@pytest.mark.parametrize("metric", ["rps", "failures", "p0", "bogus", "p101"])
def test_compute_metric_rejects_non_time_metrics(metric: str) -> None:
    with pytest.raises(ValueError, match=metric):
        compute_metric(metric, [1.0])


@pytest.mark.parametrize("metric", ["min", "max", "mean", "median", "p95"])
def test_compute_metric_rejects_empty(metric: str) -> None:
    with pytest.raises(ValueError, match="no samples"):
        compute_metric(metric, [])


def test_compute_metric_rejects_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        compute_metric("p95", [1.0, math.nan])


# --- property tests ----------------------------------------------------------------------

amounts = st.floats(min_value=0.0, max_value=86_400.0)  # a day in any unit: within every metric's range
percentiles = st.floats(min_value=0.0, max_value=100.0, exclude_min=True)
ops = st.sampled_from(["<", "<=", ">", ">="])
time_metrics = st.sampled_from(["min", "max", "mean", "median"]) | percentiles.map(lambda p: "p" + plain(p))
budgets = st.one_of(
    st.builds(Budget, time_metrics, ops, amounts, st.sampled_from(["ns", "us", "ms", "s"])),
    st.builds(Budget, st.just("failures"), ops, st.floats(min_value=0.0, max_value=100.0), st.just("%")),
    st.builds(Budget, st.just("rps"), ops, amounts, st.just("")),
)


@hsettings
@given(budgets)
def test_render_parse_round_trip(budget: Budget) -> None:
    parsed = parse_budget(budget.render())
    assert parsed == budget
    assert parsed.render() == budget.render()
    assert parsed.value == budget.value
    assert parsed.kind == budget.kind
    assert parsed.percentile == budget.percentile


@hsettings
@given(budgets, st.sampled_from(["", " ", "  ", "\t"]))
def test_whitespace_is_optional(budget: Budget, sep: str) -> None:
    text = budget.render().replace(" ", sep)
    assert parse_budget(f" {text} ") == budget


@hsettings
@given(percentiles)
def test_percentile_name_round_trip(p: float) -> None:
    name = plain(p)
    budget = parse_budget(f"p{name} < 1ms")
    assert budget.metric == f"p{name}"
    assert budget.percentile == p
    padded = f"P{name}0" if "." in name else f"P{name}.000"
    assert parse_budget(f"{padded} < 1ms") == budget  # case and trailing zeros are canonicalised


@hsettings
@given(st.integers(min_value=0, max_value=86_400 * 10**9))  # up to the 24-hour bound
def test_unit_conversion_consistency(nanoseconds: int) -> None:
    exact = Decimal(nanoseconds)
    texts = [f"{exact}ns", f"{exact / 10**3}us", f"{exact / 10**6}ms", f"{exact / 10**9}s"]
    values = [parse_budget(f"p95 < {text}").value for text in texts]
    for value in values:
        assert math.isclose(value, nanoseconds / 1e9, rel_tol=1e-12, abs_tol=0.0), (texts, values)


sample_lists = st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=50)


@hsettings
@given(sample_lists, percentiles, percentiles)
def test_percentile_monotonic(samples: list[float], a: float, b: float) -> None:
    a, b = min(a, b), max(a, b)
    low = compute_metric("p" + plain(a), samples)
    high = compute_metric("p" + plain(b), samples)
    assert compute_metric("min", samples) <= low <= high <= compute_metric("max", samples)


@hsettings
@given(sample_lists)
def test_min_median_mean_max_order(samples: list[float]) -> None:
    lowest, highest = compute_metric("min", samples), compute_metric("max", samples)
    median = compute_metric("median", samples)
    assert lowest == min(samples)
    assert highest == max(samples)
    assert lowest <= median <= highest
    assert lowest <= compute_metric("mean", samples) <= highest
    assert compute_metric("p100", samples) == highest
    assert median == compute_metric("p50", samples)
    assert math.isclose(median, statistics.median(samples), rel_tol=1e-12, abs_tol=1e-300)


@hsettings
@given(budgets, amounts)
def test_check_matches_operator(budget: Budget, measured: float) -> None:
    result = budget.check(measured)
    expected = {
        "<": measured < budget.value,
        "<=": measured <= budget.value,
        ">": measured > budget.value,
        ">=": measured >= budget.value,
    }[budget.op]
    assert result.ok is expected
    text = result.describe()
    assert text.startswith(f"{budget.metric} = ")
    assert f", budget {budget.op} " in text
    assert text.endswith(("over)", "under)")) is not result.ok
