"""A crashed xdist worker (os._exit, segfault, OOM kill) takes its measurements with it: the gates
cannot judge a run they saw only part of, so each becomes `error` naming the crash (issue 13),
never a verdict on what the surviving workers measured. The twin without the crash passes."""

from __future__ import annotations

import textwrap

import pytest
from conftest import gate, read_report

TESTS = '''
import os
import sqlite3

import pytest


@pytest.mark.query_budget(max=5)
def test_counted():
    db = sqlite3.connect(":memory:")
    db.execute("create table t (x int)")
    db.execute("insert into t values (1)")
    assert db.execute("select x from t").fetchall() == [(1,)]


@pytest.mark.query_budget(max=5)
def test_counted_too():
    sqlite3.connect(":memory:").execute("select 1").fetchall()


def test_worker_dies():
    if os.environ.get("CRASH_WORKER") == "1":
        os._exit(3)  # what a segfault or the OOM killer does to a worker: no sessionfinish, no output
'''


@pytest.mark.parametrize("crash", [True, False], ids=["worker crashed", "no crash"])
def test_a_crashed_worker_makes_the_gates_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                crash: bool) -> None:
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.queries]
    """))
    pytester.makepyfile(test_db=TESTS)
    monkeypatch.setenv("CRASH_WORKER", "1" if crash else "0")
    result = pytester.runpytest_subprocess("--backend-gates", "-n", "2", "-p", "no:cacheprovider",
                                           "-p", "no:schemathesis")
    queries = gate(read_report(pytester), "queries")
    if crash:
        assert result.ret == 1
        assert queries["status"] == "error", queries
        assert "an xdist worker crashed and its measurements are lost" in queries["summary"]
        result.stdout.fnmatch_lines(["*queries*ERROR*an xdist worker crashed and its measurements are lost*"])
    else:
        assert result.ret == 0, result.stdout.str()
        assert queries["status"] == "passed", queries
