"""The coverage gate end to end, in a subprocess (coverage.py traces the whole process)."""

from __future__ import annotations

import textwrap

import pytest
from conftest import TESTS_FULL, gate, make_app, read_report

from pytest_backend_gates.gates.coverage.figures import (
    line_ranges,
    most_specific_glob,
    percent_text,
)

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
    # no greenlet user in the code: coverage.py's default, not the slower greenlet tracking
    assert coverage["measured"]["concurrency"] == ["thread"] and "greenlet_found_in" not in coverage["measured"]
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


def test_the_apps_warnings_are_not_coverage_pys(pytester: pytest.Pytester) -> None:
    make_app(pytester, COVERAGE_90.replace('source = ["app"]', 'source = ["app", "not_imported"]'))
    pytester.makeconftest('''
        import coverage

        _stop = coverage.Coverage.stop


        def stop(self):
            # What a garbage-collected coroutine of the app does when the collection happens
            # while coverage stops: a RuntimeWarning that is the app's, not coverage.py's.
            async def error_response():
                pass

            error_response()
            return _stop(self)


        coverage.Coverage.stop = stop


        def pytest_warning_recorded(warning_message, when, nodeid, location):
            with open("warnings.txt", "a") as seen:
                seen.write(f"{warning_message.category.__name__}: {warning_message.message}\\n")
    ''')
    result = pytester.runpytest_subprocess("--backend-gates")
    result.assert_outcomes(passed=2)
    warnings = gate(read_report(pytester), "coverage")["warnings"]
    assert not [w for w in warnings if "never awaited" in w], warnings
    assert [w for w in warnings if w.startswith("coverage.py: Module not_imported was never imported.")], warnings
    # passed on to Python's warnings (and so to pytest), as if the gate had not caught it
    assert "RuntimeWarning: coroutine 'stop.<locals>.error_response' was never awaited" in \
        (pytester.path / "warnings.txt").read_text()
    # warning filters that make it an error do not crash the gate; it is reported as the app's
    result = pytester.runpytest_subprocess("--backend-gates", "-W", "error::RuntimeWarning")
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "failed", result.stdout.str()  # total under 90%, as before
    assert [w for w in coverage["warnings"] if w.startswith(
        "a warning of the application, not coverage.py's, came while coverage.py started or stopped: "
        "RuntimeWarning: coroutine 'stop.<locals>.error_response' was never awaited (")], coverage["warnings"]


# An async SQLAlchemy app served in-process: SQLAlchemy's asyncio layer runs each statement in a
# greenlet, and coverage.py without greenlet concurrency loses the lines after some awaits.
ASYNC_DB = '''
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncAttrs, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.pool import NullPool

engine = create_async_engine("sqlite+aiosqlite:///./tasks.db", poolclass=NullPool)
sessions = async_sessionmaker(engine, expire_on_commit=False)


class Base(AsyncAttrs, DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "project"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    tasks: Mapped[list["Task"]] = relationship(order_by="Task.id")


class Task(Base):
    __tablename__ = "task"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    title: Mapped[str]


async def seed():
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
    async with sessions.begin() as session:
        session.add_all([Project(name=f"p{n}", tasks=[Task(title=f"t{n}.{i}") for i in (1, 2)]) for n in range(5)])


async def project_page():
    async with sessions() as session:
        projects = (await session.scalars(select(Project).order_by(Project.id))).all()
        return [{"id": p.id, "tasks": [t.title for t in await p.awaitable_attrs.tasks]} for p in projects]
'''
ASYNC_APP = '''
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import db


@asynccontextmanager
async def lifespan(app):
    await db.seed()
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/projects")
async def projects():
    return await db.project_page()
'''
ASYNC_COVERAGE_100 = """
[tool.pytest.ini_options]
pythonpath = ["."]
[tool.backend-gates]
report = "gates.json"
[tool.backend-gates.contract]
app = "app.web:app"
[tool.backend-gates.coverage]
source = ["app"]
total = 100
"""


def async_sqlalchemy_app(pytester: pytest.Pytester, toml: str = ASYNC_COVERAGE_100) -> None:
    for module in ("fastapi", "sqlalchemy.ext.asyncio", "aiosqlite", "greenlet"):
        pytest.importorskip(module)
    pytester.makepyprojecttoml(textwrap.dedent(toml))
    package = pytester.mkpydir("app")
    (package / "db.py").write_text(ASYNC_DB)
    (package / "web.py").write_text(ASYNC_APP)
    pytester.makepyfile(test_web="def test_projects(api):\n    assert len(api.get('/projects').json()) == 5\n")


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["central", "xdist"])
def test_greenlet_code_is_measured_with_greenlet_concurrency(pytester: pytest.Pytester, xdist: list[str]) -> None:
    async_sqlalchemy_app(pytester)  # no [tool.coverage.run]: the gate adds "greenlet" itself
    result = pytester.runpytest_subprocess("--backend-gates=coverage", *xdist)
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["measured"]["total"] == 100.0, result.stdout.str()
    assert coverage["status"] == "passed" and result.ret == 0
    assert coverage["measured"]["concurrency"] == ["thread", "greenlet"]
    assert coverage["measured"]["greenlet_found_in"] == "app/db.py"
    assert not coverage["warnings"]


@pytest.mark.parametrize("measurer, xdist", [
    ("pytest-cov", []), ("pytest-cov", ["-n", "2"]), ("coverage.py", []),
], ids=["pytest-cov", "pytest-cov-xdist", "configured"])
def test_measured_without_greenlet_concurrency_says_what_to_add(pytester: pytest.Pytester, measurer: str,
                                                                xdist: list[str]) -> None:
    # pytest-cov measures (the gate cannot choose how), or the project set a concurrency without
    # greenlet (the gate keeps it): greenlet in use, measured without following it
    if measurer == "pytest-cov":
        async_sqlalchemy_app(pytester)
        flags = ["--cov=app"]
    else:
        async_sqlalchemy_app(pytester, ASYNC_COVERAGE_100 + '[tool.coverage.run]\nconcurrency = ["thread"]\n')
        flags = []
    result = pytester.runpytest_subprocess("--backend-gates=coverage", *flags, *xdist)
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["measured"]["measured_by"] == measurer, result.stdout.str()
    line = 'concurrency = ["thread", "greenlet"]'
    [warning] = [w for w in coverage["warnings"] if "greenlet" in w]
    assert warning == (f"greenlet is in use (sqlalchemy.ext.asyncio is loaded) and {measurer} measured without "
                       f"greenlet concurrency: coverage.py misses lines run after a switch between greenlets "
                       f"(after an awaited query), so the figures may be too low; add {line} to "
                       f"[tool.coverage.run] in pyproject.toml")
    # under-measured (the lines after an awaited query are lost): the failure says why it may be
    assert coverage["status"] == "failed" and coverage["measured"]["total"] < 100
    assert coverage["measured"]["concurrency"] == ["thread"]
    assert coverage["violations"][0]["message"].endswith(f"; {warning}")
