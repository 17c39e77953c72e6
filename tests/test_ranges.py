"""Every number a user gives has a documented range; NaN and infinity are refused (issue 12, point 10).

Table-driven over every numeric key of [tool.backend-gates.*], the budget grammar, and the marker
and call arguments that take numbers: the bounds are accepted, one step past them (and NaN, inf)
gives one message naming the key, the value and the allowed range."""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_backend_gates.budget import BudgetError, parse_budget
from pytest_backend_gates.config import ConfigError, parse_section
from pytest_backend_gates.gates.registry import table_parsers

NAN, INF = math.nan, math.inf

# What a table needs besides the key under test (contract: a target; remote_workers: its companions).
CONTEXT: dict[str, dict[str, Any]] = {
    "contract": {"app": "m:app"},
    "coverage": {"branch": True},
}


def parse(table: str, entries: dict[str, Any]) -> Any:
    section = {table: {**CONTEXT.get(table, {}), **entries}}
    return parse_section(section, Path("pyproject.toml"), table_parsers(), {}).settings(table)


def problems(table: str, entries: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse(table, entries)
    return raised.value.messages


def entry(key: str, value: Any) -> dict[str, Any]:
    """{"rate_limits.POST /login": 5} -> {"rate_limits": {"POST /login": 5}}"""
    head, _, rest = key.partition(".")
    return {head: {rest: value}} if rest else {key: value}


# table, key, (lowest, highest) accepted, refused values, what the message says is allowed
INTEGERS = [
    ("contract", "max_examples", (1, 100_000), (0, 100_001), "an integer from 1 to 100000"),
    ("contract", "seed", (0, 2**63 - 1), (-1,), "an integer from 0 to 9223372036854775807"),
    ("security", "rate_limits.POST /login", (1, 10_000), (0, 10_001), "an integer from 1 to 10000"),
    ("validation", "max_examples", (1, 100_000), (0, 100_001), "an integer from 1 to 100000"),
    ("latency", "samples", (1, 100_000), (0, 100_001), "an integer from 1 to 100000"),
    ("race", "threads", (2, 256), (1, 257), "an integer from 2 to 256"),
    ("race", "rounds", (1, 10_000), (0, 10_001, 10**12), "an integer from 1 to 10000"),
    ("queries", "max_per_request", (1, 1_000_000), (0, 1_000_001), "an integer from 1 to 1000000"),
    ("queries", "max_repeats", (1, 1_000_000), (0, 1_000_001), "an integer from 1 to 1000000"),
    ("load", "users", (1, 100_000), (0, 100_001), "an integer from 1 to 100000"),
    ("load", "workers", (0, 256), (-1, 257), "an integer from 0 to 256"),
    ("load", "remote_workers", (0, 10_000), (-1, 10_001), "an integer from 0 to 10000"),
]
NUMBERS = [
    ("load", "spawn_rate", (0.001, 100_000), (0, -1, 100_001), "a number above 0 and at most 100000"),
    ("coverage", "total", (0, 100), (-0.5, 100.5), "a percentage from 0 to 100"),
    ("coverage", "branches", (0, 100), (-1, 101), "a percentage from 0 to 100"),
    ("coverage", "files.app/*.py", (0, 100), (-1, 101), "a percentage from 0 to 100"),
]
DURATIONS = [
    ("contract", "max_time", ("1ms", "86400s"), ("0s", "86401s", "1e20s"), "above 0s and at most 86400s (24 hours)"),
    ("validation", "deadline", ("1ms", "3600s"), ("0s", "3601s"), "above 0s and at most 3600s (1 hour)"),
    ("load", "duration", ("1ms", "86400s"), ("0s", "86401s", "1e20s"), "above 0s and at most 86400s (24 hours)"),
    ("load", "margin", ("0s", "3600s"), ("3601s", "1e20s"), "from 0s to 3600s (1 hour)"),
    ("load", "workers_timeout", ("1ms", "3600s"), ("0s", "3601s", "1e20s"), "above 0s and at most 3600s (1 hour)"),
]


def _cases(rows: list[Any], accepted: bool) -> list[Any]:
    out = []
    for table, key, ok, bad, allowed in rows:
        for value in (ok if accepted else bad):
            out.append(pytest.param(table, key, value, allowed, id=f"{table}.{key}={value}"))
    return out


def _extra(table: str, key: str) -> dict[str, Any]:
    if key == "remote_workers":
        return {"locustfile": "locustfile.py", "master_bind": "0.0.0.0:5557"}
    return {}


@pytest.mark.parametrize("table, key, value, allowed", _cases(INTEGERS + NUMBERS + DURATIONS, accepted=True))
def test_the_bounds_are_accepted(table: str, key: str, value: Any, allowed: str) -> None:
    parse(table, {**entry(key, value), **_extra(table, key)})


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _assert_one_message(table: str, key: str, value: Any, allowed: str) -> None:
    messages = problems(table, {**entry(key, value), **_extra(table, key)})
    assert len(messages) == 1, messages
    shown_key = key if re.fullmatch(r"[\w.-]+", key) else key.split(".")[0] + f'."{key.split(".", 1)[1]}"'
    assert messages[0].startswith(f"[tool.backend-gates.{table}] {shown_key}: {_shown(value)} "), messages
    assert allowed in messages[0], messages


@pytest.mark.parametrize("table, key, value, allowed", _cases(INTEGERS + NUMBERS + DURATIONS, accepted=False))
def test_out_of_range_is_one_message_naming_key_value_and_range(table: str, key: str, value: Any,
                                                                allowed: str) -> None:
    _assert_one_message(table, key, value, allowed)


@pytest.mark.parametrize("table, key, allowed", [
    pytest.param(table, key, allowed, id=f"{table}.{key}") for table, key, _, _, allowed in INTEGERS + NUMBERS])
@pytest.mark.parametrize("value", [NAN, INF, -INF], ids=["nan", "inf", "-inf"])
def test_nan_and_infinity_are_refused(table: str, key: str, allowed: str, value: float) -> None:
    _assert_one_message(table, key, value, allowed)


@pytest.mark.parametrize("table, key, allowed", [
    pytest.param(table, key, allowed, id=f"{table}.{key}") for table, key, _, _, allowed in DURATIONS])
@pytest.mark.parametrize("value", ["1e400s", "nans", "infs"])
def test_durations_that_are_no_finite_number_are_refused(table: str, key: str, allowed: str, value: str) -> None:
    _assert_one_message(table, key, value, allowed)


@pytest.mark.parametrize("value, accepted", [("0%", True), ("1000%", True), ("1000.5%", False), ("1e9%", False)])
def test_latency_regression_range(value: str, accepted: bool) -> None:
    if accepted:
        parse("latency", {"regression": value})
    else:
        _assert_one_message("latency", "regression", value, "a percentage from 0% to 1000%")


@pytest.mark.parametrize("bind, accepted", [("0.0.0.0:1", True), ("0.0.0.0:65535", True),
                                            ("0.0.0.0:0", False), ("0.0.0.0:65536", False), ("h:99999", False)])
def test_master_bind_port_range(bind: str, accepted: bool) -> None:
    if accepted:
        parse("load", {"master_bind": bind})
    else:
        _assert_one_message("load", "master_bind", bind, "a port from 1 to 65535")


# -- the budget grammar (latency budgets, load thresholds) ----------------------------------

@pytest.mark.parametrize("text", ["p95 < 86400s", "max < 86400000ms", "rps > 10000000", "failures < 100%",
                                  "p100 < 1ms", "p0.001 < 1ns"])
def test_budget_bounds_are_accepted(text: str) -> None:
    parse_budget(text)


@pytest.mark.parametrize("text, says", [
    ("p95 < 86401s", "at most 86400s (24 hours)"),
    ("p95 < 1e20s", "at most 86400s (24 hours)"),
    ("mean < 1e20ns", "at most 86400s (24 hours)"),
    ("p95 < 1e999ms", "not a finite number"),
    ("rps > 10000001", "rps is at most 10000000"),
    ("failures < 100.5%", "between 0% and 100%"),
    ("p0 < 1ms", "above 0 and at most 100"),
    ("p100.1 < 1ms", "above 0 and at most 100"),
    ("p95 < -1ms", "negative"),
])
def test_budget_out_of_range(text: str, says: str) -> None:
    with pytest.raises(BudgetError, match=re.escape(says)):
        parse_budget(text)


@pytest.mark.parametrize("table, key", [("latency", 'budgets."GET /items"'), ("load", "thresholds"),
                                        ("load", 'thresholds_per_endpoint."GET /items"')])
def test_budget_out_of_range_in_the_config_names_the_key(table: str, key: str) -> None:
    head, _, rest = key.partition(".")
    entries = {head: {rest.strip('"'): "p95 < 1e20s"}} if rest else {head: "p95 < 1e20s"}
    [message] = problems(table, entries)
    assert message.startswith(f"[tool.backend-gates.{table}] {key}: 'p95 < 1e20s': "), message
    assert "at most 86400s (24 hours)" in message


# -- marker and call arguments ---------------------------------------------------------------

@pytest.mark.parametrize("kwargs, says", [
    ({"rounds": 10**12}, "rounds=1000000000000 is not allowed; expected an integer from 1 to 10000"),
    ({"rounds": 0}, "rounds=0 is not allowed; expected an integer from 1 to 10000"),
    ({"threads": 257}, "threads=257 is not allowed; expected an integer from 2 to 256"),
    ({"rounds": NAN}, "rounds=nan is not allowed; expected an integer from 1 to 10000"),
])
def test_race_probe_marker_ranges(kwargs: dict[str, Any], says: str) -> None:
    from pytest_backend_gates.gates.race.arguments import (
        RaceUsageError,
        marker_arguments,
    )

    with pytest.raises(RaceUsageError, match=re.escape(says)):
        marker_arguments(pytest.mark.race_probe(**kwargs).mark, None)
    assert marker_arguments(pytest.mark.race_probe(threads=256, rounds=10_000).mark, None)[:2] == (256, 10_000)


@pytest.mark.parametrize("kwargs, says", [
    ({"max": 1_000_001}, "max=1000001 is not allowed; expected an integer from 0 to 1000000"),
    ({"repeats": 0}, "repeats=0 is not allowed; expected an integer from 1 to 1000000"),
    ({"repeats": INF}, "repeats=inf is not allowed"),
])
def test_query_budget_marker_ranges(kwargs: dict[str, Any], says: str) -> None:
    from pytest_backend_gates.gates.queries.budget import (
        QueryBudget,
        QueryUsageError,
        marker_budget,
    )

    with pytest.raises(QueryUsageError, match=re.escape(says)):
        marker_budget(pytest.mark.query_budget(**kwargs).mark, QueryBudget())
    assert marker_budget(pytest.mark.query_budget(max=1_000_000, repeats=1_000_000).mark, QueryBudget()).max == 1_000_000


@pytest.mark.parametrize("mark, says", [
    (pytest.mark.latency_budget("p95 < 1ms", samples=100_001), "samples=100001 is not allowed; expected an integer "
                                                               "from 1 to 100000"),
    (pytest.mark.latency_budget("p95 < 1ms", samples=0), "samples=0 is not allowed"),
    (pytest.mark.latency_budget("p95 < 1e20s"), "at most 86400s (24 hours)"),
])
def test_latency_budget_marker_ranges(mark: Any, says: str) -> None:
    from pytest_backend_gates.gates.latency.marker import (
        LatencyConfigError,
        parse_marker,
    )

    with pytest.raises(LatencyConfigError, match=re.escape(says)):
        parse_marker(mark.mark)
    assert parse_marker(pytest.mark.latency_budget("p95 < 1ms", samples=100_000).mark)[1] == 100_000


@pytest.mark.parametrize("kwargs, says", [
    ({"max_examples": 100_001}, "max_examples=100001: expected an integer from 1 to 100000"),
    ({"deadline": NAN}, "deadline=nan is out of range; expected a number of seconds or a duration like '2s', "
                        "above 0s and at most 3600s (1 hour)"),
    ({"deadline": INF}, "deadline=inf is out of range"),
    ({"deadline": "1e20s"}, "deadline='1e20s' is out of range"),
    ({"deadline": 0}, "deadline=0 is out of range"),
])
def test_input_validation_check_argument_ranges(input_validation: Any, kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(pytest.fail.Exception, match=re.escape(says)):
        input_validation.check(int, accepts=int, **kwargs)


def test_nan_spawn_rate_is_a_usage_error_before_any_test(pytester: pytest.Pytester) -> None:
    """spawn_rate = nan started a locust run and the gate blamed the target (issue 12, point 10)."""
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.backend-gates.contract]
        app = "m:app"
        [tool.backend-gates.load]
        spawn_rate = nan
        duration = "1e20s"
        [tool.backend-gates.race]
        rounds = 1000000000000
    """))
    pytester.makepyfile("def test_never_runs(): raise AssertionError('tests must not run')")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: backend-gates configuration has 3 problems:",
        "*[[]tool.backend-gates.load[]] spawn_rate: nan is not a finite number; expected a number above 0 and at "
        "most 100000",
        "*[[]tool.backend-gates.load[]] duration: '1e20s' is out of range; expected a duration above 0s and at most "
        "86400s (24 hours)",
        "*[[]tool.backend-gates.race[]] rounds: 1000000000000 is out of range; expected an integer from 1 to 10000",
    ])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert "tests must not run" not in result.stdout.str()
