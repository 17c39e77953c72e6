"""The latency gate end to end: markers, pytest-benchmark, async tests, node-id and operation
budgets, confirmation of violations, regression baselines, bad input, xdist.

No test here asserts wall-clock time: slow test bodies sleep many times longer than
their budget (a sleep never ends early), and fast ones get budgets a hundred times
their cost.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator

import pytest
from conftest import gate, read_report, served_by_uvicorn

from pytest_backend_gates.budget import parse_budget
from pytest_backend_gates.gates.latency.verdict import judge

GATES = """
[tool.backend-gates]
report = "gates.json"
"""

MARKED = """
import time
import pytest

@pytest.mark.latency_budget("p95 < 500ms", "max < 1s")
def test_fast():
    sum(range(100))

@pytest.mark.latency_budget("p95 < 2ms", samples=5)
def test_slow():
    time.sleep(0.02)

def test_not_timed():
    pass
"""


def project(pytester: pytest.Pytester, tests: str, toml: str = "", **files: str) -> None:
    pytester.makepyprojecttoml(GATES + textwrap.dedent(toml))
    pytester.makepyfile(test_perf=textwrap.dedent(tests), **{k: textwrap.dedent(v) for k, v in files.items()})


def test_marker_budgets_judge_the_timed_call_phase(pytester: pytest.Pytester) -> None:
    project(pytester, MARKED)
    result = pytester.runpytest("--backend-gates")
    result.assert_outcomes(passed=3)  # the tests pass; the gate fails the run
    assert result.ret == 1
    latency = gate(read_report(pytester), "latency")
    assert latency["status"] == "failed"
    assert latency["summary"] == "1 of 2 over budget"
    timings = latency["measured"]["timings"]
    assert set(timings) == {"test_perf.py::test_fast", "test_perf.py::test_slow"}
    fast, slow = timings["test_perf.py::test_fast"], timings["test_perf.py::test_slow"]
    assert 5 <= fast["samples"] <= 50 and fast["source"] == "call phase" and fast["remeasured"] is False
    # re-measured with twice the samples (fewer once a measurement took 3 s: a loaded machine)
    assert 5 <= slow["samples"] <= 10 and slow["remeasured"] is True
    assert slow["p50"] >= 0.02 and slow["max"] >= slow["p99"] >= slow["p95"] >= slow["p50"]
    (violation,) = latency["violations"]
    assert violation["where"] == "test_perf.py::test_slow" and violation["check"] == "latency-budget"
    assert violation["details"]["budget"] == "p95 < 2ms"
    assert latency["threshold"]["budgets"]["test_perf.py::test_fast"] == ["p95 < 500ms", "max < 1s"]
    result.stdout.fnmatch_lines([
        "latency  FAILED  1 of 2 over budget | worst: test_perf.py::test_slow: p95 = *, budget < 2ms (*% over)*",
        "--- latency: measurements ---",
        "test_perf.py::test_fast: p50 *, p95 *, p99 *, max * (* samples), call phase; *p95 < 500ms ok; max < 1s ok",
        "test_perf.py::test_slow: p50 *, p95 *, p99 *, max * (* samples), call phase; *p95 < 2ms FAILED",
        "test_perf.py::test_slow [[]latency-budget[]]: p95 = *, budget < 2ms (*% over); confirmed by re-measuring: "
        "95% interval of p95 *",
    ])


def test_budgets_met_pass_and_passive_runs_time_nothing(pytester: pytest.Pytester) -> None:
    project(pytester, MARKED.replace('"p95 < 2ms"', '"p95 < 2s"'))
    result = pytester.runpytest("--backend-gates")
    assert result.ret == 0
    latency = gate(read_report(pytester), "latency")
    assert latency["status"] == "passed" and latency["violations"] == []
    assert latency["summary"] == "2 timed tests/operations within budget"
    passive = pytester.runpytest()
    passive.assert_outcomes(passed=3)
    assert "backend gates" not in passive.stdout.str()


def test_a_violation_seen_once_but_not_on_re_measuring_is_noise(pytester: pytest.Pytester) -> None:
    # Slow for its first 6 calls (the warm-up and the first 5 timed rounds), fast after.
    project(pytester, """
        import time
        import pytest
        calls = []

        @pytest.mark.latency_budget("p95 < 5ms", samples=5)
        def test_hiccup():
            calls.append(1)
            if len(calls) <= 6:
                time.sleep(0.03)
    """)
    result = pytester.runpytest("--backend-gates")
    assert result.ret == 0
    latency = gate(read_report(pytester), "latency")
    assert latency["status"] == "passed"
    assert latency["measured"]["timings"]["test_perf.py::test_hiccup"]["remeasured"] is True
    (warning,) = latency["warnings"]
    assert "missed the budget at first" in warning and "noise, not counted" in warning


@pytest.mark.parametrize("args, message", [
    ('"p95 < banana"', "@pytest.mark.latency_budget('p95 < banana'): 'banana' is not a duration; "
                       "expected e.g. '50ms', '0.2s'"),
    ('"rps > 5"', "'rps > 5' is not a latency budget; expected a time metric"),
    ('"p95 < 5ms", samples=0', "samples=0 is not allowed; expected an integer from 1 to 100000"),
    ("42", "budget must be a string such as 'p95 < 50ms', not int"),
    ("", "names no budget"),
])
def test_bad_marker_arguments_give_one_clear_message(pytester: pytest.Pytester, args: str, message: str) -> None:
    project(pytester, f"""
        import pytest

        @pytest.mark.latency_budget({args})
        def test_marked():
            pass
    """)
    result = pytester.runpytest("--backend-gates")
    assert result.ret == 1
    assert "Traceback" not in result.stdout.str()
    latency = gate(read_report(pytester), "latency")
    (violation,) = latency["violations"]
    assert violation["check"] == "latency-marker" and message in violation["message"], violation
    assert latency["summary"] == "1 budgeted test failed or has bad marker arguments"


def test_async_tests_are_awaited_and_timed(pytester: pytest.Pytester) -> None:
    project(pytester, """
        import asyncio
        import pytest

        @pytest.mark.latency_budget("p95 < 2ms", samples=5)
        async def test_slow_coroutine():
            await asyncio.sleep(0.02)

        @pytest.mark.latency_budget("p95 < 2s", samples=5)
        async def test_fine_coroutine():
            await asyncio.sleep(0.001)
    """)
    result = pytester.runpytest("--backend-gates")
    result.assert_outcomes(passed=2)
    latency = gate(read_report(pytester), "latency")
    timings = latency["measured"]["timings"]
    slow = timings["test_perf.py::test_slow_coroutine"]
    assert slow["source"] == "call phase (awaited)" and slow["p50"] >= 0.02  # the sleep was awaited
    assert [v["where"] for v in latency["violations"]] == ["test_perf.py::test_slow_coroutine"]


BENCHMARKED = """
import asyncio
import time
import pytest

@pytest.mark.latency_budget("p99 < 1s")
def test_benchmarked(benchmark):
    assert benchmark(sum, range(100)) == 4950

@pytest.mark.latency_budget("p95 < 1ms")
def test_benchmarked_slow(benchmark):
    benchmark.pedantic(time.sleep, args=(0.005,), rounds=5)

async def fetch():
    await asyncio.sleep(0.005)
    return 1

@pytest.mark.latency_budget("p95 < 1ms")
def test_benchmarked_coroutine(benchmark):
    assert benchmark(fetch) == 1
"""


def test_benchmark_fixture_samples_are_judged_and_coroutines_awaited(pytester: pytest.Pytester,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest-benchmark turns itself off when it sees this variable (this suite under -n 2)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    project(pytester, BENCHMARKED)
    result = pytester.runpytest("--backend-gates", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    latency = gate(read_report(pytester), "latency")
    timings = latency["measured"]["timings"]
    quick = timings["test_perf.py::test_benchmarked"]
    assert quick["source"] == "pytest-benchmark" and quick["samples"] >= 5
    slow = timings["test_perf.py::test_benchmarked_slow"]
    assert slow["source"] == "pytest-benchmark" and slow["remeasured"] is True and slow["p50"] >= 0.005
    coroutine = timings["test_perf.py::test_benchmarked_coroutine"]
    assert coroutine["p50"] >= 0.005  # the coroutine ran to completion inside each timing
    assert sorted(v["where"] for v in latency["violations"]) == [
        "test_perf.py::test_benchmarked_coroutine", "test_perf.py::test_benchmarked_slow"]

    # pytest-benchmark disabled (as it is under xdist): the gate times the benchmarked callable itself
    disabled = pytester.runpytest("--backend-gates", "--benchmark-disable")
    disabled.assert_outcomes(passed=3)
    latency = gate(read_report(pytester), "latency")
    timings = latency["measured"]["timings"]
    assert {t["source"] for t in timings.values()} == {"benchmarked callable (pytest-benchmark disabled)"}
    assert timings["test_perf.py::test_benchmarked_coroutine"]["p50"] >= 0.005
    assert len(latency["violations"]) == 2


def test_node_id_budgets_from_the_config(pytester: pytest.Pytester) -> None:
    project(pytester, """
        import time

        def test_hash():
            time.sleep(0.01)

        def test_other():
            time.sleep(0.01)
    """, toml="""
        [tool.backend-gates.latency]
        samples = 5
        budgets = { "test_perf.py::test_hash" = ["p50 < 1ms"], "tests/test_perf.py::test_hash" = "p50 < 1s" }
    """)
    result = pytester.runpytest("--backend-gates")
    assert result.ret == 1
    latency = gate(read_report(pytester), "latency")
    assert set(latency["measured"]["timings"]) == {"test_perf.py::test_hash"}
    assert [v["where"] for v in latency["violations"]] == ["test_perf.py::test_hash"]
    assert latency["warnings"] == ["budgets.'tests/test_perf.py::test_hash': no test with this node id ran (node ids "
                                   "are relative to the rootdir, e.g. 'tests/test_perf.py::test_hash'); its budget was "
                                   "not checked"]


def test_regression_mode_records_a_baseline_then_catches_a_slowdown(pytester: pytest.Pytester,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    project(pytester, """
        import os
        import time
        import pytest

        @pytest.mark.latency_budget(samples=10)
        def test_lookup():
            time.sleep(float(os.environ["LOOKUP_DELAY"]))
    """, toml="""
        [tool.backend-gates.latency]
        regression = "10%"
    """)
    monkeypatch.setenv("LOOKUP_DELAY", "0.004")
    first = pytester.runpytest("--backend-gates")
    assert first.ret == 0  # no baseline is never a usage error
    first.stdout.fnmatch_lines(["*no latency baseline yet: recorded one for 1 test(s)/operation(s) in "
                                ".backend-gates/latency-baseline.json*"])
    stored = json.loads((pytester.path / ".backend-gates" / "latency-baseline.json").read_text())
    assert len(stored["entries"]["test_perf.py::test_lookup"]["samples"]) == 10

    monkeypatch.setenv("LOOKUP_DELAY", "0.03")  # 7x slower
    slower = pytester.runpytest("--backend-gates")
    assert slower.ret == 1
    latency = gate(read_report(pytester), "latency")
    (violation,) = latency["violations"]
    assert violation["check"] == "latency-regression" and "Mann-Whitney p = " in violation["message"]
    assert violation["details"]["slowdown_percent"] > 100
    assert latency["threshold"]["regression"] == "10%"
    slower.stdout.fnmatch_lines(["*test_lookup [[]latency-regression[]]: median * is *% slower than the baseline's *"])


def test_operation_budget_needs_a_contract_target(pytester: pytest.Pytester) -> None:
    project(pytester, "def test_ok():\n    pass\n", toml="""
        [tool.backend-gates.latency]
        budgets = { "GET /items" = "p95 < 50ms" }
    """)
    result = pytester.runpytest("--backend-gates=latency")
    assert result.ret == 1
    latency = gate(read_report(pytester), "latency")
    assert latency["status"] == "error"
    assert "no [tool.backend-gates.contract] table with app or base_url" in latency["summary"]


APP = """
from fastapi import FastAPI

app = FastAPI()

@app.get("/items")
def items(limit: int = 10) -> list[int]:
    return list(range(min(max(limit, 0), 100)))
"""


def test_unknown_operation_is_an_error_naming_it(pytester: pytest.Pytester) -> None:
    project(pytester, "def test_ok():\n    pass\n", toml="""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates.contract]
        app = "items_app:app"
        [tool.backend-gates.latency]
        samples = 5
        budgets = { "GET /itemz" = "p95 < 1s", "GET /items" = "p95 < 1s" }
    """, items_app=APP)
    result = pytester.runpytest_subprocess("--backend-gates=latency")
    assert result.ret == 1
    latency = gate(read_report(pytester), "latency")
    assert latency["status"] == "error"
    assert "budgets.'GET /itemz': no such operation in the schema; did you mean 'GET /items'?" in latency["summary"]
    assert latency["measured"]["timings"]["GET /items"]["statuses"] == {"200": 5}


@pytest.fixture
def served_items_app(pytester: pytest.Pytester) -> Iterator[str]:
    """APP behind uvicorn on a free loopback port, stopped after the test."""
    pytester.makepyfile(items_app=APP)
    with served_by_uvicorn(pytester.path, "items_app:app") as base_url:
        yield base_url


def test_operation_budget_against_a_running_server(pytester: pytest.Pytester, served_items_app: str) -> None:
    project(pytester, "def test_ok():\n    pass\n", toml=f"""
        [tool.backend-gates.contract]
        base_url = "{served_items_app}"
        [tool.backend-gates.latency]
        samples = 5
        budgets = {{ "GET /items" = ["p95 < 5s", "p50 < 1ns"] }}
    """)
    result = pytester.runpytest_subprocess("--backend-gates=latency")
    assert result.ret == 1
    latency = gate(read_report(pytester), "latency")
    timing = latency["measured"]["timings"]["GET /items"]
    assert timing["source"] == "generated valid requests, timed by the client"
    assert list(timing["statuses"]) == ["200"]
    (violation,) = latency["violations"]
    assert violation["where"] == "GET /items" and violation["details"]["budget"] == "p50 < 1ns"


def test_under_xdist_workers_time_and_the_controller_judges(pytester: pytest.Pytester) -> None:
    project(pytester, MARKED + textwrap.dedent("""
        @pytest.mark.latency_budget("p99 < 1s")
        def test_benchmarked(benchmark):
            assert benchmark(sum, range(100)) == 4950
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "-n", "2", "-p", "no:schemathesis")
    result.assert_outcomes(passed=4)
    assert result.ret == 1
    latency = gate(read_report(pytester), "latency")
    assert latency["measured"]["parallel"] is True
    assert latency["summary"] == "1 of 3 over budget (timings taken in parallel under xdist)"
    timings = latency["measured"]["timings"]
    assert set(timings) == {"test_perf.py::test_fast", "test_perf.py::test_slow", "test_perf.py::test_benchmarked"}
    # pytest-benchmark turns itself off under xdist: the gate times the benchmarked callable itself
    assert timings["test_perf.py::test_benchmarked"]["source"] == "benchmarked callable (pytest-benchmark disabled)"
    assert [v["where"] for v in latency["violations"]] == ["test_perf.py::test_slow"]
    result.stdout.fnmatch_lines(["timings were taken in parallel, on 2 xdist workers *"])


# -- the verdict alone ---------------------------------------------------------


def test_judge_counts_only_confirmed_violations() -> None:
    budget = parse_budget("p95 < 10ms")
    slow, fast = [0.05] * 20, [0.001] * 20
    assert judge([budget], fast, None)["checks"][0]["ok"] is True
    assert judge([budget], slow, fast)["checks"][0]["ok"] is True  # not confirmed
    confirmed = judge([budget], slow, slow)["checks"][0]
    assert confirmed["ok"] is False and confirmed["interval"] == [0.05, 0.05]
    # a few slow samples among many fast ones: p95's interval reaches below the budget
    mostly_fast = [0.001] * 47 + [0.05] * 3
    assert judge([budget], mostly_fast, mostly_fast)["checks"][0]["ok"] is True


def test_judge_regression_scales_the_baseline_by_this_runs_machine_speed() -> None:
    baseline = {"samples": [0.010] * 10 + [0.011] * 10, "calibration": 0.002}
    current = [0.018] * 10 + [0.019] * 10  # 80% slower...
    verdict = judge([], current, current, baseline, regression=10, calibration_now=0.002)
    assert verdict["regression"]["ok"] is False
    # ...but this machine is twice as slow as the baseline's right now: no regression
    verdict = judge([], current, current, baseline, regression=10, calibration_now=0.004)
    assert verdict["regression"]["ok"] is True
