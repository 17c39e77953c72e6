"""Where the JSON report goes: a path that cannot be written is a usage error before any test
runs; a write that fails at the end is said in one line under a summary that is kept, and the
run does not pass; the file gets the mode an ordinary file gets."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from conftest import COVERAGE_SOURCE_ONLY, TESTS_FULL, make_app

NEVER_RUNS = "def test_never_runs():\n    raise AssertionError('tests must not run')\n"


def _unwritable(pytester: pytest.Pytester, kind: str) -> str:
    """A report path of each kind that cannot be written."""
    if kind == "parent is a file":
        (pytester.path / "afile").write_text("not a folder")
        return "afile/gates.json"
    if kind == "a directory":
        (pytester.path / "adir").mkdir()
        return "adir"
    # Read-only for root too (tests may run as root, where a chmod'ed folder is writable).
    return "/proc/backend-gates.json"


@pytest.mark.parametrize("kind", ["parent is a file", "a directory", "a read-only place"])
def test_unwritable_report_option_is_a_usage_error_before_tests(pytester: pytest.Pytester, kind: str) -> None:
    make_app(pytester, COVERAGE_SOURCE_ONLY, tests=NEVER_RUNS)
    path = _unwritable(pytester, kind)
    result = pytester.runpytest_subprocess("--backend-gates", f"--backend-gates-report={path}", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and errors[0].startswith(f"ERROR: --backend-gates-report={path}: the JSON report "
                                                     "cannot be written to "), result.stderr.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "tests must not run" not in result.stdout.str()


def test_unwritable_report_key_is_named(pytester: pytest.Pytester) -> None:
    make_app(pytester, COVERAGE_SOURCE_ONLY.replace('report = "gates.json"', 'report = "afile/gates.json"'),
             tests=NEVER_RUNS)
    (pytester.path / "afile").write_text("not a folder")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: [[]tool.backend-gates[]] report: the JSON report cannot be written to "
                                 "*afile/gates.json: *afile is a file, not a directory"])


@pytest.mark.parametrize("how", ["key", "option"])
def test_empty_report_path_is_an_error_naming_it(pytester: pytest.Pytester, how: str) -> None:
    make_app(pytester, COVERAGE_SOURCE_ONLY.replace('report = "gates.json"', 'report = ""' if how == "key" else ""),
             tests=NEVER_RUNS)
    args = ["--backend-gates"] + (["--backend-gates-report="] if how == "option" else [])
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    expected = ("*[[]tool.backend-gates[]] report: '' is empty; expected a file path*" if how == "key" else
                "ERROR: --backend-gates-report: '' is empty; expected a file path*")
    result.stderr.fnmatch_lines([expected])


def test_report_that_cannot_be_written_at_the_end_keeps_the_summary_and_fails(pytester: pytest.Pytester) -> None:
    # The folder is free at the start; a test puts a file in its place, so the write fails at the end.
    make_app(pytester, COVERAGE_SOURCE_ONLY.replace('report = "gates.json"', 'report = "out/gates.json"'),
             tests=TESTS_FULL + "\n\ndef test_zz_block_the_report_folder():\n"
                                "    open('out', 'w').write('in the way')\n")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=9)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # a report asked for and not written is not a success
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    result.stdout.fnmatch_lines([
        "coverage  PASSED  *",
        "backend gates passed: 1 gate",  # no "; report: ..." for a report that is not there
        "backend gates: the JSON report was NOT written to */out/gates.json: */out is a file, not a directory",
    ])


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], ids=["022", "077", "002"])
def test_report_has_the_mode_of_an_ordinary_file(pytester: pytest.Pytester, umask: int) -> None:
    make_app(pytester, COVERAGE_SOURCE_ONLY)
    previous = os.umask(umask)
    try:
        result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    finally:
        os.umask(previous)
    assert result.ret == 0
    mode = stat.S_IMODE((pytester.path / "gates.json").stat().st_mode)
    assert mode == 0o666 & ~umask, oct(mode)
    assert not list(pytester.path.glob(".gates.json.*"))  # no temporary file left


def test_report_replacing_a_file_keeps_its_mode(pytester: pytest.Pytester) -> None:
    make_app(pytester, COVERAGE_SOURCE_ONLY)
    report = Path(pytester.path, "gates.json")
    report.write_text("{}")
    report.chmod(0o640)
    assert pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider").ret == 0
    assert stat.S_IMODE(report.stat().st_mode) == 0o640 and '"version": 1' in report.read_text()


LATENCY_PROJECT = """
[tool.backend-gates]
report = "gates.json"
[tool.backend-gates.latency]
regression = "10%"
"""
TIMED_TEST = """
import pytest

@pytest.mark.latency_budget(samples=5)
def test_lookup():
    sum(range(100))
"""


def test_latency_baseline_that_cannot_be_written_is_one_warning(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(LATENCY_PROJECT)
    pytester.makepyfile(test_perf=TIMED_TEST)
    (pytester.path / ".backend-gates").write_text("a file where the baseline's folder goes")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 0  # this run's verdicts stand
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    latency = next(g for g in json.loads((pytester.path / "gates.json").read_text())["gates"] if g["gate"] == "latency")
    assert latency["status"] == "passed"
    assert [w for w in latency["warnings"] if w.startswith("the latency baseline could not be written to ")
            and w.endswith("; regressions cannot be checked in the next run")], latency["warnings"]


def test_latency_baseline_has_the_mode_of_an_ordinary_file(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(LATENCY_PROJECT)
    pytester.makepyfile(test_perf=TIMED_TEST)
    previous = os.umask(0o022)
    try:
        assert pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider").ret == 0
    finally:
        os.umask(previous)
    baseline = pytester.path / ".backend-gates" / "latency-baseline.json"
    assert stat.S_IMODE(baseline.stat().st_mode) == 0o644
