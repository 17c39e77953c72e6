"""The validation gate end to end: the input_validation fixture's findings fail the test and
the gate, hypothesis settings the user has stay in charge, bad arguments and configuration
give one clear message, and it works under xdist and without --backend-gates."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from conftest import gate, read_report

PARSERS = '''
import asyncio
import re

PERCENT = re.compile(r"[0-9]{1,2}|100")


def parse_percent(text):
    """'0'..'100' -> 0..100; anything else is a ValueError."""
    if not isinstance(text, str) or PERCENT.fullmatch(text) is None:
        raise ValueError(f"not a percentage: {text!r}")
    return int(text)


def parse_percent_buggy(text):
    value = int(text)  # int(" 5"), int("+5") and int("٥") work; int(None) is a TypeError
    if not 0 <= value <= 100:
        raise ValueError(f"out of range: {value}")
    return value


def share(percent):
    """What is left of 100 after `percent`, as a fraction of it: breaks at 100."""
    if not isinstance(percent, int) or isinstance(percent, bool) or not 0 <= percent <= 100:
        raise ValueError(f"not a percentage: {percent!r}")
    return (100 - percent) / (100 - percent)


async def parse_percent_async(text):
    await asyncio.sleep(0)
    return parse_percent(text)


async def parse_percent_async_buggy(text):
    await asyncio.sleep(0)
    return parse_percent_buggy(text)


def spin(text):
    if isinstance(text, str) and len(text) > 1000:
        while True:
            pass
    return text
'''

TESTS = '''
from typing import Annotated

from annotated_types import Ge, Le
from hypothesis import strategies as st

import parsers


def test_buggy(input_validation):
    input_validation.check(parsers.parse_percent_buggy, accepts=parsers.PERCENT)


def test_fixed(input_validation):
    summary = input_validation.check(parsers.parse_percent, accepts=parsers.PERCENT)
    assert summary.inputs > 0


def test_valid_input_crashes(input_validation):
    input_validation.check(parsers.share, accepts=Annotated[int, Ge(0), Le(100)])
'''


def project(pytester: pytest.Pytester, tests: str = TESTS, table: str = "", conftest: str = "") -> None:
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
    """) + textwrap.dedent(table))
    pytester.makepyfile(parsers=PARSERS, test_parsers=tests)
    if conftest:
        pytester.makeconftest(conftest)


def test_defects_fail_the_test_and_the_gate_with_the_shrunk_input(pytester: pytest.Pytester,
                                                                  hypothesis_profile: Any) -> None:
    hypothesis_profile(derandomize=False)  # a seed is drawn and printed (the "ci" profile has none)
    project(pytester)
    result = pytester.runpytest_inprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines([
        "input_validation.check(parse_percent_buggy, accepts=strings matching '[[]0-9[]]{1,2}|100'): "
        "* violation* (* inputs tried, shrunk)",
        "reproduce: pytest 'test_parsers.py::test_buggy' --hypothesis-seed=*  (or pass seed=* to the call)",
    ])
    result.stdout.fnmatch_lines([
        "  valid input rejected: share(100) raised ZeroDivisionError: division by zero (at parsers.py:* in share)",
        "    a boundary of the accepted values: tried first on every run",
    ])
    result.stdout.fnmatch_lines([
        # Which defect hypothesis meets first varies with the seed: an accepted invalid string,
        # or None raising TypeError; both are reported with a replay line.
        "  invalid input *parse_percent_buggy(*; expected ValueError",
        "    replay this input: check(..., reproduce_failure=('*', b'*'))",
    ])
    validation = gate(read_report(pytester), "validation")
    assert validation["status"] == "failed"
    assert validation["measured"]["tests"] == 3 and validation["measured"]["checks"] == 3
    crash = next(v for v in validation["violations"] if v["where"] == "test_parsers.py::test_valid_input_crashes")
    assert crash["check"] == "valid-rejected"
    assert crash["details"]["input"] == "100"
    assert crash["message"].startswith("check(share, accepts=Annotated[int, Ge(ge=0), Le(le=100)]): valid input "
                                       "rejected: share(100) raised ZeroDivisionError")
    buggy = next(v for v in validation["violations"] if v["where"] == "test_parsers.py::test_buggy")
    assert buggy["check"] in ("invalid-accepted", "wrong-exception"), buggy


def test_fixed_twin_passes_and_is_counted(pytester: pytest.Pytester) -> None:
    project(pytester, table="[tool.backend-gates.validation]\nmax_examples = 30\n")
    result = pytester.runpytest_inprocess("--backend-gates", "-p", "no:cacheprovider", "-k", "fixed")
    assert result.ret == 0
    validation = gate(read_report(pytester), "validation")
    assert validation["status"] == "passed"
    assert validation["summary"] == "1 validation test passed"
    assert 0 < validation["measured"]["inputs"] <= 30


def test_an_assertion_after_the_check_is_a_violation_too(pytester: pytest.Pytester) -> None:
    project(pytester, tests="""
        import parsers

        def test_after(input_validation):
            summary = input_validation.check(parsers.parse_percent, accepts=parsers.PERCENT, max_examples=5)
            assert summary.inputs > 1000
    """)
    result = pytester.runpytest_inprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    [violation] = gate(read_report(pytester), "validation")["violations"]
    assert violation["check"] == "validation-test" and "assert" in violation["message"]


def test_async_functions_are_awaited(pytester: pytest.Pytester) -> None:
    project(pytester, tests="""
        import parsers

        def test_async_fixed(input_validation):
            assert input_validation.check(parsers.parse_percent_async, accepts=parsers.PERCENT, max_examples=20).inputs

        def test_async_buggy(input_validation):
            input_validation.check(parsers.parse_percent_async_buggy, accepts=parsers.PERCENT)
    """)
    result = pytester.runpytest_inprocess("--backend-gates", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["input_validation.check(parse_percent_async_buggy, *): * violation*"])


def test_a_hang_is_stopped_at_the_deadline(pytester: pytest.Pytester) -> None:
    project(pytester, tests="""
        from hypothesis import strategies as st
        import parsers

        def test_spin(input_validation):
            input_validation.check(parsers.spin, accepts=st.text(max_size=5), deadline="100ms")
    """)
    result = pytester.runpytest_inprocess("--backend-gates", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["  other input spin(* * *) did not return within 100ms"])
    [violation] = gate(read_report(pytester), "validation")["violations"]
    assert violation["check"] == "hang"


PROFILE = """
from hypothesis import settings
settings.register_profile("tiny", max_examples=4)
settings.load_profile("tiny")
"""
COUNT = """
import parsers

def test_count(input_validation):
    print("inputs:", input_validation.check(parsers.parse_percent, accepts=parsers.PERCENT).inputs)

def test_count_per_call(input_validation):
    print("per call:", input_validation.check(parsers.parse_percent, accepts=parsers.PERCENT, max_examples=2).inputs)
"""


@pytest.mark.parametrize(("table", "expected"), [("", 4), ("[tool.backend-gates.validation]\nmax_examples = 6\n", 6)])
def test_the_users_hypothesis_profile_stays_unless_the_config_says_otherwise(
        pytester: pytest.Pytester, hypothesis_profile: Any, table: str, expected: int) -> None:
    hypothesis_profile()  # the project's conftest loads its own profile; the one before comes back
    project(pytester, tests=COUNT, table=table, conftest=PROFILE)
    result = pytester.runpytest_inprocess("--backend-gates", "-p", "no:cacheprovider", "-s")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"*inputs: {expected}*", "*per call: 2*"])


def run_buggy_twice(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Runs the buggy test twice; asserts both runs tried the same inputs; the second run."""
    outputs = []
    for _ in range(2):
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "buggy", *args)
        result.assert_outcomes(failed=1)
        outputs.append([line for line in result.outlines if "input" in line])
    assert outputs[0] == outputs[1]
    return result


def test_hypothesis_seed_makes_runs_identical(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = run_buggy_twice(pytester, "--hypothesis-seed=1234")
    result.stdout.fnmatch_lines(["reproduce: pytest 'test_parsers.py::test_buggy' --hypothesis-seed=1234*"])


def test_a_derandomized_profile_repeats_its_inputs_and_says_so(pytester: pytest.Pytester,
                                                                hypothesis_profile: Any) -> None:
    # hypothesis' own "ci" profile, loaded whenever CI is set, derandomizes: no seed to print
    hypothesis_profile(derandomize=True)
    project(pytester)
    result = run_buggy_twice(pytester, "--backend-gates")
    result.stdout.fnmatch_lines([
        "reproduce: pytest 'test_parsers.py::test_buggy'  (the hypothesis profile derandomizes: *)"])
    [violation] = gate(read_report(pytester), "validation")["violations"]
    assert violation["reproduce"].startswith("pytest 'test_parsers.py::test_buggy'  (the hypothesis profile")


def test_without_backend_gates_the_fixture_still_fails_the_test(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2, passed=1)
    assert "backend gates" not in result.stdout.str()


@pytest.mark.parametrize(("call", "message"), [
    ("check(parsers.parse_percent, accepts=parsers.PERCENT, rejects='ValueError')",
     "input_validation.check: rejects='ValueError': expected an exception class or a tuple of them, *"),
    ("check(parsers.parse_percent, accepts=42)",
     "input_validation.check: accepts=42: expected a hypothesis strategy, a type *"),
    ("check(parsers.parse_percent)", "input_validation.check: accepts is missing; *"),
    ("check(parsers.parse_percent, accepts=parsers.PERCENT, max_examples=0)",
     "input_validation.check: max_examples=0: expected an integer from 1 to 100000"),
    ("check(parsers.parse_percent, accepts=parsers.PERCENT, deadline='soon')",
     "input_validation.check: deadline='soon' is not a duration; *"),
])
def test_bad_arguments_give_one_clear_message(pytester: pytest.Pytester, call: str, message: str) -> None:
    project(pytester, tests=f"""
        import parsers

        def test_call(input_validation):
            input_validation.{call}
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str() and "validation.py:" not in result.stdout.str()


def test_bad_configuration_is_one_clear_usage_error(pytester: pytest.Pytester) -> None:
    project(pytester, table='[tool.backend-gates.validation]\nmax_examples = 0\ndeadline = "soon"\n')
    result = pytester.runpytest_inprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*backend-gates configuration has 2 problems:",
        "*[[]tool.backend-gates.validation[]] max_examples: 0 is out of range; expected an integer from 1 to 100000",
        "*[[]tool.backend-gates.validation[]] deadline: 'soon' is not a duration; expected e.g. '15s' or '500ms', above 0s and at most 3600s (1 hour)",
    ])


def test_under_xdist_violations_reach_the_controller(pytester: pytest.Pytester) -> None:
    project(pytester, table="[tool.backend-gates.validation]\nmax_examples = 30\n")
    result = pytester.runpytest_subprocess("--backend-gates", "-n", "2", "-p", "no:cacheprovider")
    assert result.ret == 1
    report = read_report(pytester)
    validation = gate(report, "validation")
    assert {v["where"] for v in validation["violations"]} == {"test_parsers.py::test_buggy",
                                                              "test_parsers.py::test_valid_input_crashes"}
    assert validation["measured"]["checks"] == 3
    assert report["xdist_workers"] == 2


ORDERS_APP = '''
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

app = FastAPI()
ORDER = {"type": "object", "required": ["sku", "quantity"], "additionalProperties": False,
         "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
                        "quantity": {"type": "integer", "minimum": 1, "maximum": 100}}}


class Order(BaseModel):
    sku: str = Field(pattern="^[A-Z]{3}-[0-9]{3}$")
    # strict: pydantic's lax mode takes true as 1, a schema-violating request the gate rightly reports
    quantity: int = Field(ge=1, le=100, strict=True)


@app.post("/orders", status_code=201)
def create_order(order: Order) -> dict:
    return {"sku": order.sku, "quantity": order.quantity}


@app.post("/legacy-orders", status_code=201, responses={422: {"description": "invalid order"}},
          openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": ORDER}}}})
async def create_legacy_order(request: Request) -> JSONResponse:
    data = await request.json()  # no validation: whatever was sent is stored
    return JSONResponse({"sku": data.get("sku"), "quantity": data.get("quantity", 1)}, status_code=201)
'''


def test_check_endpoint_finds_an_unvalidated_operation_and_passes_a_validated_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(orders=ORDERS_APP)
    project(pytester, tests="""
        def test_orders(input_validation):
            summary = input_validation.check_endpoint("POST /orders", max_examples=30)
            assert summary.by_kind["valid"] and summary.by_kind["invalid"]

        def test_legacy_orders(input_validation):
            input_validation.check_endpoint("POST /legacy-orders", max_examples=30)

        def test_no_such_operation(input_validation):
            input_validation.check_endpoint("DELETE /orders")
    """, table='[tool.backend-gates.contract]\napp = "orders:app"\n')
    result = pytester.runpytest_inprocess("--backend-gates=validation", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "input_validation.check_endpoint('POST /legacy-orders'): * violation* (* requests, shrunk)",
        "    request: curl -X POST * http://127.0.0.1:8000/legacy-orders",
    ])
    result.stdout.fnmatch_lines(["input_validation.check_endpoint: 'DELETE /orders' is not an operation of the "
                                 "contract app's schema; expected 'METHOD /path', one of: POST /orders, "
                                 "POST /legacy-orders"])
    assert "During handling" not in result.stdout.str()
    validation = gate(read_report(pytester), "validation")
    legacy = next(v for v in validation["violations"] if v["where"] == "test_parsers.py::test_legacy_orders")
    assert legacy["check"] in ("invalid-accepted", "server-error"), legacy
