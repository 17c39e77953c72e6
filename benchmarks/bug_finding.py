"""Bug finding: every seeded defect of examples/, found by `pytest --backend-gates` and by each plain tool alone.

For each pair of twins in examples/ (a buggy and a fixed version of one code base: the
contract, security, identities, latency, load, queries, race and validation examples, and the
five framework stacks of examples/stacks, whose buggy twin is `STACK_DEFECTS=1` and whose
defects are listed in their expected.toml), each twin is copied into a throwaway project and
every tool is run on it, on its own, with the same seed:

  gates             `python -m pytest --backend-gates[=GATES] -p no:cacheprovider -q
                    --backend-gates-seed=S --backend-gates-race-seed=S` with the example's
                    configuration (as its README and its tests in tests/ configure it). A
                    defect is found when a violation of its gate has its check, its `where`
                    (exact or a glob) and, where given, a word of its message: the matching of
                    tests/test_stacks.py.
  st                the schemathesis CLI against the twin's app served on 127.0.0.1 (uvicorn for
                    ASGI, Werkzeug's threaded server for WSGI), as benchmarks/contract_throughput.py
                    runs it: `st run URL/SCHEMA --checks all --continue-on-failure --max-examples N
                    --seed S --phases examples,coverage,fuzzing[,stateful] --generation-database none
                    --report json` with the gate's max_examples, stateful, exclude_operations and
                    exclude_checks, and the same credentials (the identity logged in to the fresh
                    server first). st's JSON report names failures by code and operation; a defect is
                    found when st reports one of the checks that would show it (its `st_checks`:
                    the same check for a contract defect; the 500 that carries a leaked traceback;
                    `ignored_auth` for an ignored token; `negative_data_rejection` for mass
                    assignment; `object_level_authorization` for BOLA; `max_response_time` for a
                    slowdown, which st only checks when given a limit) on the defect's operation.
                    n.a.: no st check looks at that kind of defect (headers, cookies, CORS,
                    injection, rate limits, JWTs, SQL statements, concurrency, plain functions).
  pytest            the twin's own tests with the gates off: `python -m pytest -p no:cacheprovider
                    -q -rfE` (the plugin installed and passive, SPEC section 1: its markers do
                    nothing, its fixtures keep their own assertions, so a test written with
                    `race.run` or `input_validation.check` still fails). Found: a test that
                    targets the defect failed. n.a.: the example ships no test of its own.
  pytest-benchmark  for the latency and load defects: a module timing the same work with the
                    `benchmark` fixture and no budget (`-p no:backend_gates`). It reports times
                    and never fails on them: found only if a test failed. n.a. for other defects.
  coverage          where the project sets a coverage minimum: `python -m coverage run
                    --source=SRC [--branch] -m pytest` then `python -m coverage report
                    --fail-under=TOTAL` (the project's `total`). Found: a seeded coverage defect
                    failing the report; examples/ seeds none, so every row is n.a. and the run
                    shows only on the fixed twins (a failing report there is a finding).
  locust            for the latency and load defects: `locust --headless -u U -r R -t T --host URL
                    --only-summary --csv ... --exit-code-on-error 1` (locust's default) with a
                    locustfile requesting the budgeted endpoints, no thresholds. Found: locust
                    exited non-zero with failures on the defect's endpoint. Slowness alone is
                    reported, never a failure.

A fixed twin's findings (any violation, any st failure, any failed test, a failing coverage
report, a locust error) are counted for each side: the false positives, or real unseeded bugs
(they are listed).

    .venv/bin/python benchmarks/bug_finding.py [--only GLOB ...] [--seed N] [--quick] [--json PATH]

`--quick` runs one stack (fastapi_sqlmodel) instead of five and caps max_examples at 10 for the
examples outside the stacks (the stacks keep their own, 5-10). Exit status 0 whatever was found
(a measurement, not a test); 1 if a tool could not run at all on some twin. Only 127.0.0.1
traffic; every subprocess has a timeout.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import contract_throughput as ct
from _common import Run, add_options

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
STACKS = EXAMPLES / "stacks"
BIN = Path(sys.executable).parent
SEED = 20261207  # the stack matrix's pinned seed (tests/test_stacks.py)
TIMEOUT = 900.0  # seconds per subprocess: one gated run of a stack on a loaded 2-core machine
QUICK_STACKS = ("fastapi_sqlmodel",)
QUICK_MAX_EXAMPLES = 10
TOOLS = ("gates", "st", "pytest", "pytest-benchmark", "coverage", "locust")
HEADINGS = {"gates": "pytest --backend-gates", "st": "st run (schemathesis CLI)", "pytest": "pytest, gates off",
            "pytest-benchmark": "pytest-benchmark, no budget", "coverage": "coverage --fail-under",
            "locust": "locust, no thresholds"}
# What each tool is, here: the doc's legend (the module docstring says it at length).
TOOL_NOTES = {
    "gates": "the example's configuration, `pytest [PATHS] --backend-gates[=GATES]` with the seed pinned; found = a "
             "violation of the defect's gate with its check and `where`",
    "st": "`st run` against the twin served on 127.0.0.1, the gate's max_examples, phases, exclusions and "
          "credentials, `--checks all`; found = a failure, on the defect's operation, of a check that shows that "
          "kind of defect (n.a.: no st check looks at it: headers, cookies, CORS, injection, rate limits, JWTs, "
          "SQL statements, concurrency, plain functions)",
    "pytest": "the twin's own tests with the plugin passive (no `--backend-gates`: markers do nothing, fixtures "
              "keep their own assertions); found = a failed test that targets the defect",
    "pytest-benchmark": "the budgeted work timed with the `benchmark` fixture, `-p no:backend_gates`, no budget: "
                        "it reports times and never fails on them",
    "coverage": "`coverage run -m pytest` then `coverage report --fail-under=TOTAL` with the project's minimum, "
                "where it sets one (the stacks); examples/ seeds no coverage defect",
    "locust": "`locust --headless` with a locustfile requesting the budgeted endpoints, no thresholds; its exit "
              "status is non-zero only when requests fail",
}
ENV = dict(ct.ENV)  # PYTEST_ADDOPTS, SCHEMATHESIS_* and PYTHONDONTWRITEBYTECODE dropped (see there)


# -- what is seeded, and what each tool is run with ---------------------------------------------

@dataclass(frozen=True)
class Defect:
    id: str
    what: str
    gate: str
    check: str  # the gate's check (a glob)
    where: tuple[str, ...] = ()  # the gate's `where`, exact or globs; () = anywhere (app-wide)
    message: str = ""  # a word of the gate's message
    operations: tuple[str, ...] = ()  # "METHOD /path" globs where an HTTP tool sees it
    st_checks: tuple[str, ...] = ()  # st checks that would report it; () = st cannot see this kind
    tests: tuple[str, ...] = ()  # node-id globs of the twin's own tests that target it
    bench: tuple[str, ...] = ()  # pytest-benchmark tests timing it (latency and load defects)


@dataclass
class Http:
    """How the twin's app is served for st and locust, and how the CLI authenticates."""

    app: str  # "module_{variant}:app"
    schema: str = "/openapi.json"  # the path the server answers the schema on
    max_examples: int = 50
    stateful: bool = True
    headers: dict[str, str] = field(default_factory=dict)  # ${VAR} filled from the environment
    identity: dict[str, Any] = field(default_factory=dict)  # signup/login/provider, as [tool.backend-gates.identities]
    identity_name: str = ""
    exclude_operations: list[str] = field(default_factory=list)
    exclude_checks: list[str] = field(default_factory=list)
    pythonpath: list[str] = field(default_factory=lambda: ["."])


@dataclass
class Subject:
    name: str
    folder: Path
    defects: list[Defect]
    pyproject: str = ""  # {variant} is the twin's module suffix; "" = the folder's own (the stacks)
    variants: tuple[str, str] = ("buggy", "fixed")  # (buggy twin, fixed twin) suffixes
    include: tuple[str, ...] = ("*.py", "*.yaml")  # copied from the folder (top level), unless `tree`
    tree: bool = False  # copy the whole folder (the stacks)
    # written into the project: a text ({variant} filled) or variant -> text
    files: dict[str, str | Callable[[str], str]] = field(default_factory=dict)
    env: Callable[[str], dict[str, str]] = lambda variant: {}
    gates: tuple[str, ...] = ("--backend-gates",)
    paths: tuple[str, ...] = ()  # test paths given to pytest (both with and without the gates)
    tests: bool = False  # the twin has tests of its own (plain pytest applies)
    http: Http | None = None  # st (and locust) run against it
    run_st: bool = True
    benchmark: str = ""  # a pytest-benchmark module ({variant} filled)
    locustfile: str = ""  # ({variant} filled); with `locust` (users, spawn rate, duration)
    locust: tuple[int, int, str] = (5, 50, "3s")
    coverage: tuple[list[str], float, bool] | None = None  # source, total, branch
    skip: str = ""  # why it is not run here
    # run in the project before it is served (st, locust): what a deployment runs first
    serve_prepare: tuple[str, ...] = ()

    def text(self, template: str, variant: str) -> str:
        return template.replace("{variant}", variant)


def _pyproject(table: str) -> str:
    return textwrap.dedent("""\
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "backend-gates.json"
    """) + textwrap.dedent(table)


def contract_subjects(max_examples: int) -> list[Subject]:
    bookmarks = [
        Defect("B1", "`limit=0` divides by zero: a 500", "contract", "not_a_server_error", ("GET /bookmarks",),
               st_checks=("not_a_server_error",)),
        Defect("B2", "the raw SQLite row goes out (`created_at` an int, `tags` a string)", "contract",
               "response_schema_conformance", ("GET /bookmarks/{bookmark_id}",),
               st_checks=("response_schema_conformance",)),
        Defect("B3", "an undocumented 409 for a second bookmark of a URL", "contract", "status_code_conformance",
               ("POST /bookmarks",), message="409", st_checks=("status_code_conformance",)),
    ]
    returns_todo = ("POST /todos", "GET /todos", "GET /todos/{todo_id}", "PATCH /todos/{todo_id}")
    todo = [
        Defect("T1", "a title without an ASCII decomposition raises UnicodeEncodeError: a 500", "contract",
               "not_a_server_error", ("POST /todos", "PATCH /todos/{todo_id}"), st_checks=("not_a_server_error",)),
        Defect("T2", "`done` sent as 0/1 where the document says boolean", "contract", "response_schema_conformance",
               returns_todo, st_checks=("response_schema_conformance",)),
        Defect("T3", "invalid requests get 422 where the document promises 400", "contract",
               "status_code_conformance", ("GET /todos", "POST /todos", "PATCH /todos/{todo_id}"), message="422",
               st_checks=("status_code_conformance",)),
    ]
    return [
        Subject("contract/bookmarks", EXAMPLES / "contract", bookmarks,
                _pyproject(f'[tool.backend-gates.contract]\napp = "bookmarks_{{variant}}:app"\n'
                           f"max_examples = {max_examples}\n"),
                http=Http("bookmarks_{variant}:app", max_examples=max_examples)),
        Subject("contract/todo_flask", EXAMPLES / "contract", todo,
                _pyproject(f'[tool.backend-gates.contract]\napp = "todo_flask_{{variant}}:app"\n'
                           f'schema = "todo_openapi.yaml"\nmax_examples = {max_examples}\n'),
                http=Http("todo_flask_{variant}:app", schema="/openapi.yaml", max_examples=max_examples)),
    ]


# The security gate's rules and the st checks that would show the same defect (none: st cannot see it).
ST_SEES = {"leak-traceback": ("not_a_server_error",), "leak-debug-page": ("not_a_server_error",),
           "auth-ignored": ("ignored_auth",), "mass-assignment": ("negative_data_rejection",),
           "bola": ("object_level_authorization",)}
ORDERS_TOKEN = "s3cr3t-orders-token"


def _security(id_: str, rule: str, where: str | None, what: str) -> Defect:
    places = (where,) if where else ()
    return Defect(id_, what, "security", rule, places, operations=places, st_checks=ST_SEES.get(rule, ()))


def security_subjects(max_examples: int) -> list[Subject]:
    users = [
        _security("U1", "leak-traceback", "POST /login", "a 500 with the traceback (unknown username)"),
        _security("U2", "sqli-error", "GET /notes/search", "`q` in the SQL through an f-string"),
        _security("U3", "leak-sql-error", "GET /notes/search", "the driver's error message in the 400"),
        _security("U4", "xss-reflected", "GET /notes/search", "`q` unescaped in the HTML page"),
        _security("U5", "sensitive-field", "GET /users/{user_id}", "`password_hash` in the response"),
        _security("U6", "server-banner", None, "`Server: notes-api/1.4.2 (Python 3.11.7)`"),
        _security("U7", "header-missing", None, "no `X-Content-Type-Options: nosniff`"),
        _security("U8", "cookie-flags", "POST /login", "session cookie without Secure, HttpOnly, SameSite"),
        _security("U9", "rate-limit", "POST /login", "password guesses never limited"),
        _security("U10", "cors", None, "any origin with credentials"),
    ]
    notes = [
        _security("N1", "leak-debug-page", "PATCH /users/{user_id}", "the Werkzeug debugger page on a 500"),
        _security("N2", "sqli-error", "GET /notes", "`q` in the WHERE clause through an f-string"),
        _security("N3", "leak-sql-error", "GET /notes", "the driver's message and the SQL in the 400"),
        _security("N4", "sensitive-field", "GET /notes", "each note's author is the whole users row (`api_key`)"),
        _security("N5", "mass-assignment", "PATCH /users/{user_id}", "`{\"role\": \"admin\"}` accepted"),
        _security("N6", "header-missing", None, "no `X-Content-Type-Options: nosniff`"),
    ]
    orders = [
        _security("O1", "auth-ignored", "GET /reports/revenue", "200 without credentials"),
        _security("O2", "mass-assignment", "PATCH /orders/{order_id}", "`{\"status\": \"refunded\"}` accepted"),
    ]
    contract = f"max_examples = {max_examples}\n"
    return [
        Subject("security/users_fastapi", EXAMPLES / "security", users,
                _pyproject(f'[tool.backend-gates.contract]\napp = "users_fastapi_{{variant}}:app"\n{contract}'
                           '[tool.backend-gates.security]\nrate_limits = { "POST /login" = 5 }\n'),
                http=Http("users_fastapi_{variant}:app", max_examples=max_examples)),
        Subject("security/notes_flask", EXAMPLES / "security", notes,
                _pyproject(f'[tool.backend-gates.contract]\napp = "notes_flask_{{variant}}:app"\n'
                           f'schema = "notes_flask_openapi.yaml"\n{contract}[tool.backend-gates.security]\n'),
                http=Http("notes_flask_{variant}:app", schema="/openapi.yaml", max_examples=max_examples)),
        Subject("security/orders_fastapi", EXAMPLES / "security", orders,
                _pyproject(f'[tool.backend-gates.contract]\napp = "orders_fastapi_{{variant}}:app"\n{contract}'
                           'headers = { Authorization = "Bearer ${ORDERS_API_TOKEN}" }\n'
                           "[tool.backend-gates.security]\n"),
                env=lambda variant: {"ORDERS_API_TOKEN": ORDERS_TOKEN},
                http=Http("orders_fastapi_{variant}:app", max_examples=max_examples,
                          headers={"Authorization": "Bearer ${ORDERS_API_TOKEN}"})),
    ]


IDENTITY_SECRETS = {"ALICE_PW": "alice-pass-1234", "BOB_PW": "bob-pass-98765", "ADMIN_PW": "admin-password-1",
                    "JWT_SECRET": "jwt-secret-for-tests-0123456789"}


def _identity(name: str) -> dict[str, Any]:
    email, password = f"{name}@example.com", f"${{{name.upper()}_PW}}"
    found: dict[str, Any] = {"login": {"operation": "POST /auth/token", "form": {"username": email,
                                                                                 "password": password}}}
    if name != "admin":
        found["signup"] = {"operation": "POST /auth/signup", "json": {"email": email, "password": password}}
    return found


def _identities_toml(names: tuple[str, ...]) -> str:
    out = ""
    for name in names:
        email, env = f"{name}@example.com", f"{name.upper()}_PW"
        if name != "admin":
            out += (f"[tool.backend-gates.identities.{name}]\nsignup = {{ operation = \"POST /auth/signup\", "
                    f"json = {{ email = \"{email}\", password = \"${{{env}}}\" }} }}\n")
        else:
            out += f"[tool.backend-gates.identities.{name}]\nrole = \"admin\"\n"
        out += (f"login = {{ operation = \"POST /auth/token\", form = {{ username = \"{email}\", "
                f"password = \"${{{env}}}\" }} }}\n")
    return out


def identities_subjects(max_examples: int) -> list[Subject]:
    # The configuration of tests/test_security_identities.py: stateful off, alice the default identity.
    contract = f"max_examples = {max_examples}\nstateful = false\n"
    authz = [
        _security("A1", "bola", "GET /notes/{note_id}", "any signed-in user reads any note"),
        _security("A2", "bfla", "DELETE /users/{user_id}", "anyone signed in deletes users (admins only)"),
    ]
    jwt = [
        _security("J1", "jwt-none", "GET /me", "a token with alg `none` and no signature accepted"),
        _security("J2", "jwt-expired", "GET /me", "`exp` not verified"),
    ]
    env = {**IDENTITY_SECRETS}
    return [
        Subject("identities/authz", EXAMPLES / "identities", authz,
                _pyproject('identity = "alice"\n[tool.backend-gates.contract]\napp = "authz_{variant}:app"\n'
                           + contract + '[tool.backend-gates.security]\nadmin_only = ["DELETE /users/*"]\n'
                           'shared = ["GET /users/{user_id}"]\n' + _identities_toml(("alice", "bob", "admin"))),
                env=lambda variant: env, gates=("--backend-gates=contract,security",),
                http=Http("authz_{variant}:app", max_examples=max_examples, stateful=False,
                          identity=_identity("alice"), identity_name="alice")),
        Subject("identities/jwt", EXAMPLES / "identities", jwt,
                _pyproject('identity = "alice"\n[tool.backend-gates.contract]\napp = "jwt_{variant}:app"\n'
                           + contract + '[tool.backend-gates.security]\njwt_key = "${JWT_SECRET}"\n'
                           + _identities_toml(("alice",))),
                env=lambda variant: env, gates=("--backend-gates=contract,security",),
                http=Http("jwt_{variant}:app", max_examples=max_examples, stateful=False,
                          identity=_identity("alice"), identity_name="alice")),
    ]


LATENCY_BENCHMARK = '''\
"""pytest-benchmark alone: the work the latency gate budgets, timed, with no budget."""
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

import catalog_{variant} as catalog


@pytest.fixture(scope="module")
def client():
    with TestClient(catalog.app) as client:  # one event loop for every request, as a server has
        yield client


def test_tags(benchmark, client):
    assert benchmark(client.get, "/tags").status_code == 200


def test_reports_under_concurrent_users(benchmark, client):
    def eight_users():
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda i: client.get(f"/reports/2024-01-{i + 1:02d}"), range(8)))

    assert all(r.status_code == 200 for r in benchmark(eight_users))
'''
LATENCY_LOCUSTFILE = '''\
from locust import HttpUser, constant, task


class CatalogUser(HttpUser):
    wait_time = constant(0)

    @task
    def tags(self):
        self.client.get("/tags", name="/tags")

    @task
    def report(self):
        self.client.get("/reports/2024-01-01", name="/reports/{day}")
'''
LOAD_BENCHMARK = '''\
"""pytest-benchmark alone: the endpoints the load gate budgets, timed, with no budget."""
import pytest
from fastapi.testclient import TestClient

import catalog_{variant} as catalog


@pytest.fixture(scope="module")
def client():
    with TestClient(catalog.app) as client:
        yield client


def test_search(benchmark, client):
    assert benchmark(client.get, "/search", params={"q": "e"}).status_code == 200


def test_product(benchmark, client):
    assert benchmark(client.get, "/products/1").status_code == 200
'''
LOAD_LOCUSTFILE = '''\
from locust import HttpUser, constant, task


class CatalogUser(HttpUser):
    wait_time = constant(0)

    @task
    def search(self):
        self.client.get("/search?q=e", name="/search")

    @task
    def product(self):
        self.client.get("/products/1", name="/products/{product_id}")

    @task
    def summary(self):
        self.client.get("/summary", name="/summary")
'''


def performance_subjects(max_examples: int) -> list[Subject]:
    latency = [
        Defect("L1", "a blocking call in an async handler: 8 concurrent requests served one by one", "latency",
               "latency-*", ("test_catalog_latency.py::test_reports_under_concurrent_users",),
               operations=("GET /reports/{day}",), st_checks=("max_response_time",),
               tests=("test_catalog_latency.py::test_reports_under_concurrent_users",),
               bench=("bf_test_benchmark.py::test_reports_under_concurrent_users",)),
        Defect("L2", "quadratic de-duplication of tags (~130 ms)", "latency", "latency-budget", ("GET /tags",),
               operations=("GET /tags",), st_checks=("max_response_time",), bench=("bf_test_benchmark.py::test_tags",)),
    ]
    load = [
        Defect("D1", "quadratic tag collection in search (~300 ms of CPU per request)", "load", "load-p95",
               ("GET /search",), operations=("GET /search",), st_checks=("max_response_time",),
               bench=("bf_test_benchmark.py::test_search",)),
        Defect("D2", "a blocking 200 ms call in an async handler stalls every endpoint", "load", "load-p95",
               ("GET /products/{product_id}",), operations=("GET /products/{product_id}",),
               st_checks=("max_response_time",), bench=("bf_test_benchmark.py::test_product",)),
    ]
    return [
        Subject("latency/catalog", EXAMPLES / "latency", latency,
                _pyproject('[tool.backend-gates.contract]\napp = "catalog_{variant}:app"\n'
                           f"max_examples = {max_examples}\n"
                           '[tool.backend-gates.latency]\nsamples = 5\nbudgets = { "GET /tags" = "p95 < 30ms" }\n'),
                variants=("slow", "fast"), gates=("--backend-gates=latency",), tests=True,
                http=Http("catalog_{variant}:app", max_examples=max_examples),
                benchmark=LATENCY_BENCHMARK, locustfile=LATENCY_LOCUSTFILE),
        Subject("load/catalog", EXAMPLES / "load", load,
                _pyproject('[tool.backend-gates.contract]\napp = "catalog_{variant}:app"\n'
                           f"max_examples = {max_examples}\n"
                           '[tool.backend-gates.load]\nusers = 5\nspawn_rate = 50\nduration = "3s"\n'
                           'thresholds = ["failures < 1%"]\nthresholds_per_endpoint = { "GET /search" = "p95 < 100ms", '
                           '"GET /products/{product_id}" = "p95 < 100ms" }\n'),
                # the load gate runs at the end of a session: one placeholder test (tests/test_load_gate.py's)
                files={"test_nothing.py": "def test_nothing():\n    pass\n"},
                gates=("--backend-gates=load",), http=Http("catalog_{variant}:app", max_examples=max_examples),
                benchmark=LOAD_BENCHMARK, locustfile=LOAD_LOCUSTFILE),
    ]


WALLET_TEST = '''\
def test_withdrawals_are_not_lost(api, race):
    account = api.post("/accounts", json={"owner": "ann", "balance": 1000000}).json()
    responses = race.run(api.post, f"/accounts/{account['id']}/withdraw", json={"amount": 10})
    paid = [-10 for r in responses if r.status_code == 200]
    final = api.get(f"/accounts/{account['id']}").json()["balance"]
    race.assert_total(final, paid, start=1000000, what="balance")
'''
PG_TEST = '''\
import os

from bank_pg_{variant} import Bank


def test_withdrawals_are_not_lost(race):
    bank = Bank(os.environ["BACKEND_GATES_PG_DSN"], balance=1_000_000)
    try:
        taken = race.run(bank.withdraw, 10, rounds=5)
        race.assert_total(bank.balance(), [-t for t in taken], start=1_000_000, what="balance")
    finally:
        bank.close()
'''


def _postgres() -> str:
    """'' when BACKEND_GATES_PG_DSN reaches a server, else why the PostgreSQL example is skipped."""
    dsn = os.environ.get("BACKEND_GATES_PG_DSN")
    if not dsn:
        return "BACKEND_GATES_PG_DSN is not set (`.ci/run` starts a throwaway PostgreSQL and sets it)"
    try:
        import psycopg

        psycopg.connect(dsn, connect_timeout=3).close()
    except Exception as exc:  # any reason the server is unusable is a reason to skip
        return f"no PostgreSQL server at BACKEND_GATES_PG_DSN ({type(exc).__name__})"
    return ""


def race_and_queries_subjects(max_examples: int) -> list[Subject]:
    races = [
        Defect("R1", "bank withdraw: read-check-write, lost updates", "race", "race-test",
               ("test_races.py::test_withdrawals_are_not_lost", "test_races.py::test_overdraft_is_refused"),
               tests=("test_races.py::test_withdrawals_are_not_lost", "test_races.py::test_overdraft_is_refused")),
        Defect("R2", "ticket id = len(tickets) + 1: duplicate ids", "race", "race-test",
               ("test_races.py::test_ticket_ids_are_unique",), tests=("test_races.py::test_ticket_ids_are_unique",)),
        Defect("R3", "SQLite sign-up: SELECT then INSERT, a name registered twice", "race", "race-test",
               ("test_races.py::test_a_username_is_registered_once",),
               tests=("test_races.py::test_a_username_is_registered_once",)),
    ]
    wallet = [
        Defect("W1", "account id = len(accounts) + 1: concurrent creates share an id", "race", "race-duplicate-id",
               ("POST /accounts",), operations=("POST /accounts",)),
        Defect("W2", "withdraw over HTTP: read-check-write, lost updates", "race", "race-test",
               ("test_wallet.py::test_withdrawals_are_not_lost",),
               tests=("test_wallet.py::test_withdrawals_are_not_lost",)),
    ]
    postgres = [
        Defect("P1", "SELECT balance, compute, UPDATE at READ COMMITTED: lost updates", "race", "race-test",
               ("test_pg.py::test_withdrawals_are_not_lost",), tests=("test_pg.py::test_withdrawals_are_not_lost",)),
    ]
    queries = [
        Defect("Q1", "`GET /authors` lazy-loads each author's books: 26 statements for 25 authors", "queries",
               "n-plus-one", ("GET /authors", "test_queries.py::test_authors_endpoint_has_no_n_plus_one"),
               operations=("GET /authors",), tests=("test_queries.py::test_authors_endpoint_has_no_n_plus_one",)),
        Defect("Q2", "`GET /products` runs one AVG query per product: 13 statements for 12", "queries",
               "n-plus-one", ("test_queries.py::test_products_page_runs_few_statements",),
               operations=("GET /products",), tests=("test_queries.py::test_products_page_runs_few_statements",)),
    ]
    race_table = "[tool.backend-gates.race]\n"
    return [
        Subject("race/modules", EXAMPLES / "race", races, _pyproject(race_table),
                include=("bank_*.py", "tickets_*.py", "signup_*.py", "test_races.py"),
                env=lambda variant: {"RACE_VARIANT": variant}, paths=("test_races.py",), tests=True),
        Subject("race/wallet_flask", EXAMPLES / "race", wallet,
                _pyproject('[tool.backend-gates.contract]\napp = "wallet_flask_{variant}:app"\n'
                           'schema = "wallet_openapi.yaml"\n[tool.backend-gates.race]\nauto = true\n'),
                include=("_wallet.py", "wallet_flask_*.py", "wallet_openapi.yaml"), files={"test_wallet.py": WALLET_TEST},
                env=lambda variant: {"RACE_VARIANT": variant}, gates=("--backend-gates=race",), tests=True,
                run_st=False),
        Subject("race/bank_pg", EXAMPLES / "race", postgres, _pyproject(race_table), include=("bank_pg_*.py",),
                files={"test_pg.py": PG_TEST}, env=lambda variant: {"RACE_VARIANT": variant}, tests=True,
                skip=_postgres()),
        Subject("queries/library+reviews", EXAMPLES / "queries", queries,
                _pyproject('[tool.backend-gates.contract]\napp = "library_{variant}:app"\n'
                           f"max_examples = {max_examples}\n"
                           "[tool.backend-gates.queries]\nmax_per_request = 10\nmax_repeats = 3\n"),
                env=lambda variant: {"QUERIES_VARIANT": variant}, paths=("test_queries.py",), tests=True,
                http=Http("library_{variant}:app", max_examples=max_examples)),
    ]


# The validation examples as tests/test_validation_examples.py checks them: (function, accepts, rejects).
VALIDATION_BUGGY = {
    "quantity_int": ("quantity.parse_quantity_int", "quantity.QUANTITY", "ValueError",
                     "`int()` takes ' 7', '+7', '1_000' and other scripts' digits"),
    "quantity_dollar": ("quantity.parse_quantity_dollar", "quantity.QUANTITY", "ValueError",
                        "`^\\d{1,4}$`: `$` before a newline, every script's digits"),
    "range": ("date_range.DateRangeBuggy.model_validate", "date_range.DateRangeBuggy", "ValidationError",
              "the validator compares a missing `end`: TypeError, not a validation error"),
    "stay": ("date_range.stay_end_buggy", "date_range.StayBuggy", "ValidationError",
             "check-in + nights overflows `date.max` for an accepted input"),
    "username": ("accounts.validate_username_buggy", "accounts.USERNAME", "ValueError",
                 "`strip().lower()` and `isalnum()`; None raises AttributeError"),
    "email": ("accounts.validate_email_buggy", "accounts.EMAIL", "ValueError",
              "a nested quantifier backtracks exponentially (ReDoS)"),
    "pagination": ("pagination.page_window_buggy", "pagination.PaginationParams", "ValueError",
                   "hand-rolled `int(params.get(...))`: page 0, negatives, None get through or crash"),
}
VALIDATION_FIXED = {
    "quantity": ("quantity.parse_quantity", "quantity.QUANTITY", "ValueError"),
    "range": ("date_range.DateRange.model_validate", "date_range.DateRange", "ValidationError"),
    "stay": ("date_range.stay_end", "date_range.Stay", "ValidationError"),
    "username": ("accounts.validate_username", "accounts.USERNAME", "ValueError"),
    "email": ("accounts.validate_email", "accounts.EMAIL", "ValueError"),
    "pagination": ("pagination.page_window", "pagination.PaginationParams", "ValueError"),
}
VALIDATION_TESTS = '''\
import pytest
from pydantic import ValidationError

import accounts, date_range, pagination, quantity

CHECKS = {table}


@pytest.mark.parametrize("name", CHECKS)
def test_example(input_validation, name):
    fn, accepts, rejects = CHECKS[name]
    input_validation.check(fn, accepts=accepts, rejects=rejects{options})
'''


def validation_subject() -> Subject:
    def table(entries: dict[str, tuple[str, ...]]) -> str:
        return "{\n" + "".join(f"    {name!r}: ({e[0]}, {e[1]}, {e[2]}),\n" for name, e in entries.items()) + "}"

    # The buggy checks as tests/test_validation_examples.py runs them: a budget that lets the defect show.
    buggy = VALIDATION_TESTS.format(table=table(VALIDATION_BUGGY), options=', max_examples=300, deadline="300ms"')
    fixed = VALIDATION_TESTS.format(table=table(VALIDATION_FIXED), options="")
    # "[[]" is fnmatch's literal "[" (a node id's parameters are not a character class).
    defects = [Defect(f"V{i}", what, "validation", "*", (f"test_examples.py::test_example[[]{name}]",),
                      tests=(f"test_examples.py::test_example[[]{name}]",))
               for i, (name, (*_, what)) in enumerate(VALIDATION_BUGGY.items(), 1)]
    return Subject("validation/parsers", EXAMPLES / "validation", defects,
                   _pyproject("[tool.backend-gates.validation]\nmax_examples = 25\n"),
                   files={"test_examples.py": lambda variant: buggy if variant == "buggy" else fixed}, tests=True)


# The stacks' own tests that target each defect kind, by their names (examples/stacks/*/tests): a plain
# pytest run finds the defect when one of them fails. A failing test these leave out is listed, never credited.
TEAM_TESTS = {
    "null-into-not-null": ("*::*null*", "*::*cannot_be_cleared*"),
    "broken-404": ("*::*404*",),
    "n-plus-one": ("*::*quer*",),
    "check-then-insert": ("*::*concurren*", "*::*at_once*"),
}


def stack_subject(folder: Path) -> Subject:
    """A stack of examples/stacks as tests/test_stacks.py runs it; its defects from expected.toml."""
    data = tomllib.loads((folder / "pyproject.toml").read_text())
    gates = data["tool"]["backend-gates"]
    contract = gates.get("contract", {})
    defects = []
    for entry in tomllib.loads((folder / "expected.toml").read_text())["defect"]:
        http = bool(re.match(r"[A-Z*]+ /", entry["where"]))
        defects.append(Defect(
            f"{folder.name}: {entry['kind']}" + ("" if entry["check"] != "race-test" else " (team's test)"),
            entry["kind"], entry["gate"], entry["check"], (entry["where"],), entry.get("message", ""),
            operations=(entry["where"],) if http else (),
            st_checks=(entry["check"],) if entry["gate"] == "contract" else (),
            tests=TEAM_TESTS.get(entry["kind"], ()) + (() if http else (entry["where"],))))
    coverage = gates.get("coverage")
    identities = gates.get("identities", {})
    identity_name = gates.get("identity") or next(iter(identities), "")

    def env(variant: str) -> dict[str, str]:
        # The stacks' secrets, fresh per twin (tests/test_stacks.py); the gates log in themselves.
        found = {"STACK_SECRET_KEY": secrets.token_hex(24), "STACK_PASSWORD": secrets.token_urlsafe(18),
                 # what fastapi_sqlmodel's conftest.py sets for pytest runs: the app st is run against gets it too
                 "STACK_BCRYPT_ROUNDS": "4"}
        return found | ({"STACK_DEFECTS": "1"} if variant == "buggy" else {})

    return Subject(
        f"stacks/{folder.name}", folder, defects, variants=("buggy", "fixed"), tree=True, env=env, tests=True,
        http=Http(contract["app"], schema=contract.get("schema", "/openapi.json"),
                  max_examples=int(contract.get("max_examples", 50)), stateful=bool(contract.get("stateful", True)),
                  headers={**contract.get("headers", {}), **identities.get(identity_name, {}).get("headers", {})},
                  identity=identities.get(identity_name, {}), identity_name=identity_name,
                  exclude_operations=list(contract.get("exclude_operations", [])),
                  exclude_checks=list(contract.get("exclude_checks", [])),
                  pythonpath=list(data["tool"].get("pytest", {}).get("ini_options", {}).get("pythonpath", ["."]))),
        coverage=(list(coverage["source"]), float(coverage["total"]), bool(coverage.get("branch", False)))
        if coverage and "total" in coverage else None,
        # Django creates and seeds its tables with `migrate` before a server starts (pytest-django does it for
        # the in-process runs); the stack's README serves it the same way.
        serve_prepare=("manage.py", "migrate", "--noinput") if (folder / "manage.py").exists() else ())


def all_subjects(quick: bool) -> list[Subject]:
    examples = QUICK_MAX_EXAMPLES if quick else 30  # examples/contract's README and tests use 30
    security = min(examples, 20)  # examples/security's README and tests use 20
    stacks = sorted(p.parent for p in STACKS.glob("*/expected.toml"))
    if quick:
        stacks = [s for s in stacks if s.name in QUICK_STACKS]
    return [*contract_subjects(examples), *security_subjects(security), *identities_subjects(min(examples, 3)),
            *performance_subjects(min(examples, 10)), *race_and_queries_subjects(min(examples, 10)),
            validation_subject(), *(stack_subject(folder) for folder in stacks)]


# -- a twin's project, and running things in it ------------------------------------------------

def _ignore(folder: str, names: list[str]) -> set[str]:
    return {name for name in names
            if name.startswith(("stack.db", "test_stack.db", "backend-gates.json", ".hypothesis", ".coverage"))
            or name in ("__pycache__", ".pytest_cache", ".benchmarks", ".backend-gates")}


def project(subject: Subject, variant: str, where: Path) -> Path:
    """A fresh copy of the twin: its files, its pyproject.toml, the generated files."""
    if where.exists():
        shutil.rmtree(where)
    if subject.tree:
        shutil.copytree(subject.folder, where, ignore=_ignore)
    else:
        where.mkdir(parents=True)
        for pattern in subject.include:
            for source in subject.folder.glob(pattern):
                shutil.copy(source, where / source.name)
    if subject.pyproject:
        (where / "pyproject.toml").write_text(subject.text(subject.pyproject, variant))
    for name, template in subject.files.items():
        (where / name).write_text(template(variant) if callable(template) else subject.text(template, variant))
    return where


def _env(subject: Subject, variant: str) -> dict[str, str]:
    return {**ENV, **subject.env(variant)}


@dataclass
class ToolRun:
    """One tool on one twin: what it reported, or why it could not run."""

    findings: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    command: str = ""
    detail: str = ""  # what the tool printed that matters (a total, timings)


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, -9, "", f"timed out after {TIMEOUT:g} s")


def _tail(proc: subprocess.CompletedProcess[str]) -> str:
    return (proc.stdout[-1500:] + "\n" + proc.stderr[-1500:]).strip()


def _shown(cmd: list[str]) -> str:
    """A command as the table shows it: the interpreter and tools by name, throwaway paths and ports generic."""
    out = []
    for part in cmd:
        if part == sys.executable:
            part = "python"
        elif part.startswith(str(BIN) + os.sep):
            part = part.removeprefix(str(BIN) + os.sep)
        out.append(re.sub(r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:PORT", part))
    return shlex.join(out)


FAILED_RE = re.compile(r"^(FAILED|ERROR) (\S+?)(?: - .*)?$", re.MULTILINE)


def run_gates(subject: Subject, variant: str, root: Path, seed: int) -> ToolRun:
    # Paths before the flag: `--backend-gates` takes an optional value (README).
    cmd = [sys.executable, "-m", "pytest", *subject.paths, *subject.gates, "-p", "no:cacheprovider", "-q",
           f"--backend-gates-seed={seed}", f"--backend-gates-race-seed={seed}",
           "--backend-gates-report=bf-gates.json"]
    started = time.monotonic()
    proc = _run(cmd, root, _env(subject, variant))
    result = ToolRun(seconds=time.monotonic() - started, command=_shown(cmd))
    report = root / "bf-gates.json"
    if proc.returncode not in (0, 1) or not report.exists():
        result.error = f"exit {proc.returncode}, {'no report' if not report.exists() else 'a report'}: {_tail(proc)}"
        return result
    data = json.loads(report.read_text())
    for gate in data["gates"]:
        for v in gate["violations"]:
            result.findings.append({"gate": gate["gate"], "check": v["check"], "where": v["where"],
                                    "message": v["message"]})
        if gate["status"] == "error":
            result.findings.append({"gate": gate["gate"], "check": "(gate error)", "where": "",
                                    "message": gate["summary"]})
    result.detail = "; ".join(f"{g['gate']} {g['status']}" for g in data["gates"])
    return result


def run_pytest(subject: Subject, variant: str, root: Path) -> ToolRun:
    cmd = [sys.executable, "-m", "pytest", *subject.paths, "-p", "no:cacheprovider", "-q", "-rfE"]
    started = time.monotonic()
    proc = _run(cmd, root, _env(subject, variant))
    result = ToolRun(seconds=time.monotonic() - started, command=_shown(cmd))
    if proc.returncode not in (0, 1):
        result.error = f"exit {proc.returncode}: {_tail(proc)}"
        return result
    result.findings = [{"test": m.group(2), "outcome": m.group(1)} for m in FAILED_RE.finditer(proc.stdout)]
    last = proc.stdout.strip().splitlines()[-1:] or [""]
    result.detail = last[0].strip("= ")
    return result


def run_benchmark(subject: Subject, variant: str, root: Path) -> ToolRun:
    (root / "bf_test_benchmark.py").write_text(subject.text(subject.benchmark, variant))
    cmd = [sys.executable, "-m", "pytest", "bf_test_benchmark.py", "-p", "no:backend_gates", "-p", "no:cacheprovider",
           "-q", "-rfE", "--benchmark-json=bf-benchmark.json"]
    started = time.monotonic()
    proc = _run(cmd, root, _env(subject, variant))
    result = ToolRun(seconds=time.monotonic() - started, command=_shown(cmd))
    if proc.returncode not in (0, 1):
        result.error = f"exit {proc.returncode}: {_tail(proc)}"
        return result
    result.findings = [{"test": m.group(2), "outcome": m.group(1)} for m in FAILED_RE.finditer(proc.stdout)]
    try:
        timed = json.loads((root / "bf-benchmark.json").read_text())["benchmarks"]
        result.detail = ", ".join(f"{b['name']} median {b['stats']['median'] * 1e3:.1f} ms" for b in timed)
    except (OSError, ValueError, KeyError):
        result.detail = "no timings"
    return result


def run_coverage(subject: Subject, variant: str, root: Path) -> ToolRun:
    assert subject.coverage is not None
    source, total, branch = subject.coverage
    env = _env(subject, variant)
    run_cmd = [sys.executable, "-m", "coverage", "run", f"--source={','.join(source)}", *(["--branch"] if branch else []),
               "-m", "pytest", *subject.paths, "-p", "no:cacheprovider", "-q"]
    report_cmd = [sys.executable, "-m", "coverage", "report", f"--fail-under={total:g}"]
    started = time.monotonic()
    ran = _run(run_cmd, root, env)
    result = ToolRun(command=f"{_shown(run_cmd)} && {_shown(report_cmd)}")
    if ran.returncode not in (0, 1):
        result.error = f"coverage run exited {ran.returncode}: {_tail(ran)}"
        return result
    report = _run(report_cmd, root, env)
    result.seconds = time.monotonic() - started
    match = re.search(r"^TOTAL\s.*?(\d+(?:\.\d+)?)%\s*$", report.stdout, re.MULTILINE)
    percent = match.group(1) + "%" if match else "?"
    result.detail = f"total {percent} (fail-under {total:g})"
    if report.returncode == 2:
        result.findings.append({"check": "fail-under", "total": percent, "minimum": total})
    elif report.returncode != 0:
        result.error = f"coverage report exited {report.returncode}: {_tail(report)}"
    return result


class _Work:
    """What contract_throughput's Server and log_in read of a work directory: its root."""

    def __init__(self, root: Path) -> None:
        self.root = root


def _ct_subject(subject: Subject, variant: str, root: Path) -> ct.Subject:
    http = subject.http
    assert http is not None
    return ct.Subject(name=subject.name, source=root, app=subject.text(http.app, variant), schema=http.schema,
                      max_examples=http.max_examples, stateful=http.stateful, headers=dict(http.headers),
                      identity=dict(http.identity), identity_name=http.identity_name,
                      exclude=list(http.exclude_operations), pythonpath=list(http.pythonpath))


def _signup(identity: dict[str, Any], url: str, env: dict[str, str]) -> None:
    """The identity's sign-up before its login (ct.log_in logs in only), as the gates do."""
    signup = identity.get("signup")
    if not signup:
        return
    method, _, path = signup["operation"].partition(" ")
    body = {k: ct.expand(str(v), env) for k, v in signup["json"].items()}
    request = urllib.request.Request(f"{url}{path}", method=method, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        opener.open(request, timeout=30).close()
    except OSError as exc:
        raise ct.RunFailed(f"signup {signup['operation']} failed: {exc}") from None


class Served:
    """The twin's app on 127.0.0.1 for the length of a `with`, and the CLI's credentials for it."""

    def __init__(self, subject: Subject, variant: str, root: Path) -> None:
        self.subject, self.root = subject, root
        self.env = _env(subject, variant)
        self.ct_subject = _ct_subject(subject, variant, root)
        self.server: ct.Server | None = None
        self.headers: dict[str, str] = {}

    def __enter__(self) -> Served:
        if self.subject.serve_prepare:
            done = _run([sys.executable, *self.subject.serve_prepare], self.root, self.env)
            if done.returncode != 0:
                raise ct.RunFailed(f"{' '.join(self.subject.serve_prepare)} failed: {_tail(done)}")
        work = _Work(self.root)
        kind = ct.app_kind(work, self.ct_subject, self.env)  # type: ignore[arg-type]
        static = ct.resolve_headers(self.ct_subject, self.env)
        self.server = ct.Server(work, self.ct_subject, kind, self.env, static)  # type: ignore[arg-type]
        self.server.__enter__()
        _signup(self.ct_subject.identity, self.server.url, self.env)
        self.headers = {**static, **ct.log_in(self.ct_subject, self.server, self.env)}
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.__exit__(*exc)


def run_st(subject: Subject, variant: str, root: Path, seed: int) -> ToolRun:
    http = subject.http
    assert http is not None
    (root / "bf-schemathesis.toml").write_text(ct.ST_CONFIG)
    report = root / "bf-st.json"
    result = ToolRun()
    started = time.monotonic()
    try:
        with Served(subject, variant, root) as served:
            cmd = ct.cli_command(served.ct_subject, served.url, served.headers, seed, Path("bf-schemathesis.toml"))
            if http.exclude_checks:
                cmd += ["--exclude-checks", ",".join(http.exclude_checks)]
            cmd += ["--report", "json", "--report-json-path", report.name]
            proc = _run(cmd, root, served.env)
            result.command = _redact(_shown(cmd), served.headers)
    except ct.RunFailed as exc:
        result.error = str(exc)[:1500]
        return result
    result.seconds = time.monotonic() - started
    if proc.returncode not in (0, 1) or not report.exists():
        result.error = f"st exited {proc.returncode}: {_tail(proc)}"
        return result
    data = json.loads(report.read_text())
    codes = _failure_codes()
    for failure in data.get("failures", []):
        for operation in failure.get("operations", []):
            for check in codes.get(failure["code"], (failure["code"],)):
                result.findings.append({"check": check, "operation": operation, "code": failure["code"],
                                        "title": failure.get("title", "")})
    cases = data.get("test_cases", {})
    result.detail = (f"{cases.get('generated', '?')} cases, {cases.get('unique_failures', '?')} unique failures, "
                     f"{len(data.get('errors', []))} errors")
    return result


def _redact(text: str, headers: dict[str, str]) -> str:
    """The CLI's command without the credentials it was given (a token logged in for the run)."""
    for name, value in headers.items():
        text = text.replace(value, f"<{name}>")
    return text


def _failure_codes() -> dict[str, tuple[str, ...]]:
    """st's failure code -> the checks that report it (`st explain CODE` says the same)."""
    try:
        from schemathesis.failure_codes import FAILURE_CLASSES

        return {cls.code: tuple(cls.checks) for cls in FAILURE_CLASSES}
    except ImportError:  # another schemathesis version: the codes are shown as they are
        return {}


def run_locust(subject: Subject, variant: str, root: Path) -> ToolRun:
    (root / "bf_locustfile.py").write_text(subject.text(subject.locustfile, variant))
    users, spawn_rate, duration = subject.locust
    result = ToolRun()
    started = time.monotonic()
    try:
        with Served(subject, variant, root) as served:
            cmd = [str(BIN / "locust"), "-f", "bf_locustfile.py", "--headless", "-u", str(users), "-r", str(spawn_rate),
                   "-t", duration, "--host", served.url, "--only-summary", "--csv", "bf-locust",
                   "--exit-code-on-error", "1"]
            proc = _run(cmd, root, served.env)
            result.command = _shown(cmd)
    except ct.RunFailed as exc:
        result.error = str(exc)[:1500]
        return result
    result.seconds = time.monotonic() - started
    stats = root / "bf-locust_stats.csv"
    if proc.returncode not in (0, 1) or not stats.exists():
        result.error = f"locust exited {proc.returncode}: {_tail(proc)}"
        return result
    with stats.open(newline="") as stream:
        rows = [row for row in csv.DictReader(stream) if row.get("Name") != "Aggregated"]
    for row in rows:
        if int(row.get("Failure Count") or 0) and proc.returncode:
            result.findings.append({"operation": f"{row['Type']} {row['Name']}", "failures": row["Failure Count"]})
    result.detail = f"exit {proc.returncode}; " + ", ".join(
        f"{row['Type']} {row['Name']}: {row['Request Count']} requests, p95 {row.get('95%', '?')} ms, "
        f"{row['Failure Count']} failures" for row in rows)
    return result


# -- judging ------------------------------------------------------------------------------------

def _any(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def verdict(tool: str, defect: Defect, subject: Subject, run: ToolRun | None) -> str:
    """yes / no / n.a. (the tool cannot see this kind of defect, or has nothing to run) / error / not run."""
    applicable = {
        "gates": True,
        "st": bool(defect.st_checks) and subject.http is not None and subject.run_st,
        "pytest": subject.tests,
        "pytest-benchmark": bool(defect.bench) and bool(subject.benchmark),
        "coverage": defect.gate == "coverage" and subject.coverage is not None,
        "locust": defect.gate in ("latency", "load") and bool(subject.locustfile),
    }[tool]
    if not applicable:
        return "n.a."
    if run is None:
        return "not run"
    if run.error:
        return "error"
    f = run.findings
    found = {
        "gates": lambda: any(x["gate"] == defect.gate and fnmatch.fnmatchcase(x["check"], defect.check)
                             and (not defect.where or _any(x["where"], defect.where))
                             and defect.message in x["message"] for x in f),
        "st": lambda: any(x["check"] in defect.st_checks and (not defect.operations
                                                              or _any(x["operation"], defect.operations)) for x in f),
        "pytest": lambda: any(_any(x["test"], defect.tests) for x in f),
        "pytest-benchmark": lambda: any(_any(x["test"], defect.bench) for x in f),
        "coverage": lambda: bool(f),
        "locust": lambda: any(_any(x["operation"], defect.operations) for x in f),
    }[tool]()
    return "yes" if found else "no"


def _glob(pattern: str) -> str:
    """A pattern as a reader reads it: fnmatch's literal "[" shown as "[", "*" alone as "any"."""
    return "any" if pattern == "*" else pattern.replace("[[]", "[")


def _places(defect: Defect) -> str:
    return ", ".join(_glob(w) for w in defect.where) or "(app-wide)"


def describe(tool: str, finding: dict[str, Any]) -> str:
    if tool == "gates":
        return f"{finding['gate']} [{finding['check']}] {finding['where']}: {finding['message'][:160]}"
    if tool == "st":
        return f"{finding['code']} {finding['check']} on {finding['operation']}"
    if tool in ("pytest", "pytest-benchmark"):
        return f"{finding['outcome']} {finding['test']}"
    if tool == "coverage":
        return f"total {finding['total']} under {finding['minimum']:g}"
    return f"{finding['operation']}: {finding['failures']} failures"


# -- main ---------------------------------------------------------------------------------------

def tools_for(subject: Subject) -> list[str]:
    tools = ["gates"]
    if subject.http is not None and subject.run_st:
        tools.append("st")
    if subject.tests:
        tools.append("pytest")
    if subject.benchmark:
        tools.append("pytest-benchmark")
    if subject.coverage is not None:
        tools.append("coverage")
    if subject.locustfile:
        tools.append("locust")
    return tools


def run_tool(tool: str, subject: Subject, variant: str, root: Path, seed: int) -> ToolRun:
    project(subject, variant, root)  # every tool starts from a fresh copy: no database or report left over
    if tool == "gates":
        return run_gates(subject, variant, root, seed)
    if tool == "st":
        return run_st(subject, variant, root, seed)
    if tool == "pytest":
        return run_pytest(subject, variant, root)
    if tool == "pytest-benchmark":
        return run_benchmark(subject, variant, root)
    if tool == "coverage":
        return run_coverage(subject, variant, root)
    return run_locust(subject, variant, root)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", nargs="*", metavar="GLOB", help="subjects to run, e.g. 'contract/*' 'stacks/*'")
    parser.add_argument("--seed", type=int, default=SEED, help=f"the seed of every tool (default {SEED})")
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS),
                        help="only these tools (development: the others show 'not run')")
    add_options(parser)
    args = parser.parse_args()
    subjects = [s for s in all_subjects(args.quick)
                if not args.only or any(fnmatch.fnmatchcase(s.name, g) for g in args.only)]
    run_ = Run("bug_finding", "Bug finding: the seeded defects of examples/, by the gates and by each plain tool",
               args, subjects=[s.name for s in subjects], tools=list(TOOLS),
               max_examples="stacks: their own; quick: 10 elsewhere" if args.quick
               else "stacks: their own; contract 30, security 20, identities 3, others 10")
    print(f"bug finding: {len(subjects)} subjects, seed {args.seed}, tools {', '.join(TOOLS)}", flush=True)
    rows: list[list[Any]] = []
    fixed_rows: list[list[Any]] = []
    commands: list[list[Any]] = []
    fixed_notes: list[str] = []
    unattributed: list[str] = []  # tests failing on a buggy twin that target no seeded defect
    totals = {tool: [0, 0] for tool in TOOLS}  # found, applicable
    fp_totals: dict[str, int] = dict.fromkeys(TOOLS, 0)
    fp_runs: dict[str, int] = dict.fromkeys(TOOLS, 0)  # fixed twins each tool ran on
    broken = []
    with tempfile.TemporaryDirectory(prefix="bg-bugs-") as tmp:
        for subject in subjects:
            if subject.skip:
                run_.line(f"{subject.name}: skipped, {subject.skip}")
                for d in subject.defects:
                    rows.append([d.id, subject.name, d.what, d.gate, _glob(d.check), _places(d),
                                 *(["skipped"] * len(TOOLS))])
                continue
            runs: dict[tuple[str, str], ToolRun] = {}
            for variant in subject.variants:
                for tool in (t for t in tools_for(subject) if t in args.tools):
                    root = Path(tmp) / f"{subject.name.replace('/', '-')}-{variant}-{tool}"
                    result = run_tool(tool, subject, variant, root, args.seed)
                    runs[(tool, variant)] = result
                    state = f"error: {result.error[:300]}" if result.error else f"{len(result.findings)} findings"
                    print(f"  {subject.name} {variant:5} {tool:16} {result.seconds:6.1f} s  {state}"
                          + (f"  ({result.detail[:200]})" if result.detail else ""), flush=True)
                    if result.error:
                        broken.append(f"{subject.name} {variant} {tool}")
                    if variant == subject.variants[0]:
                        commands.append([subject.name, tool, f"`{result.command}`"])
                    shutil.rmtree(root, ignore_errors=True)
            buggy, fixed = subject.variants
            for d in subject.defects:
                cells = [verdict(tool, d, subject, runs.get((tool, buggy))) for tool in TOOLS]
                for tool, cell in zip(TOOLS, cells, strict=True):
                    if cell in ("yes", "no"):
                        totals[tool][1] += 1
                        totals[tool][0] += cell == "yes"
                rows.append([d.id, subject.name, d.what, d.gate, _glob(d.check), _places(d), *cells])
                print(f"    {d.id:>4} {d.gate}/{d.check}: " + ", ".join(f"{t} {c}" for t, c in zip(TOOLS, cells,
                                                                                                    strict=True)))
            failed = runs.get(("pytest", buggy))
            if failed is not None and not failed.error:
                credited = {x["test"] for x in failed.findings for d in subject.defects if _any(x["test"], d.tests)}
                unattributed.extend(f"{subject.name} ({buggy} twin): {describe('pytest', x)}"
                                    for x in failed.findings if x["test"] not in credited)
            counts = []
            for tool in TOOLS:
                result = runs.get((tool, fixed))
                if result is None:
                    counts.append("n.a.")  # the tool has nothing to run on this example
                elif result.error:
                    counts.append("error")
                else:
                    counts.append(len(result.findings))
                    fp_totals[tool] += len(result.findings)
                    fp_runs[tool] += 1
                    fixed_notes.extend(f"{subject.name} ({fixed} twin), {HEADINGS[tool]}: {describe(tool, x)}"
                                       for x in result.findings)
            fixed_rows.append([subject.name, fixed, *counts])
            for tool in TOOLS:
                result = runs.get((tool, buggy))
                if result is not None and result.detail and tool in ("pytest-benchmark", "locust", "coverage"):
                    run_.figures.setdefault("measured", []).append(f"{subject.name} {buggy}: {tool}: {result.detail}")
                result = runs.get((tool, fixed))
                if result is not None and result.detail and tool in ("pytest-benchmark", "locust", "coverage"):
                    run_.figures.setdefault("measured", []).append(f"{subject.name} {fixed}: {tool}: {result.detail}")
    seeded = sum(1 for r in rows if "skipped" not in r)
    run_.line(f"{seeded} seeded defects run ({len(rows) - seeded} skipped), one run per tool and twin, seed {args.seed}")
    headline = []
    for tool in TOOLS:
        found, applicable = totals[tool]
        headline.append([HEADINGS[tool], found, applicable, seeded - applicable, fp_totals[tool], fp_runs[tool]])
    gates_found = totals["gates"][0]
    run_.line(f"pytest --backend-gates found {gates_found} of the {seeded} seeded defects; each plain tool alone, of "
              f"the defects it can see: " + "; ".join(f"{HEADINGS[t]} {totals[t][0]}/{totals[t][1]}"
                                                     for t in TOOLS[1:]))
    run_.table("Per tool", ["tool", "seeded defects found", "of those it can see", "n.a.",
                            "findings on fixed twins", "fixed twins run"], headline,
               notes=[f"{HEADINGS[t]}: {TOOL_NOTES[t]}" for t in TOOLS])
    run_.table("Every seeded defect, and who found it (yes / no; n.a.: the tool cannot see that kind of defect, "
               "or the example has nothing for it to run)",
               ["defect", "example", "what", "gate", "check", "where", *(HEADINGS[t] for t in TOOLS)], rows,
               notes=["Found by the gates: a violation with the defect's gate, check and `where` (and a word of its "
                      "message where given), as tests/test_stacks.py matches; st: a failure of one of the checks "
                      "that would show it on the defect's operation (st's JSON report names failures by code and "
                      "operation, not by message: two defects sharing a check and an operation are both credited); "
                      "pytest: a failed test targeting it; pytest-benchmark: a failed benchmark test; locust: a "
                      "non-zero exit with failures on the defect's endpoint."])
    if unattributed:
        run_.tables[-1]["notes"].append("Tests that failed on a buggy twin but target no seeded defect (not credited): "
                                        + "; ".join(unattributed))
    run_.table("Findings on the fixed twins (false positives, or real unseeded bugs: listed below)",
               ["example", "twin", *(HEADINGS[t] for t in TOOLS)], fixed_rows, notes=fixed_notes)
    run_.table("What each tool ran (on the buggy twin; the fixed twin the same; PORT: a free loopback port)",
               ["example", "tool", "command"], commands, notes=list(run_.figures.get("measured", [])))
    run_.figures.update(totals={t: {"found": f, "applicable": a} for t, (f, a) in totals.items()},
                        fixed_findings=fp_totals, broken=broken, rows=rows)
    if broken:
        run_.line(f"could not run: {', '.join(broken)}")
    run_.write()
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
