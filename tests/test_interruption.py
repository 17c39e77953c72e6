"""Ctrl-C at a deterministic point of every gate, in one process and under `-n 2` (issue 12).

An interrupted run exits 2, its report says `"interrupted": true`, no gate that did not finish
is `passed`, and nobody sees a traceback. The signal comes from inside the run: the app (served
in-process) or the test itself sends SIGINT once (a marker file makes it once), to the pytest
process, or under xdist to the whole process group as a terminal's Ctrl-C does. Each run is a
subprocess in its own session, so that signal reaches nothing else."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

SHOP = '''
import os
import signal
import threading
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()
CALLS = {"n": 0}
LOCK = threading.Lock()


def interrupt(where: str) -> None:
    """SIGINT once, when SIGINT_AT names this place (after SIGINT_AFTER calls of it)."""
    if os.environ.get("SIGINT_AT") != where:
        return
    with LOCK:
        CALLS["n"] += 1
        if CALLS["n"] < int(os.environ.get("SIGINT_AFTER", "1")):
            return
    try:
        os.close(os.open(os.environ["SIGINT_MARK"], os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return
    if os.environ["SIGINT_MODE"] == "group":  # a terminal's Ctrl-C: every process of the run
        os.killpg(os.getpgid(0), signal.SIGINT)
    else:
        os.kill(os.getpid(), signal.SIGINT)


class Item(BaseModel):
    name: str


@app.get("/a/{n}")
def a(n: int) -> dict[str, int]:
    return {"n": n}


@app.get("/b/{n}")
def b(n: int) -> dict[str, int]:
    interrupt("load")
    return {"n": n}


@app.get("/c/{n}")
def c(n: int) -> dict[str, int]:
    interrupt("contract")
    return {"n": n}


@app.post("/items", status_code=201)
def create(item: Item) -> dict[str, str]:
    return {"name": item.name}
'''

TESTS = '''
from shop import interrupt


def test_first(api):
    assert api.get("/a/1").status_code == 200


def test_race(race):
    race.run(interrupt, "race", threads=4, rounds=3)


def test_keyboard_interrupt():
    import os
    if os.environ.get("SIGINT_AT") == "test":
        open(os.environ["SIGINT_MARK"], "w").close()
        raise KeyboardInterrupt


def test_last():
    pass
'''

GATES = """
[tool.pytest.ini_options]
pythonpath = ["."]
[tool.backend-gates]
report = "gates.json"
[tool.backend-gates.contract]
app = "shop:app"
max_examples = 5
stateful = false
[tool.backend-gates.security]
rules = { header-missing = "ignore" }
[tool.backend-gates.coverage]
source = ["shop"]
total = 10
[tool.backend-gates.race]
auto = false
[tool.backend-gates.load]
users = 2
spawn_rate = 2
duration = "{duration}"
thresholds = ["failures < 50%"]
"""


def interrupted_run(path: Path, gates: str, at: str, xdist: bool, after: int = 1,
                    load_duration: str = "20s") -> tuple[int, str, dict[str, Any]]:
    (path / "shop.py").write_text(SHOP)
    (path / "test_shop.py").write_text(TESTS)
    (path / "pyproject.toml").write_text(textwrap.dedent(GATES).replace("{duration}", load_duration))
    env = {**os.environ, "SIGINT_AT": at, "SIGINT_AFTER": str(after), "SIGINT_MARK": str(path / "sigint-sent"),
           "SIGINT_MODE": "group" if xdist else "pid"}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--backend-gates={gates}",
               *(["-n", "2"] if xdist else [])]
    process = subprocess.Popen(command, cwd=path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)  # its own process group: the Ctrl-C stays inside
    try:
        output, _ = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"the interrupted run did not end within 300 s (SIGINT_AT={at})")
    text = output.decode("utf-8", "replace")
    assert (path / "sigint-sent").exists(), f"the run never reached the interruption point {at!r}:\n{text}"
    report = json.loads((path / "gates.json").read_text())
    return process.returncode, text, report


def assert_interrupted(returncode: int, output: str, report: dict[str, Any], finished: tuple[str, ...] = ()) -> None:
    assert returncode == pytest.ExitCode.INTERRUPTED, output
    assert report["interrupted"] is True, report
    assert "Traceback (most recent call last)" not in output, output
    passed = [g["gate"] for g in report["gates"] if g["status"] == "passed"]
    assert set(passed) <= set(finished), (passed, output)
    if passed != [g["gate"] for g in report["gates"]]:
        assert report["passed"] is False
    assert "backend gates INTERRUPTED: the run did not finish" in output, output
    assert "backend gates passed" not in output, output
    assert "deselected" not in output, output


XDIST = pytest.mark.parametrize("xdist", [False, True], ids=["one-process", "xdist"])


@XDIST
def test_keyboard_interrupt_in_a_test(pytester: pytest.Pytester, xdist: bool) -> None:
    returncode, output, report = interrupted_run(pytester.path, "coverage,security", "test", xdist)
    if not xdist:  # (under xdist the interrupted worker's data may be lost: then nothing is said)
        (sigint,) = [g for g in report["gates"] if g["gate"] == "coverage"]
        assert sigint["summary"].startswith("the run was interrupted before this gate finished (until then: ")
    assert_interrupted(returncode, output, report)


@XDIST
def test_sigint_during_the_contract_engine(pytester: pytest.Pytester, xdist: bool) -> None:
    """It printed "backend gates passed" and wrote "passed": true after 1 of 8 operations."""
    returncode, output, report = interrupted_run(pytester.path, "contract,security", "contract", xdist)
    assert_interrupted(returncode, output, report)
    statuses = {g["gate"]: g["status"] for g in report["gates"]}
    assert statuses == {"contract": "error", "security": "error"}, report


@XDIST
def test_sigint_during_the_load_run(pytester: pytest.Pytester, xdist: bool) -> None:
    """It showed a raw traceback and exited -2 (and under xdist wrote no report at all)."""
    returncode, output, report = interrupted_run(pytester.path, "load", "load", xdist, after=40)
    assert_interrupted(returncode, output, report)
    (load,) = report["gates"]
    assert load["status"] == "error" and load["summary"].startswith("the run was interrupted during the load run"), load


@XDIST
def test_sigint_during_a_race_probe(pytester: pytest.Pytester, xdist: bool) -> None:
    returncode, output, report = interrupted_run(pytester.path, "race,coverage", "race", xdist)
    assert_interrupted(returncode, output, report)
    assert {g["gate"]: g["status"] for g in report["gates"]} == {"race": "error", "coverage": "error"}, report


def test_a_gate_that_finished_before_the_interruption_keeps_its_verdict(pytester: pytest.Pytester) -> None:
    """The load run goes before every test: it is complete when a test is interrupted."""
    returncode, output, report = interrupted_run(pytester.path, "load,coverage", "test", False, load_duration="2s")
    assert_interrupted(returncode, output, report, finished=("load",))
    statuses = {g["gate"]: g["status"] for g in report["gates"]}
    assert statuses["coverage"] == "error" and statuses["load"] in ("passed", "failed"), report
    assert "the run was interrupted" not in next(g for g in report["gates"] if g["gate"] == "load")["summary"]
