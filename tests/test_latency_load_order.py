"""The measuring gates measure the undamaged service: before any test or gate item runs.

The contract fuzzer calls every operation, DELETE and logout included, and the race and
security items write too. Measured after them (as the latency and load gates were, in
`evaluate()`), a service whose `DELETE /items` empties the store answered 404 to every
`GET /items/{item_id}`: latency passed on the timings of 404s, load failed on 100% of
them (issue 11). Now both measure first, on the controller, also under xdist (before any
worker exists), and `--collect-only` sends no request at all.
"""

from __future__ import annotations

import sqlite3
import textwrap

import pytest
from conftest import gate, read_report

# A FastAPI store on an SQLite file (shared by the xdist workers and the controller), seeded
# with ids 1000..1004; DELETE /items empties it. Every request is logged, with the process id.
STORE_APP = '''
import os
import sqlite3
from contextlib import asynccontextmanager

from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Request, Response

HERE = os.path.dirname(os.path.abspath(__file__))
DB = os.path.join(HERE, "store.db")
LOG = os.path.join(HERE, "requests.log")
STATE = {"ready": False}


@asynccontextmanager
async def lifespan(app):
    STATE["ready"] = True  # started again after any earlier shutdown, as under a new server
    yield
    STATE["ready"] = False


app = FastAPI(lifespan=lifespan)


def rows(query, *args):
    with sqlite3.connect(DB, timeout=30) as db:
        return db.execute(query, args).fetchall()


@app.middleware("http")
async def log(request: Request, call_next):
    with open(LOG, "a") as stream:
        stream.write(f"{os.getpid()} {request.method} {request.url.path}\\n")
    if not STATE["ready"]:
        return Response("not started", status_code=503)
    return await call_next(request)


@app.get("/items")
def items() -> list[dict]:
    return [{"id": i, "name": n} for i, n in rows("SELECT id, name FROM items ORDER BY id")]


@app.get("/items/{item_id}")
def item(item_id: Annotated[int, Path(ge=0, le=2**63 - 1)]) -> dict:  # SQLite's INTEGER range
    found = rows("SELECT id, name FROM items WHERE id = ?", item_id)
    if not found:
        raise HTTPException(status_code=404, detail="no such item")
    return {"id": found[0][0], "name": found[0][1]}


@app.delete("/items", status_code=204)
def clear() -> Response:
    rows("DELETE FROM items")
    return Response(status_code=204)
'''

USER_TEST = '''
import store_app


def test_the_app_still_answers_after_the_measurements(api):
    # the module the gates served and timed is the one the tests import, and it works
    assert store_app.STATE["ready"]
    assert api.get("/items").status_code == 200
'''


def store_project(pytester: pytest.Pytester, gates: str) -> None:
    pytester.makepyfile(store_app=STORE_APP, test_store=USER_TEST)
    with sqlite3.connect(pytester.path / "store.db") as db:
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        db.executemany("INSERT INTO items VALUES (?, ?)", [(1000 + i, f"item {i}") for i in range(5)])
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "store_app:app"
        max_examples = 5
        stateful = false
        checks = ["not_a_server_error"]
        [tool.backend-gates.latency]
        samples = 10
        budgets = { "GET /items/{item_id}" = "p95 < 2s" }
        [tool.backend-gates.load]
        users = 2
        spawn_rate = 50
        duration = "2s"
        thresholds = ["failures < 1%"]
    """) + textwrap.dedent(gates))


def logged(pytester: pytest.Pytester) -> list[str]:
    path = pytester.path / "requests.log"
    return path.read_text().splitlines() if path.is_file() else []


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["one process", "xdist"])
def test_a_contract_item_deleting_all_data_no_longer_fails_latency_and_load(pytester: pytest.Pytester,
                                                                           xdist: tuple[str, ...]) -> None:
    store_project(pytester, "")
    result = pytester.runpytest_subprocess("--backend-gates=contract,latency,load", "-p", "no:randomly", *xdist)
    report = read_report(pytester)
    latency, load = gate(report, "latency"), gate(report, "load")
    assert latency["status"] == "passed", latency
    timing = latency["measured"]["timings"]["GET /items/{item_id}"]
    assert set(timing["statuses"]) == {"200"}
    assert load["status"] == "passed", load
    assert load["measured"]["endpoints"]["GET /items/{item_id}"]["failures"] == 0
    assert load["measured"]["failures"] == 0
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes["passed"] >= 2  # the contract items and the user's test
    # the contract gate did empty the store...
    with sqlite3.connect(pytester.path / "store.db") as db:
        assert db.execute("SELECT count(*) FROM items").fetchone() == (0,)
    # ...after every measuring request: the first DELETE follows the last request of the load run
    lines = logged(pytester)
    first_delete = next(i for i, line in enumerate(lines) if line.endswith("DELETE /items"))
    # (the measurements are the first requests, all from the process that measured: the fuzzer
    # of an xdist worker may draw the same ids)
    measurer = lines[0].split()[0]
    measuring = [i for i, line in enumerate(lines)
                 if line.startswith(measurer + " ") and line.endswith(tuple(f"/items/{1000 + n}" for n in range(5)))]
    assert measuring and max(measuring) < first_delete


def test_collect_only_sends_no_request(pytester: pytest.Pytester) -> None:
    store_project(pytester, "")
    result = pytester.runpytest_subprocess("--backend-gates=latency,load", "--collect-only")
    assert result.ret == 0
    assert logged(pytester) == []
    # nothing ran, so nothing is judged and no report is written
    result.stdout.fnmatch_lines(["backend gates: not evaluated under --collect-only (no test ran)"])
    assert not (pytester.path / "gates.json").exists()
