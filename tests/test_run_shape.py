"""Run shapes, in subprocesses: where the application is imported (conftest.py files, plugins loaded
before the gates), partial runs (-k, -m, --deselect, -x, --lf, narrower paths), --collect-only."""

from __future__ import annotations

import textwrap

import pytest
from conftest import APP_AUTH, APP_CALC, gate, read_report

# -- where the application is imported --------------------------------------------------------

APP_DB = '''
import sqlite3

DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT)")
DB.execute("CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER, title TEXT)")
for number in range(30):
    DB.execute("INSERT INTO authors (id, name) VALUES (?, ?)", (number, f"author {number}"))
    DB.execute("INSERT INTO books (author_id, title) VALUES (?, ?)", (number, f"book {number}"))


def authors():
    found = []
    for author_id, name in DB.execute("SELECT id, name FROM authors").fetchall():
        books = DB.execute("SELECT title FROM books WHERE author_id = ?", (author_id,)).fetchall()
        found.append((name, books))
    return found
'''


def db_project(pytester: pytest.Pytester) -> None:
    """An app whose module-level code opens a sqlite3 connection and has an N+1 of 31 statements."""
    pytester.makepyprojecttoml("""
        [tool.pytest.ini_options]
        testpaths = ["tests"]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.coverage]
        source = ["app"]
        total = 100
    """)
    pkg = pytester.mkpydir("app")
    (pkg / "db.py").write_text(APP_DB)
    tests = pytester.mkdir("tests")
    (tests / "test_authors.py").write_text(textwrap.dedent("""
        import pytest
        from app import db


        @pytest.mark.query_budget(max=5, repeats=3)
        def test_authors():
            assert len(db.authors()) == 30
    """))


@pytest.mark.parametrize("conftest", ["tests/conftest.py", "conftest.py"])
def test_an_app_imported_by_a_conftest_is_measured_from_its_first_line(pytester: pytest.Pytester,
                                                                      conftest: str) -> None:
    # The gates started after pytest imported the conftest.py files: coverage 50% where
    # `coverage run` said 100%, and the N+1's 31 statements were not counted (a false green).
    db_project(pytester)
    (pytester.path / conftest).write_text("from app import db  # noqa: F401 - the most common layout\n")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    report = read_report(pytester)
    coverage = gate(report, "coverage")
    assert coverage["status"] == "passed" and coverage["measured"]["total"] == 100.0, coverage
    queries = gate(report, "queries")
    assert queries["status"] == "failed" and queries["measured"]["statements"] == 31, queries
    assert "ran 30 times" in queries["violations"][0]["message"]


@pytest.mark.parametrize("how", ["-p", "PYTEST_PLUGINS"])
def test_an_app_imported_before_the_gates_started_is_an_error_naming_it(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    # A plugin named with -p or PYTEST_PLUGINS is imported before any hook of ours runs: what it
    # imports cannot be measured from its first line. Said, never judged on what was not seen.
    db_project(pytester)
    pytester.makepyfile(early_plugin="from app import db  # noqa: F401\n")
    args = ["-p", "early_plugin"] if how == "-p" else []
    if how == "PYTEST_PLUGINS":
        monkeypatch.setenv("PYTEST_PLUGINS", "early_plugin")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=":")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = read_report(pytester)
    coverage = gate(report, "coverage")
    assert coverage["status"] == "error"
    assert coverage["summary"].startswith("app (app/__init__.py), app.db (app/db.py) were imported before coverage "
                                          "measurement started, by a plugin loaded before the gates (")
    assert ("-p early_plugin" if how == "-p" else "PYTEST_PLUGINS=early_plugin") in coverage["summary"]
    assert coverage["measured"]["imported_early"] == ["app", "app.db"]
    queries = gate(report, "queries")
    assert queries["status"] == "error"
    assert queries["summary"].startswith("sqlite3 connection app.db.DB was opened before the queries gate started")
    result.stdout.fnmatch_lines(["backend gates FAILED: coverage error, queries error*"])


# -- partial runs -------------------------------------------------------------------------------

TESTS_CALC = '''
import pytest
from app import calc


def test_tax():
    assert calc.tax(10) == 2
    with pytest.raises(ValueError):
        calc.tax(-1)


@pytest.mark.parametrize("code, expected", [("HALF", 50), ("TENOFF", 90), ("NONE", 100)])
def test_discount(code, expected):
    assert calc.discount(100, code) == expected
'''

TESTS_AUTH = '''
import pytest
from app import auth


@pytest.mark.slow
@pytest.mark.parametrize("given, ok", [("", False), ("ab", False), ("abc", True), ("abd", False)])
def test_password(given, ok):
    assert auth.check_password(given, "abc") is ok
'''


def calc_project(pytester: pytest.Pytester, ini: str = "") -> None:
    """8 tests in two files that cover app/ 100% together, and a minimum of 100%."""
    pytester.makepyprojecttoml(f"""
        [tool.pytest.ini_options]
        testpaths = ["tests"]
        pythonpath = ["."]
        markers = ["slow: a slow test"]
        {ini}
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.coverage]
        source = ["app"]
        total = 100
    """)
    pkg = pytester.mkpydir("app")
    (pkg / "calc.py").write_text(APP_CALC)
    (pkg / "auth.py").write_text(APP_AUTH)
    tests = pytester.mkdir("tests")
    (tests / "test_calc.py").write_text(TESTS_CALC)
    (tests / "test_auth.py").write_text(TESTS_AUTH)


@pytest.mark.parametrize("args, reason", [
    (["-k", "tax"], "-k deselected 7 tests"),
    (["-m", "slow"], "-m deselected 4 tests"),
    (["--deselect", "tests/test_calc.py::test_tax"], "--deselect deselected 1 test"),
    (["tests/test_calc.py"], "only tests/test_calc.py of the whole run (testpaths tests)"),
    (["tests/test_calc.py::test_tax"], "only tests/test_calc.py::test_tax of the whole run (testpaths tests)"),
    (["-n", "2", "-k", "tax"], "-k deselected 7 tests"),  # xdist: the workers deselect
])
def test_a_partial_run_reports_coverage_without_judging_it(pytester: pytest.Pytester, args: list[str],
                                                           reason: str) -> None:
    # Judged as a whole run, each failed the coverage gate (41% to 82% of code the whole suite
    # covers 100%), with no word that the run was partial.
    calc_project(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, "--backend-gates")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "skipped"
    assert coverage["summary"].startswith(f"not enforced, partial run: {reason} (measured: total ")
    assert coverage["measured"]["total"] < 100 and coverage["measured"]["partial_run"] == [reason]
    assert coverage["violations"] == []
    assert coverage["warnings"][0].startswith("coverage is judged on a whole run only")
    # a gate that did not judge does not look green
    result.stdout.fnmatch_lines(["coverage  SKIPPED not enforced, partial run: *",
                                 "backend gates: nothing judged (coverage skipped); report: *gates.json"])


def test_a_run_stopped_by_x_is_partial(pytester: pytest.Pytester) -> None:
    calc_project(pytester)
    (pytester.path / "tests" / "test_a_broken.py").write_text("def test_broken():\n    assert False\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-x", "--backend-gates")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "skipped"
    assert "1 of 9 selected tests ran (stopped after 1 failure: -x/--maxfail)" in coverage["summary"]


def test_last_failed_is_partial(pytester: pytest.Pytester) -> None:
    calc_project(pytester)
    broken = pytester.path / "tests" / "test_broken.py"
    broken.write_text("def test_broken():\n    assert False\n")
    first = pytester.runpytest_subprocess("--backend-gates")
    assert gate(read_report(pytester), "coverage")["status"] == "passed"  # the whole run was judged
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    pytester.runpytest_subprocess("--lf", "--backend-gates")
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "skipped"
    assert "--lf re-ran only the tests that failed last time" in coverage["summary"]


@pytest.mark.parametrize("args, ini", [
    ([], ""),
    (["tests"], ""),  # the paths given are testpaths
    (["."], ""),
    ([], 'addopts = "-m \\"not nothing\\""'),  # the ini's own selection defines the whole run
    (["-k", "tax or discount or password"], ""),  # -k that deselects nothing
])
def test_a_whole_run_is_judged(pytester: pytest.Pytester, args: list[str], ini: str) -> None:
    calc_project(pytester, ini)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, "--backend-gates")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "passed" and "partial_run" not in coverage["measured"], coverage


def test_an_ini_selection_that_deselects_is_still_a_whole_run(pytester: pytest.Pytester) -> None:
    # addopts = -m "not slow" is what this project calls its suite: judged, and here it fails
    calc_project(pytester, 'addopts = "-m \\"not slow\\""')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--backend-gates")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert gate(read_report(pytester), "coverage")["status"] == "failed"


def test_collect_only_judges_nothing_and_exits_0(pytester: pytest.Pytester) -> None:
    calc_project(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-k", "tax", "--backend-gates")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["backend gates: not evaluated under --collect-only (no test ran)"])
    assert not (pytester.path / "gates.json").exists()
