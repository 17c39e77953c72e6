"""The race gate end to end: the bundled races are found and their fixed twins pass, HTTP probes
through the api fixture and the automatic probe, marker and config errors, replay, xdist,
PostgreSQL (when a server is reachable), and the interpreter settings a probe changes."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
from typing import Self

import pytest
from conftest import EXAMPLES, example_files, gate, read_report

from pytest_backend_gates.gates.race.probe import Race, RaceError

RACE = EXAMPLES / "race"
DOCS_SNIPPETS = EXAMPLES.parent / "docs" / "snippets"
PG_DSN = os.environ.get("BACKEND_GATES_PG_DSN")


def race_project(pytester: pytest.Pytester, extra: str = "") -> None:
    example_files(pytester, "race", extra)


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, variant: str, *args: str) -> pytest.RunResult:
    monkeypatch.setenv("RACE_VARIANT", variant)
    if "-n" in args:  # xdist starts processes
        return pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider", *args)
    return pytester.runpytest("--backend-gates", "-p", "no:cacheprovider", *args)


def test_each_seeded_race_is_found(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    race_project(pytester)
    result = run(pytester, monkeypatch, "buggy", "test_races.py", "--backend-gates-race-seed=4242")
    result.assert_outcomes(failed=4)
    race = gate(read_report(pytester), "race")
    assert race["status"] == "failed"
    # the seed that replays the schedule: in the header, in each failure, in the report
    result.stdout.fnmatch_lines(["backend-gates race: seed 4242 (replay with --backend-gates-race-seed=4242)"])
    assert race["measured"]["seeds"] == [4242]
    by_test = {v["where"].split("::")[1]: v for v in race["violations"]}
    assert set(by_test) == {"test_withdrawals_are_not_lost", "test_ticket_ids_are_unique",
                            "test_a_username_is_registered_once", "test_overdraft_is_refused"}
    assert "updates were lost or applied twice" in by_test["test_withdrawals_are_not_lost"]["message"]
    assert "duplicate ticket ids" in by_test["test_ticket_ids_are_unique"]["message"]
    assert "sign-ups for 'ann" in by_test["test_a_username_is_registered_once"]["message"]
    marker = by_test["test_overdraft_is_refused"]["message"]
    assert "calls of test_overdraft_is_refused raised" in marker and "round " in marker and "thread " in marker
    for violation in race["violations"]:
        assert violation["reproduce"].startswith("pytest --backend-gates --backend-gates-race-seed=4242 ")
    assert race["measured"]["probes"] == 4 and race["measured"]["rounds"] == 70
    result.stdout.fnmatch_lines(["*round * thread *: AssertionError: * was paid out of an account that held 100 "
                                 "(at test_races.py:* in test_overdraft_is_refused)*",
                                 "*replay: pytest --backend-gates --backend-gates-race-seed=*"])


def test_fixed_twins_are_clean(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    race_project(pytester)
    result = run(pytester, monkeypatch, "fixed", "test_races.py")
    result.assert_outcomes(passed=4)
    assert result.ret == 0
    race = gate(read_report(pytester), "race")
    assert race["status"] == "passed" and race["summary"].startswith("no race found in 4 race tests")


def test_under_xdist_results_are_merged(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    race_project(pytester)
    result = run(pytester, monkeypatch, "buggy", "test_races.py", "-n", "2")
    result.assert_outcomes(failed=4)
    report = read_report(pytester)
    race = gate(report, "race")
    assert len(race["violations"]) == 4 and race["measured"]["probes"] == 4
    assert report["xdist_workers"] == 2
    # the workers probe with the controller's seed, the one in the header
    header = next(line for line in result.outlines if line.startswith("backend-gates race: seed "))
    assert race["measured"]["seeds"] == [int(header.split()[3])]


def test_http_races_through_the_api_fixture(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    race_project(pytester, """
        [tool.backend-gates.contract]
        app = "wallet_flask_${RACE_VARIANT}:app"
        schema = "wallet_openapi.yaml"
    """)
    # docs/race.md shows this test: it is taken from the file the page includes
    pytester.makepyfile(test_wallet=(DOCS_SNIPPETS / "race" / "test_wallet.py").read_text(encoding="utf-8"))
    result = run(pytester, monkeypatch, "buggy", "--backend-gates=race", "test_wallet.py")
    result.assert_outcomes(failed=1)
    assert "balance is" in gate(read_report(pytester), "race")["violations"][0]["message"]
    result = run(pytester, monkeypatch, "fixed", "--backend-gates=race", "test_wallet.py")
    result.assert_outcomes(passed=1)


IN_FLIGHT_APPS = {
    "asgi": """
import asyncio, threading
from fastapi import FastAPI
app = FastAPI()
state = {"now": 0, "max": 0}

@app.get("/slow")
async def slow():
    state["now"] += 1
    state["max"] = max(state["max"], state["now"])
    await asyncio.sleep(0.05)
    state["now"] -= 1
    return state

@app.get("/slow-sync")
def slow_sync():
    return slow_body()

lock = threading.Lock()
sync_state = {"now": 0, "max": 0}
def slow_body():
    import time
    with lock:
        sync_state["now"] += 1
        sync_state["max"] = max(sync_state["max"], sync_state["now"])
    time.sleep(0.05)
    with lock:
        sync_state["now"] -= 1
    return sync_state
""",
    "wsgi": """
import threading, time
from flask import Flask
app = Flask(__name__)
lock = threading.Lock()
state = {"now": 0, "max": 0}

@app.get("/slow")
def slow():
    with lock:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
    time.sleep(0.05)
    with lock:
        state["now"] -= 1
    return dict(state)
""",
}


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_api_fixture_requests_reach_the_app_concurrently(pytester: pytest.Pytester, kind: str) -> None:
    pytester.makepyfile(inflight=IN_FLIGHT_APPS[kind])
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\npythonpath = ["."]\n'
                               '[tool.backend-gates.contract]\napp = "inflight:app"\n')
    paths = ["/slow", "/slow-sync"] if kind == "asgi" else ["/slow"]
    pytester.makepyfile(test_inflight=f"""
        import pytest

        @pytest.mark.parametrize("path", {paths!r})
        def test_overlap(api, race, path):
            race.run(api.get, path, threads=6, rounds=2)
            assert api.get(path).json()["max"] > 1  # more than one request in the app at once
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=len(paths))


def test_automatic_probe_finds_duplicate_ids(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    race_project(pytester, """
        [tool.backend-gates.contract]
        app = "wallet_flask_${RACE_VARIANT}:app"
        schema = "wallet_openapi.yaml"
        [tool.backend-gates.race]
        auto = true
        rounds = 5
    """)
    result = run(pytester, monkeypatch, "buggy", "--backend-gates=race", "-k", "POST")
    result.assert_outcomes(failed=1)  # POST /accounts; the withdraw action is not a create
    race = gate(read_report(pytester), "race")
    duplicate = next(v for v in race["violations"] if v["check"] == "race-duplicate-id")
    assert duplicate["where"] == "POST /accounts"
    assert "concurrent creates answered 2xx with an id another create also got" in duplicate["message"]
    assert duplicate["reproduce"].startswith("curl -X POST") and "sent by 8 clients at once" in duplicate["reproduce"]
    assert race["measured"]["auto_operations"] == 1

    result = run(pytester, monkeypatch, "fixed", "--backend-gates=race", "-k", "POST")
    result.assert_outcomes(passed=1)
    race = gate(read_report(pytester), "race")
    assert race["status"] == "passed", race


SIGNUP_API = """
import sqlite3, threading
from flask import Flask, jsonify, request

app = Flask(__name__)
db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
write = threading.Lock()

@app.post("/users")
def sign_up():
    name = request.get_json()["name"]
    if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
        return jsonify(detail="name taken"), 409
    with write:
        cursor = db.execute("INSERT INTO users (name) VALUES (?)", (name,))  # IntegrityError -> 500
    return jsonify(id=cursor.lastrowid, name=name), 201

@app.get("/users/<int:user_id>")
def get_user(user_id):
    row = db.execute("SELECT id, name FROM users WHERE id = ?", (user_id,)).fetchone()
    return (jsonify(id=row[0], name=row[1]), 200) if row else (jsonify(detail="no such user"), 404)
"""
SIGNUP_SCHEMA = """
openapi: 3.0.3
info: {title: Users, version: "1"}
paths:
  /users:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties: {name: {type: string, pattern: "^[a-z]{3,8}$"}}
      responses: {"201": {description: created}, "409": {description: taken}}
  /users/{user_id}:
    get:
      parameters: [{name: user_id, in: path, required: true, schema: {type: integer}}]
      responses: {"200": {description: the user}, "404": {description: no such user}}
"""


def test_automatic_probe_reports_5xx_under_concurrency(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(signup_api=SIGNUP_API)
    (pytester.path / "users.yaml").write_text(SIGNUP_SCHEMA)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "signup_api:app"
        schema = "users.yaml"
        [tool.backend-gates.race]
        auto = true
        rounds = 3
    """))
    result = pytester.runpytest("--backend-gates=race", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    race = gate(read_report(pytester), "race")
    error = next(v for v in race["violations"] if v["check"] == "race-server-error")
    assert error["where"] == "POST /users"
    assert "identical requests sent 8 at a time answered 5xx" in error["message"]
    assert "IntegrityError" in error["message"] or " 500 " in error["message"]


# A FastAPI service whose sync endpoint checks a unique name, then inserts it (the shape of the
# stack matrix's FastAPI + SQLModel twin, without a database: the table raises on a taken name as
# a unique index would). Sync endpoints run in anyio's worker pool, whose threads exist before
# any probe (a service that has answered requests has idle workers; the lifespan makes 16), and
# concurrent requests reach the endpoint milliseconds apart after the event loop's machinery.
FASTAPI_TAGS_API = """
import os, threading
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel

FIXED = os.environ.get("RACE_VARIANT") == "fixed"
WORKERS = 16


@asynccontextmanager
async def lifespan(app):
    barrier = threading.Barrier(WORKERS)  # 16 calls held until all run: 16 idle workers after
    async with anyio.create_task_group() as group:
        for _ in range(WORKERS):
            group.start_soon(anyio.to_thread.run_sync, barrier.wait)
    yield


app = FastAPI(lifespan=lifespan)


class Tags:
    def __init__(self):
        self.rows = {}
        self.lock = threading.Lock()

    def exists(self, name):
        with self.lock:
            return name in self.rows

    def insert(self, name, owner):
        with self.lock:
            if name in self.rows:
                raise ValueError(f"UNIQUE constraint failed: tags.name ({name!r})")
            self.rows[name] = {"id": len(self.rows) + 1, "name": name, "owner": owner}
            return self.rows[name]


TAGS = Tags()


class TagIn(BaseModel):
    name: str


def current_user():
    return {"id": 1}


@app.post("/tags", status_code=201)
def create_tag(tag: TagIn, user: dict = Depends(current_user)):
    if FIXED:
        try:
            return TAGS.insert(tag.name, user["id"])
        except ValueError:
            raise HTTPException(409, "taken") from None
    if TAGS.exists(tag.name):
        raise HTTPException(409, "taken")
    return TAGS.insert(tag.name, user["id"])


@app.get("/tags/{tag_id}")
def read_tag(tag_id: int):
    for row in list(TAGS.rows.values()):
        if row["id"] == tag_id:
            return row
    raise HTTPException(404, "no such tag")
"""


@pytest.mark.parametrize("variant", ["buggy", "fixed"])
def test_auto_probe_finds_a_check_then_insert_in_a_fastapi_sync_endpoint(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, variant: str) -> None:
    # Before: its requests ran in worker threads that existed before the probe (never traced)
    # and reached the endpoint apart; found in 0 of 5 runs. Now the probe's hook is installed in
    # the app's idle workers and requests line up at each call of the app's code (gates/race/perturbation.py: Gathering).
    pytester.makepyfile(app_under_test=FASTAPI_TAGS_API)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "app_under_test:app"
        [tool.backend-gates.race]
        auto = true
        rounds = 5
    """))
    monkeypatch.setenv("RACE_VARIANT", variant)
    result = pytester.runpytest_subprocess("--backend-gates=race", "-p", "no:cacheprovider",
                                           "--backend-gates-race-seed=20261207")
    race = gate(read_report(pytester), "race")
    if variant == "fixed":
        assert result.ret == 0 and race["status"] == "passed", result.stdout.str()
        assert race["measured"]["auto_raced"] == 1
        return
    assert result.ret == 1, result.stdout.str()
    violation = next(v for v in race["violations"] if v["check"] == "race-server-error")
    assert violation["where"] == "POST /tags"
    assert "UNIQUE constraint failed" in violation["message"] and "app_under_test.py" in violation["message"]


# -- the automatic probe on real-service shapes (issue 11) --------------------------------------

def auto_project(pytester: pytest.Pytester, app: str, schema: str, contract: str = "", rounds: int = 3) -> None:
    """A project with `app` (module app_under_test), `schema` (api.yaml) and the automatic probe on."""
    pytester.makepyfile(app_under_test=app)
    (pytester.path / "api.yaml").write_text(textwrap.dedent(schema))
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        schema = "api.yaml"
    """) + textwrap.dedent(contract or 'app = "app_under_test:app"\n') + textwrap.dedent(f"""
        [tool.backend-gates.race]
        auto = true
        rounds = {rounds}
    """))


ITEMS_SCHEMA = """
    openapi: 3.0.3
    info: {title: Items, version: "1"}
    paths:
      /items:
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [name]
                  additionalProperties: false
                  properties: {name: {type: string, pattern: "^[a-z]{3,8}$"}}
          responses: {"201": {description: created}, "401": {description: no credentials}}
      /items/{item_id}:
        get:
          parameters: [{name: item_id, in: path, required: true, schema: {type: integer}}]
          responses: {"200": {description: the item}, "404": {description: no such item}}
"""

# Fails in one of the probe's threads only (the thread-name test is what makes it the same
# thread every round); the others answer 201. Flask's PROPAGATE_EXCEPTIONS, as in a real store
# API, hands the exception to the client instead of a 500.
PARTLY_RAISING_API = """
import itertools, threading
from flask import Flask, jsonify, request

app = Flask(__name__)
app.config["PROPAGATE_EXCEPTIONS"] = True
ids = itertools.count(1)
items = {}

@app.post("/items")
def create():
    if threading.current_thread().name == "race-2":
        raise RuntimeError("the second probe thread always fails")
    item = {"id": next(ids), "name": request.get_json()["name"]}
    items[item["id"]] = item
    return jsonify(item), 201

@app.get("/items/<int:item_id>")
def read(item_id):
    return (jsonify(items[item_id]), 200) if item_id in items else (jsonify(detail="no such item"), 404)
"""


def test_auto_probe_keeps_the_answers_of_a_round_where_some_calls_raised(pytester: pytest.Pytester) -> None:
    # Under -n 2 on a Flask store API the probe crashed with "TypeError: cannot unpack non-iterable
    # NoneType object" (the answers of the calls that did not raise were dropped) and the gate passed.
    auto_project(pytester, PARTLY_RAISING_API, ITEMS_SCHEMA)
    result = pytester.runpytest_subprocess("--backend-gates=race", "-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(failed=1)
    assert "TypeError" not in result.stdout.str()
    race = gate(read_report(pytester), "race")
    assert race["status"] == "failed", race
    error = next(v for v in race["violations"] if v["check"] == "race-server-error")
    assert error["where"] == "POST /items"
    assert "3 of 24 identical requests sent 8 at a time answered 5xx" in error["message"]
    assert "RuntimeError: the second probe thread always fails" in error["message"]
    assert race["measured"]["auto_raced"] == 1 and race["measured"]["auto_2xx"] >= 21


CRASHING_CLIENT_CONFTEST = """
import pytest
from pytest_backend_gates.gates.race import auto_client as race_auto_client

def missing_httpx(*args, **kwargs):
    raise ModuleNotFoundError("No module named 'httpx'")

race_auto_client.open_client = missing_httpx  # what a fresh install without httpx did
"""


def test_a_crashed_auto_item_makes_the_gate_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    race_project(pytester, """
        [tool.backend-gates.contract]
        app = "wallet_flask_fixed:app"
        schema = "wallet_openapi.yaml"
        [tool.backend-gates.race]
        auto = true
    """)
    pytester.makeconftest(CRASHING_CLIENT_CONFTEST)
    result = pytester.runpytest_subprocess("--backend-gates=race", "-p", "no:cacheprovider", "-k", "POST")
    result.assert_outcomes(failed=1)
    race = gate(read_report(pytester), "race")
    assert race["status"] == "error", race
    assert race["summary"].startswith("could not probe: POST /accounts: the probe crashed: "
                                      "ModuleNotFoundError: No module named 'httpx'"), race["summary"]
    assert race["measured"]["auto_raced"] == 0 and race["measured"]["auto_2xx"] == 0
    result.stdout.fnmatch_lines(["*error: the probe crashed: ModuleNotFoundError: No module named 'httpx'*"])


AUTH_ONLY_API = """
import itertools
from flask import Flask, jsonify, request

app = Flask(__name__)
ids = itertools.count(1)

@app.before_request
def need_a_token():
    if request.headers.get("Authorization") != "Bearer good":
        return jsonify(detail="not authenticated"), 401

@app.post("/items")
def create():
    return jsonify(id=next(ids), name=request.get_json()["name"]), 201

@app.get("/items/<int:item_id>")
def read(item_id):
    return jsonify(id=item_id)
"""


def test_nothing_answered_2xx_is_an_error_naming_the_statuses(pytester: pytest.Pytester) -> None:
    # "nothing to race (404 x25)" used to pass; requests refused for want of credentials exercise nothing.
    auto_project(pytester, AUTH_ONLY_API, ITEMS_SCHEMA)
    result = pytester.runpytest("--backend-gates=race", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    race = gate(read_report(pytester), "race")
    assert race["status"] == "error", race
    summary = race["summary"]
    assert summary.startswith("could not probe: POST /items: none of ") and "401 x" in summary, summary
    assert "credentials" in summary and "exclude_operations" in summary
    measured = race["measured"]
    assert measured["auto_requests"] > 0 and measured["auto_2xx"] == 0 and measured["auto_raced"] == 0
    assert measured["auto_refused_auth"] == measured["auto_requests"]


def test_auto_probe_with_credentials_reproduces_with_body_and_placeholder_headers(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RACE_TOKEN", "s3cr3t-token-value")
    race_project(pytester, """
        [tool.backend-gates.contract]
        app = "wallet_flask_buggy:app"
        schema = "wallet_openapi.yaml"
        headers = { Authorization = "Bearer ${RACE_TOKEN}", "X-Tenant" = "acme" }
        [tool.backend-gates.race]
        auto = true
        rounds = 5
    """)
    result = pytester.runpytest("--backend-gates=race", "-p", "no:cacheprovider", "-k", "POST")
    result.assert_outcomes(failed=1)
    report = (pytester.path / "gates.json").read_text()
    assert "s3cr3t" not in result.stdout.str() and "s3cr3t" not in report
    race = gate(read_report(pytester), "race")
    duplicate = next(v for v in race["violations"] if v["check"] == "race-duplicate-id")
    command = duplicate["reproduce"]
    assert command.startswith("curl -X POST "), command
    for part in ("-H 'Authorization: Bearer ${RACE_TOKEN}'", "-H 'X-Tenant: acme'",
                 "-H 'Content-Type: application/json'", "-d '{", '"owner":', " http://127.0.0.1:8000/accounts "):
        assert part in command, (part, command)
    result.stdout.fnmatch_lines(["*reproduce: curl -X POST *-H 'Authorization: Bearer ${RACE_TOKEN}'*"])


BASE_PATH_SCHEMA = ITEMS_SCHEMA.replace('info: {title: Items, version: "1"}',
                                        'info: {title: Items, version: "1"}\n    servers: [{url: /api}]')
BASE_PATH_APPS = {
    "asgi": """
import itertools
from fastapi import APIRouter, FastAPI, HTTPException
from pydantic import BaseModel

class New(BaseModel):
    name: str

ids = itertools.count(1)
items = {}
router = APIRouter(prefix="/api")

@router.post("/items", status_code=201)
def create(new: New):
    item = {"id": next(ids), "name": new.name}
    items[item["id"]] = item
    return item

@router.get("/items/{item_id}")
def read(item_id: int):
    if item_id not in items:
        raise HTTPException(404, "no such item")
    return items[item_id]

app = FastAPI()
app.include_router(router)
""",
    "wsgi": """
import itertools
from flask import Blueprint, Flask, jsonify, request

ids = itertools.count(1)
items = {}
api = Blueprint("api", __name__, url_prefix="/api")

@api.post("/items")
def create():
    item = {"id": next(ids), "name": request.get_json()["name"]}
    items[item["id"]] = item
    return jsonify(item), 201

@api.get("/items/<int:item_id>")
def read(item_id):
    return (jsonify(items[item_id]), 200) if item_id in items else (jsonify(detail="no such item"), 404)

app = Flask(__name__)
app.register_blueprint(api)
""",
}


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_auto_probe_uses_the_schemas_base_path(pytester: pytest.Pytester, kind: str) -> None:
    # Connexion serves under servers[0].url (/api): every probe used to 404 and the gate passed.
    auto_project(pytester, BASE_PATH_APPS[kind], BASE_PATH_SCHEMA)
    result = pytester.runpytest("--backend-gates=race", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    race = gate(read_report(pytester), "race")
    assert race["status"] == "passed", race
    assert not race["violations"] and not race["warnings"], race  # read back under /api too
    assert race["measured"]["auto_raced"] == 1 and race["measured"]["auto_2xx"] >= 3 * 8


DUPLICATE_INSERT_API = """
import sqlite3, threading
from flask import Flask, jsonify, request

app = Flask(__name__)
db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
write = threading.Lock()

@app.post("/users")
def sign_up():
    name = request.get_json()["name"]
    with write:  # no check at all: a second sign-up of a name is an IntegrityError (500), alone or not
        cursor = db.execute("INSERT INTO users (name) VALUES (?)", (name,))
    return jsonify(id=cursor.lastrowid, name=name), 201

@app.get("/users/<int:user_id>")
def get_user(user_id):
    row = db.execute("SELECT id, name FROM users WHERE id = ?", (user_id,)).fetchone()
    return (jsonify(id=row[0], name=row[1]), 200) if row else (jsonify(detail="no such user"), 404)
"""


def test_a_5xx_the_request_also_gets_alone_is_not_a_race(pytester: pytest.Pytester) -> None:
    auto_project(pytester, DUPLICATE_INSERT_API, SIGNUP_SCHEMA)
    result = pytester.runpytest("--backend-gates=race", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    race = gate(read_report(pytester), "race")
    assert race["status"] == "passed" and not race["violations"], race
    warning = next(w for w in race["warnings"] if "when sent alone" in w)
    assert warning.startswith("POST /users: not a race: 21 of 24 concurrent requests answered 5xx"), warning
    assert "IntegrityError" in warning and "curl -X POST" in warning


NOTES_API = """
from flask import Flask, jsonify, request

app = Flask(__name__)
notes = {}

@app.put("/notes/<slug>")
def put(slug):
    notes[slug] = {"slug": slug, "text": request.get_json()["text"]}
    return jsonify(notes[slug]), 200

@app.get("/notes/<slug>")
def get(slug):
    return (jsonify(notes[slug]), 200) if slug in notes else (jsonify(detail="no such note"), 404)
"""
NOTES_SCHEMA = """
    openapi: 3.0.3
    info: {title: Notes, version: "1"}
    paths:
      /notes/{slug}:
        parameters: [{name: slug, in: path, required: true, schema: {type: string, enum: [first]}}]
        put:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [text]
                  additionalProperties: false
                  properties: {text: {type: string, pattern: "^[a-z]{3,8}$"}}
          responses: {"200": {description: stored}}
        get:
          responses: {"200": {description: the note}, "404": {description: no such note}}
"""
# Stores and answers the name lower-cased: what it reads back is what its create answered, not what was sent.
NORMALISING_API = """
import itertools
from flask import Flask, jsonify, request

app = Flask(__name__)
ids = itertools.count(1)
items = {}

@app.post("/items")
def create():
    item = {"id": next(ids), "name": request.get_json()["name"].lower()}
    items[item["id"]] = item
    return jsonify(item), 201

@app.get("/items/<int:item_id>")
def read(item_id):
    return (jsonify(items[item_id]), 200) if item_id in items else (jsonify(detail="no such item"), 404)
"""
# Reading any item fails, also one created without concurrency.
BROKEN_READ_API = NORMALISING_API.replace(
    "    return (jsonify(items[item_id]), 200) if item_id in items else (jsonify(detail=\"no such item\"), 404)",
    "    raise LookupError(f\"the read path is broken for {item_id}\")")


@pytest.mark.parametrize("app, schema, warning", [
    (NOTES_API, NOTES_SCHEMA, None),  # later rounds PUT the same path: the last write is what reads back
    (NORMALISING_API, ITEMS_SCHEMA.replace("^[a-z]{3,8}$", "^[A-Z]{3,8}$"), None),
    (BROKEN_READ_API, ITEMS_SCHEMA, "not a race"),
], ids=["put-same-path", "normalised", "broken-read"])
def test_read_back_differences_that_concurrency_did_not_cause_are_not_races(
        pytester: pytest.Pytester, app: str, schema: str, warning: str | None) -> None:
    auto_project(pytester, app, schema)
    result = pytester.runpytest("--backend-gates=race", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    race = gate(read_report(pytester), "race")
    assert race["status"] == "passed" and not race["violations"], race
    assert race["measured"]["auto_raced"] == 1
    if warning is None:
        assert not race["warnings"], race["warnings"]
    else:
        found = next(w for w in race["warnings"] if "not a race" in w)
        assert found.startswith("POST /items: not a race: GET /items/") and " 500 " in found, found
        assert "the resource created alone does not read back either" in found and "LookupError" in found


class DropsAfterTheFirstCreate:
    """A base_url server that answers the first POST /items with 201, then closes every later
    connection without an answer: what the HTTP client sees is its own transport error."""

    def __init__(self) -> None:
        import http.server
        import json

        created = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if created:
                    self.close_connection = True
                    return
                created.append(body)
                answer = json.dumps({"id": 1, **body}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def test_a_transport_error_is_an_error_never_a_race(pytester: pytest.Pytester) -> None:
    with DropsAfterTheFirstCreate() as server:
        auto_project(pytester, "", ITEMS_SCHEMA, contract=f'base_url = "{server.url}"\n')
        result = pytester.runpytest("--backend-gates=race", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    race = gate(read_report(pytester), "race")
    assert race["status"] == "error" and not race["violations"], race
    assert race["summary"].startswith("could not probe: POST /items: the HTTP client failed"), race["summary"]
    assert "RemoteProtocolError" in race["summary"]


def test_a_schema_without_create_operations_skips_the_gate(pytester: pytest.Pytester) -> None:
    auto_project(pytester, AUTH_ONLY_API, """
        openapi: 3.0.3
        info: {title: Read only, version: "1"}
        paths:
          /items/{item_id}:
            get:
              parameters: [{name: item_id, in: path, required: true, schema: {type: integer}}]
              responses: {"200": {description: the item}}
    """)
    result = pytester.runpytest("--backend-gates=race", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    race = gate(read_report(pytester), "race")
    assert race["status"] == "skipped", race
    assert "no create operation" in race["summary"]


def test_auto_without_a_contract_table_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.backend-gates.race]\nauto = true\n')
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest("--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*[[]tool.backend-gates.race[]] auto: true needs the contract gate's target*"])
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize("toml, message", [
    ("threads = 1", "*[[]tool.backend-gates.race[]] threads: 1 is out of range; expected an integer from 2 to 256*"),
    ('schedule = "chaos"', "*schedule: 'chaos' is not allowed; expected one of stagger, controlled, none*"),
    ("round = 3", "*round: unknown key; did you mean 'rounds'?*"),
])
def test_bad_configuration_is_one_clear_message(pytester: pytest.Pytester, toml: str, message: str) -> None:
    pytester.makepyprojecttoml(f"[tool.backend-gates.race]\n{toml}\n")
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest("--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_marker_and_fixture_arguments_fail_the_test_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.backend-gates]\n")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.race_probe(threads=1)
        def test_one_thread():
            pass

        @pytest.mark.race_probe(thread=4)
        def test_typo():
            pass

        def test_fixture_rounds(race):
            race.run(print, rounds=0)
    """)
    result = pytester.runpytest("--backend-gates", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "*@pytest.mark.race_probe(threads=1): threads=1 is not allowed; expected an integer from 2 to 256*",
        "*@pytest.mark.race_probe(thread=4): got an unexpected keyword argument 'thread'; "
        "expected race_probe(threads=8, rounds=20)*",
        "*race.run: rounds=0 is not allowed; expected an integer from 1 to 10000*",
    ])
    assert "Traceback" not in result.stdout.str()


def test_passive_run_leaves_the_marker_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import threading, pytest

        @pytest.mark.race_probe(threads=4, rounds=2)
        def test_body_runs_once():
            assert threading.current_thread() is threading.main_thread()

        def test_fixture_works(race):
            assert len(race.run(lambda: 1, threads=3, rounds=2)) == 6
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_coverage_of_code_run_in_probe_threads_is_kept(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("""
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.coverage]
        source = ["app"]
        total = 100
    """)
    pkg = pytester.mkpydir("app")
    (pkg / "counter.py").write_text(textwrap.dedent("""
        import threading

        LOCK = threading.Lock()
        VALUE = [0]


        def bump():
            with LOCK:
                VALUE[0] += 1
                return VALUE[0]
    """))
    pytester.makepyfile(test_bump="""
        from app import counter

        def test_bump(race):
            race.assert_distinct(race.run(counter.bump, threads=4, rounds=3))
    """)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    assert gate(read_report(pytester), "coverage")["status"] == "passed"  # bump() ran only in probe threads


@pytest.mark.parametrize("measurer", ["gate", "pytest-cov"])
def test_races_are_found_while_coverage_measures(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                 measurer: str) -> None:
    # coverage.py's C tracer, called through sys.settrace by the probe's hook, puts itself back
    # at every call: the hook was gone after the first call and nothing was perturbed (0 of 10
    # bank probes found under coverage, 10 of 10 without). The coverage gate is on in every full
    # run of the gates, so this was every real run; pytest-cov's tracer is the same one.
    # A whole run (coverage is judged), a fixed seed and the examples' bounded rounds (70 in all).
    pytest.importorskip("pytest_cov") if measurer == "pytest-cov" else None
    race_project(pytester, """
        [tool.backend-gates.coverage]
        source = ["bank_buggy", "tickets_buggy", "signup_buggy"]
        total = 50
    """)
    monkeypatch.setenv("RACE_VARIANT", "buggy")
    cov = ["--cov=bank_buggy", "--cov=tickets_buggy", "--cov=signup_buggy"] if measurer == "pytest-cov" else []
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider", "--backend-gates-race-seed=4242",
                                           *cov)
    result.assert_outcomes(failed=4)
    report = read_report(pytester)
    coverage = gate(report, "coverage")
    assert coverage["status"] == "passed", coverage
    assert coverage["measured"]["measured_by"] == ("pytest-cov" if cov else "coverage.py")
    race = gate(report, "race")
    assert race["measured"]["rounds"] == 70
    assert {v["where"].split("::")[1] for v in race["violations"]} == {
        "test_withdrawals_are_not_lost", "test_ticket_ids_are_unique", "test_a_username_is_registered_once",
        "test_overdraft_is_refused"}


def test_async_functions_race_as_tasks(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.backend-gates]\n")
    pytester.makepyfile("""
        import asyncio

        class Counter:
            def __init__(self):
                self.value = 0

            async def increment(self):
                value = self.value
                await asyncio.sleep(0)  # e.g. a database round trip
                self.value = value + 1
                return value + 1

        def test_lost_increment(race):
            counter = Counter()
            race.run(counter.increment, threads=4, rounds=5)
            race.assert_total(counter.value, [1] * 20)
    """)
    result = pytester.runpytest("--backend-gates", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*race: final value is *, expected 0 + the sum of 20 effects = 20*"])


@pytest.fixture
def pg_dsn() -> str:
    """A reachable PostgreSQL server, or the test is skipped saying why."""
    dsn = PG_DSN or "postgresql://postgres@127.0.0.1:5432/postgres"
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e .[dev])")
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except Exception as exc:
        pytest.skip(f"no PostgreSQL server reachable at {'BACKEND_GATES_PG_DSN' if PG_DSN else dsn} "
                    f"({type(exc).__name__}); `.ci/run` starts one on 127.0.0.1 and sets BACKEND_GATES_PG_DSN")
    return dsn


@pytest.mark.parametrize("variant, outcome", [("buggy", "failed"), ("fixed", "passed")])
def test_postgres_lost_update_and_select_for_update(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                    pg_dsn: str, variant: str, outcome: str) -> None:
    monkeypatch.setenv("BACKEND_GATES_PG_DSN", pg_dsn)
    race_project(pytester)
    pytester.makepyfile(test_pg=f"""
        import os
        from bank_pg_{variant} import Bank

        def test_withdrawals_are_not_lost(race):
            bank = Bank(os.environ["BACKEND_GATES_PG_DSN"], balance=1_000_000)
            try:
                taken = race.run(bank.withdraw, 10, rounds=5)
                race.assert_total(bank.balance(), [-t for t in taken], start=1_000_000, what="balance")
            finally:
                bank.close()
    """)
    result = run(pytester, monkeypatch, variant, "test_pg.py")
    result.assert_outcomes(**{outcome: 1})


# -- the engine itself -------------------------------------------------------------------------

class Account:
    def __init__(self) -> None:
        self.balance = 10**6

    def withdraw(self) -> int:
        balance = self.balance
        self.balance = balance - 1
        return 1


def test_requests_line_up_at_a_stage_and_a_late_one_is_not_waited_for_again() -> None:
    from pytest_backend_gates.gates.race.perturbation import Gathering
    from pytest_backend_gates.service.in_flight import Answering

    requests = [Answering() for _ in range(4)]
    in_flight = tuple(requests)
    gathering = Gathering(lambda: in_flight, timeout=30.0)  # generous: only the order is asserted
    arrived: list[int] = []
    seen_on_leaving: list[int] = []
    lock = threading.Lock()
    go = [threading.Event() for _ in requests]

    # Each request comes only when the one before it has come (chained by events), so they
    # arrive one by one, as they reach an app through a server's machinery.
    def chain(index: int) -> None:
        go[index].wait()
        with lock:
            arrived.append(index)
        if index + 1 < len(go):
            go[index + 1].set()
        gathering.enter(requests[index])
        with lock:
            seen_on_leaving.append(len(arrived))

    threads = [threading.Thread(target=chain, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    go[0].set()
    for thread in threads:
        thread.join(60)
    assert seen_on_leaving == [4, 4, 4, 4]  # nobody ran the stage before the last one had come
    assert all(r.stage == 1 and r.followed for r in requests) and gathering.timeouts == 0

    # A request that never comes (answered where nothing is traced, or held by a lock) holds the
    # others for the timeout once, then is not waited for again.
    late = Answering()
    on_time = Answering()
    quick = Gathering(lambda: (late, on_time), timeout=0.05)
    quick.enter(on_time)
    assert late.followed is False and quick.timeouts == 1
    quick.enter(on_time)  # its next stage: nobody left to wait for
    assert quick.timeouts == 1 and on_time.stage == 2


def test_interpreter_settings_are_restored_even_on_failure(tmp_path: object) -> None:
    interval, trace, thread_trace = sys.getswitchinterval(), sys.gettrace(), threading.gettrace()
    race = Race(rootdir=os.path.dirname(__file__), seed=1)

    def boom() -> None:
        raise ValueError("boom")

    with pytest.raises(RaceError) as info:
        race.run(boom, threads=3, rounds=2)
    assert "6 of 6 calls of test_interpreter_settings_are_restored_even_on_failure.<locals>.boom raised" in str(info.value)
    assert "round 1, thread 1: ValueError: boom" in str(info.value) and "round 2, thread 3" in str(info.value)
    assert (sys.getswitchinterval(), sys.gettrace(), threading.gettrace()) == (interval, trace, thread_trace)


@pytest.mark.parametrize("schedule", ["stagger", "controlled"])
def test_results_come_back_in_thread_order_and_races_are_found(schedule: str) -> None:
    race = Race(rootdir=os.path.dirname(__file__), seed=7, schedule=schedule)  # type: ignore[arg-type]
    results = race.run(lambda: (threading.current_thread().name, race.round, race.thread), threads=4, rounds=3)
    assert results.by_round == [[(f"race-{t}", r, t) for t in range(1, 5)] for r in range(1, 4)]
    assert (race.round, race.thread) == (0, 0)
    account = Account()
    race.run(account.withdraw, threads=8, rounds=20)
    with pytest.raises(RaceError, match="updates were lost"):
        race.assert_total(account.balance, [-1] * 160, start=10**6)


def test_the_controlled_scheduler_replays_exactly() -> None:
    def lost_updates(seed: int) -> int:
        account = Account()
        Race(rootdir=os.path.dirname(__file__), seed=seed, schedule="controlled").run(account.withdraw)
        return 10**6 - 160 - account.balance

    assert lost_updates(3) == lost_updates(3) == lost_updates(3)


NESTED_API = """
import sqlite3, threading
from flask import Flask, jsonify, request

app = Flask(__name__)
db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
db.execute("CREATE TABLE tasks (id INTEGER PRIMARY KEY, project INTEGER, name TEXT NOT NULL UNIQUE)")
write = threading.Lock()
PROJECTS = {1}  # only project 1 exists: every other generated project id is a 404

@app.post("/projects/<int:project_id>/tasks")
def create(project_id):
    if project_id not in PROJECTS:
        return jsonify(detail="no such project"), 404
    name = request.get_json()["name"]
    if db.execute("SELECT 1 FROM tasks WHERE name = ?", (name,)).fetchone():
        return jsonify(detail="name taken"), 409
    with write:
        cursor = db.execute("INSERT INTO tasks (project, name) VALUES (?, ?)", (project_id, name))  # UNIQUE: 500
    return jsonify(id=cursor.lastrowid, name=name), 201
"""
NESTED_SCHEMA = """
    openapi: 3.0.3
    info: {title: Tasks, version: "1"}
    paths:
      /projects/{project_id}/tasks:
        post:
          parameters:
            - {name: project_id, in: path, required: true, schema: {type: integer, minimum: 1}, example: 1}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [name]
                  additionalProperties: false
                  properties: {name: {type: string, pattern: "^[a-z]{3,8}$"}}
          responses: {"201": {description: created}, "404": {description: no project}, "409": {description: taken}}
"""


def test_the_storm_stays_on_the_path_that_was_accepted(pytester: pytest.Pytester) -> None:
    """A create under a parent (POST /projects/{project_id}/tasks): every round raced another
    generated project id, all 404s, and the gate passed (issue 11, fastapi-users stack)."""
    auto_project(pytester, NESTED_API, NESTED_SCHEMA, rounds=5)
    result = pytester.runpytest("--backend-gates=race", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    race = gate(read_report(pytester), "race")
    error = next(v for v in race["violations"] if v["check"] == "race-server-error")
    assert error["where"] == "POST /projects/{project_id}/tasks"
    assert "/projects/1/tasks" in error["reproduce"]
    assert "IntegrityError" in error["message"], error


REFERENCING_API = """
import sqlite3, threading
from flask import Flask, jsonify, request

app = Flask(__name__)
db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
db.execute("CREATE TABLE books (id INTEGER PRIMARY KEY, shelf INTEGER, author INTEGER, title TEXT NOT NULL UNIQUE)")
write = threading.Lock()
SHELVES = {501: "a", 502: "b"}  # ids a generator does not guess
AUTHORS = {1001: "ann", 1002: "bob"}

@app.get("/shelves")
def shelves():
    return jsonify([{"id": key, "name": name} for key, name in SHELVES.items()])

@app.get("/authors")
def authors():
    return jsonify({"results": [{"id": key, "name": name} for key, name in AUTHORS.items()]})

@app.post("/shelves/<int:shelf_id>/books")
def create(shelf_id):
    body = request.get_json()
    if shelf_id not in SHELVES or body["author_id"] not in AUTHORS:
        return jsonify(detail="no such shelf or author"), 404
    if db.execute("SELECT 1 FROM books WHERE title = ?", (body["title"],)).fetchone():
        return jsonify(detail="title taken"), 409
    with write:
        cursor = db.execute("INSERT INTO books (shelf, author, title) VALUES (?, ?, ?)",
                            (shelf_id, body["author_id"], body["title"]))
    return jsonify(id=cursor.lastrowid), 201
"""
REFERENCING_SCHEMA = """
    openapi: 3.0.3
    info: {title: Books, version: "1"}
    paths:
      /shelves:
        get:
          responses: {"200": {description: the shelves}}
      /authors:
        get:
          responses: {"200": {description: the authors}}
      /shelves/{shelf_id}/books:
        post:
          parameters: [{name: shelf_id, in: path, required: true, schema: {type: integer}}]
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [title, author_id]
                  additionalProperties: false
                  properties:
                    title: {type: string, pattern: "^[a-z]{3,8}$"}
                    author_id: {type: integer}
          responses: {"201": {description: created}, "404": {description: no shelf}, "409": {description: taken}}
"""


def test_path_ids_and_body_references_come_from_list_answers(pytester: pytest.Pytester) -> None:
    """Generated ids name nothing that exists: every candidate answered 404 and the probe could
    race nothing (issue 11, flask-smorest and DRF stacks)."""
    auto_project(pytester, REFERENCING_API, REFERENCING_SCHEMA, rounds=5)
    result = pytester.runpytest("--backend-gates=race", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    race = gate(read_report(pytester), "race")
    error = next(v for v in race["violations"] if v["check"] == "race-server-error")
    assert "/shelves/50" in error["reproduce"] and '"author_id":100' in error["reproduce"].replace(" ", "")
    assert "IntegrityError" in error["message"]
