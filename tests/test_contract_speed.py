"""What makes the in-process contract gate cheaper than schemathesis' CLI against a server
(issue 11 point 12), checked by mechanism, never by wall clock (benchmarks/contract_throughput.py
measures the speed).

- schemathesis calls an ASGI app from its own event loop; the app must run on that loop, not be
  carried over to a loop of ours, which cost a round trip between two threads for every message
  of every request;
- a garbage collection of the oldest generation walks every object of the process, and in-process
  that is the app, the test session and schemathesis together: the heap that exists before the
  engine starts is frozen while it runs (and unfrozen after, so nothing of the user's is kept).
"""

from __future__ import annotations

import json
import textwrap

import pytest
from conftest import gate, read_report

ASGI_APP = '''
import asyncio, contextlib, gc
from fastapi import FastAPI
from pydantic import BaseModel

SEEN = {"freeze": [], "loops": set(), "starts": 0}


@contextlib.asynccontextmanager
async def lifespan(app):
    SEEN["starts"] += 1
    SEEN["loops"].add(id(asyncio.get_running_loop()))
    yield


app = FastAPI(lifespan=lifespan)


class Note(BaseModel):
    text: str


@app.post("/notes", status_code=201)
async def create(note: Note):
    SEEN["freeze"].append(gc.get_freeze_count())
    SEEN["loops"].add(id(asyncio.get_running_loop()))
    return {"text": note.text}


@app.get("/notes/{name}")
def read(name: str):  # a sync endpoint: FastAPI runs it in its thread pool
    SEEN["freeze"].append(gc.get_freeze_count())
    return {"text": name}
'''

# Written when the session ends (after the gate items): what the app and its wrapper saw.
CONFTEST = '''
import gc, json
from pathlib import Path


def pytest_sessionfinish(session):
    import notesapp
    from pytest_backend_gates.service.serving import served

    seen = notesapp.SEEN
    Path("seen.json").write_text(json.dumps({
        "carried_over": served(notesapp.app, "asgi").carried_over,
        "freeze_during": seen["freeze"], "freeze_after": gc.get_freeze_count(),
        "loops": len(seen["loops"]), "starts": seen["starts"],
    }))
'''

API_TEST = '''
def test_the_api_fixture_reaches_the_same_app(api):
    assert api.post("/notes", json={"text": "hi"}).status_code == 201
'''


def project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(notesapp=ASGI_APP, conftest=CONFTEST, test_notes=API_TEST)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "notesapp:app"
        max_examples = 10
        stateful = false
        checks = ["not_a_server_error"]   # FastAPI's undocumented 400 on a broken body is not the point here
    """))


def test_schemathesis_calls_the_asgi_app_on_the_apps_own_loop(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = pytester.runpytest_subprocess("--backend-gates=contract", "-p", "no:cacheprovider",
                                           "--backend-gates-seed=1")
    result.assert_outcomes(passed=3)  # the api test, POST /notes, GET /notes/{name}
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "passed", contract
    assert contract["measured"]["cases"] > 10
    seen = json.loads((pytester.path / "seen.json").read_text())
    # Every request of the engine (and of the api fixture) ran on the loop of the lifespan,
    # and not one of them had to be carried over from another loop.
    assert seen["carried_over"] == 0, seen
    assert seen["loops"] == 1 and seen["starts"] == 1, seen


def test_the_engine_runs_on_a_frozen_heap_and_unfreezes_it(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = pytester.runpytest_subprocess("--backend-gates=contract", "-p", "no:cacheprovider",
                                           "--backend-gates-seed=1")
    result.assert_outcomes(passed=3)
    seen = json.loads((pytester.path / "seen.json").read_text())
    during = seen["freeze_during"]
    # The first request is the api test's (before the gate's items): nothing frozen then.
    assert during[0] == 0, during
    engine = during[1:]
    assert engine and all(count > 0 for count in engine), during
    assert seen["freeze_after"] == 0, seen  # the cyclic collector sees everything again
