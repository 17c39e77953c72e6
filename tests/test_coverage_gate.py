"""The coverage gate end to end, in a subprocess (coverage.py traces the whole process)."""

from __future__ import annotations

import pytest
from conftest import TESTS_FULL, gate, make_app, read_report

from pytest_backend_gates.gates.coverage import line_ranges, most_specific_glob, percent_text

COVERAGE_90 = """
[tool.backend-gates]
report = "gates.json"

[tool.backend-gates.coverage]
source = ["app"]
total = 90
branch = true
"""

FILES_THRESHOLDS = """
[tool.backend-gates]
report = "gates.json"

[tool.backend-gates.coverage]
source = ["app"]
total = 50
files = { "app/*" = 60, "app/auth.py" = 100 }
"""


def test_under_total_fails_with_exit_1_and_names_files(pytester: pytest.Pytester) -> None:
    make_app(pytester, COVERAGE_90)
    result = pytester.runpytest_subprocess("--backend-gates")
    result.assert_outcomes(passed=2)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*backend gates*",
        "coverage  FAILED  total *% (min 90%)*",
        "total [[]coverage-total[]]: total coverage *% is under the minimum 90% *least covered: app/calc.py*",
        "backend gates FAILED: coverage failed; report: *gates.json",
    ])
    report = read_report(pytester)
    assert report["passed"] is False
    coverage = gate(report, "coverage")
    assert coverage["status"] == "failed"
    assert coverage["measured"]["total"] < 90
    assert coverage["threshold"] == {"total": 90}
    assert coverage["violations"][0]["check"] == "coverage-total"


def test_raising_coverage_passes_with_exit_0(pytester: pytest.Pytester) -> None:
    make_app(pytester, COVERAGE_90, tests=TESTS_FULL)
    result = pytester.runpytest_subprocess("--backend-gates")
    result.assert_outcomes(passed=8)
    assert result.ret == 0
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "passed"
    # module-level code (RATE = ...) and def lines count: 100% means measuring began before import
    assert coverage["measured"]["total"] == 100.0
    assert coverage["measured"]["branches"] == 100.0


def test_file_threshold_names_file_percentage_and_missing_lines(pytester: pytest.Pytester) -> None:
    make_app(pytester, FILES_THRESHOLDS)
    result = pytester.runpytest_subprocess("--backend-gates")
    assert result.ret == 1
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "failed"
    by_file = {v["where"]: v for v in coverage["violations"]}
    # auth.py matches both globs; the more specific "app/auth.py" = 100 wins over "app/*" = 60
    auth = by_file["app/auth.py"]
    assert auth["check"] == "coverage-file"
    assert auth["details"]["glob"] == "app/auth.py"
    assert auth["details"]["minimum"] == 100
    assert "is under the minimum 100% set by files.\"app/auth.py\"" in auth["message"]
    assert "missing lines 5-7" in auth["message"]
    assert 0 < auth["details"]["percent"] < 100
    result.stdout.fnmatch_lines(["app/auth.py [[]coverage-file[]]: app/auth.py: *% is under the minimum 100%*"])


def test_file_threshold_met_passes(pytester: pytest.Pytester) -> None:
    make_app(pytester, FILES_THRESHOLDS, tests=TESTS_FULL)
    result = pytester.runpytest_subprocess("--backend-gates")
    assert result.ret == 0, result.stdout.str()
    assert gate(read_report(pytester), "coverage")["status"] == "passed"


def test_branch_minimum_separate_from_total(pytester: pytest.Pytester) -> None:
    make_app(pytester, """
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.coverage]
        source = ["app"]
        branch = true
        branches = 95
        """, tests=TESTS_FULL.replace('("TENOFF", 90), ', ""))
    result = pytester.runpytest_subprocess("--backend-gates")
    assert result.ret == 1
    coverage = gate(read_report(pytester), "coverage")
    assert [v["check"] for v in coverage["violations"]] == ["coverage-branches"]
    assert coverage["measured"]["branches"] < 95
    assert "most missed branches: app/calc.py" in coverage["violations"][0]["message"]


def test_glob_matching_no_file_is_a_warning(pytester: pytest.Pytester) -> None:
    make_app(pytester, """
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.coverage]
        source = ["app"]
        files = { "src/app/*" = 100 }
        """, tests=TESTS_FULL)
    result = pytester.runpytest_subprocess("--backend-gates")
    assert result.ret == 0
    warnings = gate(read_report(pytester), "coverage")["warnings"]
    assert any('files."src/app/*" matched no measured file' in w for w in warnings), warnings


@pytest.mark.parametrize("tests, expected_ret", [(None, 1), (TESTS_FULL, 0)], ids=["under", "raised"])
def test_under_xdist_workers_data_is_combined_once(pytester: pytest.Pytester, tests: str | None, expected_ret: int) -> None:
    make_app(pytester, COVERAGE_90, **({"tests": tests} if tests else {}))
    result = pytester.runpytest_subprocess("--backend-gates", "-n", "2")
    assert result.ret == expected_ret, result.stdout.str()
    report = read_report(pytester)
    coverage = gate(report, "coverage")  # exactly once
    assert report["xdist_workers"] == 2
    assert coverage["status"] == ("failed" if expected_ret else "passed")
    assert coverage["measured"]["measured_by"] == "coverage.py"
    assert not any("No data was collected" in w for w in coverage["warnings"])
    if expected_ret == 0:
        assert coverage["measured"]["total"] == 100.0
    assert result.stdout.str().count("coverage  ") == 1


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["central", "xdist"])
@pytest.mark.parametrize("tests, expected_ret", [(None, 1), (TESTS_FULL, 0)], ids=["under", "raised"])
def test_with_pytest_cov_reads_its_data(pytester: pytest.Pytester, xdist: list[str], tests: str | None, expected_ret: int) -> None:
    make_app(pytester, COVERAGE_90, **({"tests": tests} if tests else {}))
    result = pytester.runpytest_subprocess("--backend-gates", "--cov=app", "--cov-branch", *xdist)
    assert result.ret == expected_ret, result.stdout.str()
    result.stdout.fnmatch_lines(["*coverage: platform*"])  # pytest-cov still reports as usual
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["measured"]["measured_by"] == "pytest-cov"
    assert coverage["status"] == ("failed" if expected_ret else "passed")


def test_pytest_cov_without_branch_data_is_an_error_not_a_pass(pytester: pytest.Pytester) -> None:
    make_app(pytester, COVERAGE_90, tests=TESTS_FULL)
    result = pytester.runpytest_subprocess("--backend-gates", "--cov=app")
    assert result.ret == 1
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "error"
    assert "--cov-branch" in coverage["summary"]


def test_passive_without_flag_runs_as_without_plugin(pytester: pytest.Pytester) -> None:
    make_app(pytester, COVERAGE_90)
    passive = pytester.runpytest_subprocess()
    disabled = pytester.runpytest_subprocess("-p", "no:backend_gates")
    assert passive.ret == disabled.ret == 0
    assert passive.parseoutcomes() == disabled.parseoutcomes()
    assert "backend gates" not in passive.stdout.str()
    assert not (pytester.path / "gates.json").exists()


def test_helpers() -> None:
    assert line_ranges((3, 4, 5, 9), (1, 2, 7, 8)) == "3-5, 9"
    # blank lines between missing statements do not split a range
    assert line_ranges((3, 6), (1, 2, 8)) == "3-6"
    assert most_specific_glob("app/auth.py", ["app/*", "app/auth.py", "*"]) == "app/auth.py"
    assert most_specific_glob("app/sub/x.py", ["app/*", "app/sub/*"]) == "app/sub/*"
    assert most_specific_glob("lib/x.py", ["app/*"]) is None
    assert percent_text(89.999) == "89.99%"
