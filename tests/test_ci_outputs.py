"""Where CI shows results (SPEC section 7): every gate a JUnit test case, the GitHub Actions step
summary and `::error` annotations."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import TESTS_FULL, make_app
from test_reporting import slow_project

from pytest_backend_gates.report.github import (
    ANNOTATION_LIMIT,
    annotation_lines,
    step_summary,
)
from pytest_backend_gates.report.view import RunView
from pytest_backend_gates.result import GateResult, Status, Violation

COVERAGE = """
[tool.backend-gates]
report = "gates.json"

[tool.backend-gates.coverage]
source = ["app"]
total = {total}

[tool.backend-gates.coverage.files]
"app/auth.py" = 100
"""
# auth.py line 6 (`return False` for a length mismatch) is never run.
TESTS_AUTH_PARTLY = TESTS_FULL.replace('("ab", False), ("abc", True), ("abd", False)', '("abc", True)')


def gate_cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {case.get("name", ""): case for case in root.iter("testcase") if case.get("classname") == "backend-gates"}


def properties(case: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_failed_gate_is_a_failed_junit_case_and_passed_one_carries_its_figures(
        pytester: pytest.Pytester, workers: list[str]) -> None:
    make_app(pytester, COVERAGE.format(total=10), tests=TESTS_AUTH_PARTLY)
    result = pytester.runpytest_subprocess("--backend-gates", "--junitxml=junit.xml", "-p", "no:randomly", *workers)
    assert result.ret == 1
    cases = gate_cases(pytester.path / "junit.xml")
    assert set(cases) == {"coverage"}
    failure = cases["coverage"].find("failure")
    assert failure is not None, ET.tostring(cases["coverage"]).decode()
    text = (failure.get("message", "") + (failure.text or ""))
    assert "app/auth.py [coverage-file]: app/auth.py: 83.33% is under the minimum 100%" in text
    # The tests themselves are still there, passed.
    root = ET.parse(pytester.path / "junit.xml").getroot()
    assert sum(1 for case in root.iter("testcase") if case.get("classname") == "test_app") == 6
    assert int(root.find("testsuite").get("failures")) == 1  # type: ignore[union-attr]

    pytester.makepyfile(test_app=TESTS_FULL)
    result = pytester.runpytest_subprocess("--backend-gates", "--junitxml=junit.xml", "-p", "no:randomly", *workers)
    assert result.ret == 0
    case = gate_cases(pytester.path / "junit.xml")["coverage"]
    assert case.find("failure") is None and case.find("error") is None and case.find("skipped") is None
    props = properties(case)
    assert props["summary"].startswith("total 100.00% (min 10%)") and "total 100" in props["figures"], props
    assert props["new_violations"] == "0"


def test_error_gate_is_a_junit_error_and_skipped_stays_skipped(pytester: pytest.Pytester) -> None:
    slow_project(pytester, "crash = true")
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates", "--junitxml=junit.xml")
    assert result.ret == 1
    case = gate_cases(pytester.path / "junit.xml")["slowtests"]
    error = case.find("error")
    assert error is not None
    assert "slowtests error: the gate crashed: RuntimeError: slow-test bookkeeping went wrong" in \
        (error.get("message", "") + (error.text or ""))


def test_without_junitxml_nothing_is_written(pytester: pytest.Pytester) -> None:
    slow_project(pytester, "max_slow = 0")
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates")
    assert result.ret == 1
    assert not list(pytester.path.glob("*.xml"))


def test_github_step_summary_and_annotations(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = pytester.path / "step-summary.md"
    summary.write_text("earlier step\n")
    make_app(pytester, COVERAGE.format(total=99), tests=TESTS_AUTH_PARTLY)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:randomly")
    assert result.ret == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n## Backend gates: FAILED\n"), "appended, not overwritten"
    assert "| gate | status | measured vs threshold | new | accepted |" in text
    assert "| coverage | ❌ failed | total 94.11" in text and "| 2 | 0 |" in text
    assert "- **app/auth.py** `coverage-file` (`app/auth.py:6`): app/auth.py: 83.33% is under the minimum 100%" in text
    result.stdout.fnmatch_lines(
        ["::error file=app/auth.py,line=6,title=coverage coverage-file::app/auth.py: app/auth.py: 83.33%25 is under*"])
    assert "::error file=total" not in result.stdout.str(), "a violation without a source line is not annotated"


def test_no_github_output_outside_github(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    make_app(pytester, COVERAGE.format(total=99), tests=TESTS_AUTH_PARTLY)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:randomly")
    assert result.ret == 1
    assert "::error" not in result.stdout.str()


def test_annotations_are_capped_with_a_count_of_the_rest() -> None:
    violations = [Violation(f"tests/t.py::test_{i}", "validation-test", f"failed\nline two %{i}", file="tests/t.py",
                            line=i + 1) for i in range(ANNOTATION_LIMIT + 5)]
    violations.append(Violation("total", "coverage-total", "no file"))
    view = RunView(results=[GateResult("validation", Status.FAILED, "15 failed", violations=violations),
                            GateResult("latency", Status.FAILED, "accepted only",
                                       violations=[Violation("x", "latency-budget", "m", file="a.py", line=3,
                                                             accepted=True, reason="baseline")])],
                   root=Path("."))
    lines = annotation_lines(view)
    assert len(lines) == ANNOTATION_LIMIT + 1
    assert lines[0] == ("::error file=tests/t.py,line=1,title=validation validation-test::"
                        "tests/t.py::test_0: failed%0Aline two %250")
    assert lines[-1].startswith("::warning title=backend-gates::5 more violations with a source line are not annotated")
    assert not any("a.py" in line for line in lines), "accepted violations are not annotated"
    table = step_summary(view)
    assert "| validation | ❌ failed |" in table and "| 16 | 0 |" in table and "| 0 | 1 |" in table
    assert "more (see the JSON report)" not in table, "16 violations are under the 20 listed per gate"
