"""The contract gate end to end on small in-process apps.

Runs in subprocesses: pytester's in-process runs drop the modules a run imported,
and schemathesis imports its engine lazily, so a second in-process run would mix
two copies of its classes."""

from __future__ import annotations

import socket
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from conftest import example_project, gate, read_report, served_by_uvicorn

RATIO_APP = '''
from fastapi import FastAPI, HTTPException, Query

app = FastAPI()
STOCK = {{1: 10}}


@app.get("/ratio")
def ratio(total: int = Query(ge=0, le=1000), parts: int = Query({parts_bounds}, le=100)) -> dict[str, float]:
    return {{"ratio": total / parts}}


# `:int`: only digits reach the handler (pydantic alone would take "1\\x85" as 1, a schema-violating id)
@app.get("/stock/{{item_id:int}}", responses={{404: {{"description": "no such item"}}}})
def stock(item_id: int) -> dict[str, int]:
    if item_id not in STOCK:
        raise HTTPException(404, "no such item")
    return {{"quantity": STOCK[item_id]}}
'''
BUGGY = RATIO_APP.format(parts_bounds="ge=0")  # parts=0: ZeroDivisionError, a 500
FIXED = RATIO_APP.format(parts_bounds="ge=1")


def contract_project(pytester: pytest.Pytester, app_source: str, extra: str = "") -> None:
    pytester.makepyfile(ratioapp=app_source)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "ratioapp:app"
        max_examples = 10
        stateful = false
    """) + textwrap.dedent(extra))


def test_500_is_found_with_curl_reproduction(pytester: pytest.Pytester) -> None:
    contract_project(pytester, BUGGY)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "backend-gates contract: seed * (replay with --backend-gates-seed=*)",
        "*contract failure* in GET /ratio (* cases, seed *)",
        "GET /ratio [[]not_a_server_error[]]: Server error: the app raised ZeroDivisionError: division by zero "
        "at ratioapp.py:* in ratio | response 500: Internal Server Error",
        "    reproduce: curl -X GET *parts=0*",
        "replay: pytest --backend-gates --backend-gates-seed=* -k \"contract[[]GET_/ratio[]]\"",  # test_replay.py runs it
    ])
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "failed"
    [violation] = [v for v in contract["violations"] if v["check"] == "not_a_server_error"]
    assert violation["where"] == "GET /ratio"
    assert "parts=0" in violation["reproduce"] and violation["reproduce"].startswith("curl ")
    assert "http://127.0.0.1:8000/ratio" in violation["reproduce"]
    assert contract["measured"]["operations"] == 2 and contract["measured"]["cases"] > 0
    assert " in 1 of 2 operations (" in contract["summary"]


@pytest.mark.parametrize("seed", range(3))
def test_fixed_twin_passes(pytester: pytest.Pytester, seed: int) -> None:
    contract_project(pytester, FIXED)
    result = pytester.runpytest_subprocess("--backend-gates", f"--backend-gates-seed={seed}", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "passed"
    assert contract["measured"]["seed"] == seed
    # GET /stock/{item_id} mostly hits 404s; that is said, not hidden
    assert contract["warnings"] == [] or all("never answered 2xx" in w for w in contract["warnings"])


def test_never_2xx_is_a_warning_or_with_require_success_a_violation(pytester: pytest.Pytester) -> None:
    never_ok = FIXED.replace("STOCK = {1: 10}", "STOCK = {}")
    contract_project(pytester, never_ok)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 0
    contract = gate(read_report(pytester), "contract")
    [warning] = [w for w in contract["warnings"] if w.startswith("GET /stock/{item_id} never answered 2xx (got ")]
    assert "404 x" in warning
    result.stdout.fnmatch_lines(["warning: GET /stock/{item_id} never answered 2xx (got *404 x*"])

    contract_project(pytester, never_ok, "require_success = true\n")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    contract = gate(read_report(pytester), "contract")
    assert [(v["where"], v["check"]) for v in contract["violations"]] == [("GET /stock/{item_id}", "require_success")]


def test_items_have_readable_node_ids_and_work_with_k_and_junit(pytester: pytest.Pytester) -> None:
    contract_project(pytester, BUGGY)
    collected = pytester.runpytest_subprocess("--backend-gates", "--collect-only", "-q", "-p", "no:cacheprovider")
    collected.stdout.fnmatch_lines(["backend-gates::contract[[]GET /ratio[]]", "backend-gates::contract[[]GET /stock/{item_id}[]]"])
    # whatever paths are passed, the operations are collected too
    pytester.mkdir("tests").joinpath("test_unit.py").write_text("def test_unit(): pass\n")
    with_path = pytester.runpytest_subprocess("tests", "--backend-gates", "--collect-only", "-q", "-p", "no:cacheprovider")
    with_path.stdout.fnmatch_lines(["tests/test_unit.py::test_unit", "backend-gates::contract[[]GET /ratio[]]"])
    pytester.makepyfile(ratioapp=FIXED)
    result = pytester.runpytest_subprocess("--backend-gates", "-k", "ratio", "--junitxml=junit.xml", "-p", "no:cacheprovider")
    assert result.ret == 0
    result.assert_outcomes(passed=1, deselected=2)  # GET /stock/{item_id} and tests/test_unit.py
    cases = ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    # the item, then the gate's own verdict (SPEC section 7)
    assert [(c.get("classname"), c.get("name")) for c in cases] == [("backend-gates", "contract[GET /ratio]"),
                                                                    ("backend-gates", "contract")]


def test_junit_records_the_failure(pytester: pytest.Pytester) -> None:
    contract_project(pytester, BUGGY)
    pytester.runpytest_subprocess("--backend-gates", "--junitxml=junit.xml", "-p", "no:cacheprovider")
    root = ET.parse(pytester.path / "junit.xml").getroot()
    failed = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["contract[GET /ratio]", "contract"]
    assert all("curl -X GET" in c.find("failure").text for c in failed)


def test_last_failed_reruns_only_the_failing_operation(pytester: pytest.Pytester) -> None:
    contract_project(pytester, BUGGY)
    pytester.runpytest_subprocess("--backend-gates")
    result = pytester.runpytest_subprocess("--backend-gates", "--lf")
    result.assert_outcomes(failed=1, deselected=1)


def test_under_xdist_items_spread_and_verdict_is_reached_once(pytester: pytest.Pytester) -> None:
    contract_project(pytester, BUGGY)
    result = pytester.runpytest_subprocess("--backend-gates", "-n", "2", "--backend-gates-seed=7", "-p", "no:cacheprovider")
    assert result.ret == 1
    report = read_report(pytester)
    contract = gate(report, "contract")
    assert contract["measured"]["seed"] == 7
    assert contract["measured"]["operations_tested"] == 2
    assert [v["where"] for v in contract["violations"] if v["check"] == "not_a_server_error"] == ["GET /ratio"]


def test_stateful_item_without_links_is_skipped_with_the_reason(pytester: pytest.Pytester) -> None:
    contract_project(pytester, FIXED)
    toml = (pytester.path / "pyproject.toml").read_text().replace("stateful = false", "stateful = true")
    (pytester.path / "pyproject.toml").write_text(toml)
    result = pytester.runpytest_subprocess("--backend-gates", "-k", "stateful", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1, deselected=2)
    result.stdout.fnmatch_lines(["SKIPPED *no links between operations*"])
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "skipped" and "nothing was tested" in contract["summary"]


def test_stateful_item_follows_inferred_links(pytester: pytest.Pytester) -> None:
    example_project(pytester, "contract", "bookmarks_fixed", extra="max_examples = 10\n")
    result = pytester.runpytest_subprocess("--backend-gates", "-k", "stateful", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=5)
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "passed" and contract["measured"]["cases"] > 10


def test_secret_header_is_redacted_in_reproductions(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATIO_API_KEY", "key-5e6f7a8b9c")
    contract_project(pytester, BUGGY, 'headers = { X-Api-Key = "${RATIO_API_KEY}" }\n')
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    output = result.stdout.str()
    report_text = (pytester.path / "gates.json").read_text()
    assert "key-5e6f7a8b9c" not in output and "key-5e6f7a8b9c" not in report_text
    assert "X-Api-Key: ${RATIO_API_KEY}" in output and "X-Api-Key: ${RATIO_API_KEY}" in report_text


def test_max_time_reached_is_reported(pytester: pytest.Pytester) -> None:
    contract_project(pytester, FIXED, 'max_time = "1ms"\n')
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    contract = gate(read_report(pytester), "contract")
    assert any(w.startswith("max_time (0.001s) reached: ") for w in contract["warnings"]), contract
    result.stdout.fnmatch_lines(["*max_time (0.001s) reached*"])
    # Nothing ran: never a pass, even when a partial run is accepted.
    assert contract["status"] == "error" and result.ret == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_error_not_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(f"""
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        base_url = "http://127.0.0.1:{_closed_port()}"
    """)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "error"
    assert "could not load the OpenAPI schema from http://127.0.0.1:" in contract["summary"]


def test_non_loopback_base_url_is_refused_before_any_traffic(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("""
        [tool.backend-gates.contract]
        base_url = "http://192.0.2.10:8000"
    """)
    result = pytester.runpytest_subprocess("--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*base_url = 'http://192.0.2.10:8000' is not a loopback address*allow_remote = true*"])


def test_app_that_cannot_be_imported_is_error(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("""
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "nosuchmodule:app"
    """)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "error"
    assert "app = 'nosuchmodule:app': importing 'nosuchmodule' failed with ModuleNotFoundError" in contract["summary"]


def test_unknown_check_is_a_usage_error(pytester: pytest.Pytester) -> None:
    contract_project(pytester, FIXED, 'checks = ["not_a_server_eror"]\n')
    result = pytester.runpytest_subprocess("--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*contract] checks: 'not_a_server_eror' is not a schemathesis check; "
                                 "did you mean 'not_a_server_error'?*"])


def test_api_fixture_reaches_the_app_passively(pytester: pytest.Pytester) -> None:
    contract_project(pytester, FIXED)
    pytester.makepyfile(test_api='''
        def test_ratio(api):
            assert api.get("/ratio", params={"total": 10, "parts": 4}).json() == {"ratio": 2.5}
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_api_fixture_without_contract_table_fails_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_api="def test_x(api): pass")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the api fixture needs a [[]tool.backend-gates.contract[]] table*"])


@pytest.fixture
def served_buggy_app(pytester: pytest.Pytester) -> Iterator[str]:
    """The buggy app behind uvicorn on a free loopback port, stopped after the test."""
    pytester.makepyfile(ratioapp=BUGGY)
    with served_by_uvicorn(pytester.path, "ratioapp:app") as base_url:
        yield base_url


def test_running_server_at_base_url(pytester: pytest.Pytester, served_buggy_app: str) -> None:
    pytester.makepyprojecttoml(f"""
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        base_url = "{served_buggy_app}"
        max_examples = 10
        stateful = false
    """)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    contract = gate(read_report(pytester), "contract")
    [violation] = [v for v in contract["violations"] if v["check"] == "not_a_server_error"]
    assert violation["where"] == "GET /ratio"
    assert "response 500" in violation["message"]
    assert f"{served_buggy_app}/ratio?" in violation["reproduce"] and "parts=0" in violation["reproduce"]


def test_schema_without_operations_is_error_not_pass(pytester: pytest.Pytester) -> None:
    contract_project(pytester, "from fastapi import FastAPI\napp = FastAPI()\n")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "error"
    assert "has no operations to test" in contract["summary"]


SIX_SLOW_OPERATIONS = """
import asyncio
from fastapi import FastAPI

app = FastAPI()
CRASH = {crash}


@app.middleware("http")
async def slow(request, call_next):  # every answer, a 422 included, takes 0.2 s
    await asyncio.sleep(0.2)
    return await call_next(request)


def answer(n: int) -> dict[str, int]:
    if CRASH:
        raise RuntimeError("broken")
    return {{"n": n}}


for name in ("a", "b", "c", "d", "e", "f"):
    app.get(f"/{{name}}/{{{{n}}}}", operation_id=name)(answer)
"""


def test_reaching_max_time_is_a_warning_and_what_ran_is_judged(pytester: pytest.Pytester) -> None:
    """It raised KeyboardInterrupt inside the plugin: exit 2, "interrupted" (issue 11/12). With
    on_max_time = "warn" the user accepts a partial run: judged on what ran, the rest named."""
    contract_project(pytester, SIX_SLOW_OPERATIONS.format(crash=False), 'max_time = "2s"\non_max_time = "warn"\n')
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    assert "KeyboardInterrupt" not in result.stdout.str() + result.stderr.str()
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "passed"
    assert contract["measured"]["cases"] > 0
    assert contract["threshold"]["on_max_time"] == "warn"
    assert any(w.startswith("max_time (2s) reached: ") and "GET /f/{n}" in w for w in contract["warnings"]), contract


def test_operations_max_time_never_reached_are_not_passed(pytester: pytest.Pytester) -> None:
    """It said `passed` after testing 1 of 6 operations (issue 12)."""
    contract_project(pytester, SIX_SLOW_OPERATIONS.format(crash=False), 'max_time = "2s"\n')
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider", "-rs")
    assert result.ret == 1, result.stdout.str()
    assert "KeyboardInterrupt" not in result.stdout.str() + result.stderr.str()
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "error", contract
    assert contract["summary"].startswith("max_time (2s) reached before every operation was tested ("), contract
    assert "GET /f/{n}" in contract["summary"] and 'on_max_time = "warn"' in contract["summary"]
    assert contract["measured"]["cases"] > 0 and contract["measured"]["operations_tested"] < 6
    # The items of the operations it did not reach are skipped, saying why, not passed.
    result.stdout.fnmatch_lines(["*contract max_time (2s) was reached before this operation*"])
    assert "passed" not in result.parseoutcomes() or result.parseoutcomes()["passed"] < 6
    assert "backend gates FAILED: contract error" in result.stdout.str()


def test_a_server_error_found_before_max_time_fails_the_gate(pytester: pytest.Pytester) -> None:
    contract_project(pytester, SIX_SLOW_OPERATIONS.format(crash=True), 'max_time = "2s"\n')
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "failed", contract
    assert any(v["check"] == "not_a_server_error" for v in contract["violations"])
    assert any(w.startswith("max_time (2s) reached: ") for w in contract["warnings"]), contract


def test_on_max_time_accepts_error_or_warn_only(pytester: pytest.Pytester) -> None:
    contract_project(pytester, FIXED, 'on_max_time = "ignore"\n')
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*[[]tool.backend-gates.contract[]] on_max_time: 'ignore' is not allowed; "
                                 "expected one of error, warn*"])


def test_a_usage_error_prints_no_gate_verdict(pytester: pytest.Pytester) -> None:
    contract_project(pytester, FIXED)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider", "-k", "PATCH /items")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str()
    assert " backend gates =" not in out and "backend gates passed" not in out and "backend gates FAILED" not in out
