"""The load gate end to end: locust in its own process against a served app or a base_url.

Runs are short (2-3 s, a few users) and budgets generous, so the outcomes do
not depend on the machine: the buggy catalog's quadratic search takes about
300 ms of CPU per request against a 100 ms budget; its fixed twin about 2 ms.
"""

from __future__ import annotations

import json
import shutil
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, gate, read_report

from pytest_backend_gates.budget import parse_budget
from pytest_backend_gates.gates.load.history import (
    HISTORY_POINTS,
    history_step,
    load_history,
)
from pytest_backend_gates.gates.load.plan import build_plan
from pytest_backend_gates.gates.load.server import ServedApp
from pytest_backend_gates.gates.load.stats import (
    EndpointStats,
    match_endpoint,
    template_pattern,
)

# The inner runs need neither schemathesis' nor hypothesis' pytest plugins: importing them is
# most of a subprocess pytest's start-up time.
RUN = ("--backend-gates=load", "-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:cacheprovider")

CATALOG_THRESHOLDS = """
    thresholds = ["failures < 1%"]
    thresholds_per_endpoint = { "GET /search" = "p95 < 100ms", "GET /products/{product_id}" = "p95 < 100ms" }
"""

# Records, in every process, whether gevent or locust got imported (they must not).
GEVENT_PROBE = """
import os, sys

def pytest_unconfigure(config):
    name = getattr(config, "workerinput", {}).get("workerid", "controller")
    with open(f"modules-{name}.json", "w") as stream:
        stream.write('{"gevent": %s, "locust": %s}' % (str("gevent" in sys.modules).lower(),
                                                          str("locust" in sys.modules).lower()))
"""

# A WSGI app with a schema: GET /ok answers, GET /boom (a required query parameter) answers 500.
SMALL_APP = '''
import json

SCHEMA = {
    "openapi": "3.0.3",
    "info": {"title": "small", "version": "1"},
    "paths": {
        "/ok": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/boom": {"get": {
            "parameters": [{"name": "n", "in": "query", "required": True,
                            "schema": {"type": "integer", "minimum": 3}}],
            "responses": {"200": {"description": "ok"}}}},
        "/items": {"post": {"responses": {"201": {"description": "created"}}}},
    },
}
SEEN = []


def app(environ, start_response):
    path, query = environ["PATH_INFO"], environ.get("QUERY_STRING", "")
    if path == "/openapi.json":
        body, status = json.dumps(SCHEMA).encode(), "200 OK"
    elif path == "/ok":
        body, status = b'{"ok": true}', "200 OK"
    elif path == "/boom" and query == "n=3":
        body, status = b"Internal Server Error", "500 Internal Server Error"
    else:
        body, status = b"not found", "404 Not Found"
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
'''


def load_project(pytester: pytest.Pytester, contract: str, load: str, files: dict[str, str] | None = None,
                 examples: bool = False) -> None:
    if examples:
        for source in (EXAMPLES / "load").glob("*.py"):
            shutil.copy(source, pytester.path / source.name)
    for name, text in (files or {}).items():
        (pytester.path / name).write_text(textwrap.dedent(text))
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["."]\n[tool.backend-gates]\nreport = "gates.json"\n'
        "[tool.backend-gates.contract]\n" + textwrap.dedent(contract).strip() + "\n"
        "[tool.backend-gates.load]\n" + textwrap.dedent(load).strip() + "\n"
    )
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")


def load_gate(pytester: pytest.Pytester) -> dict[str, Any]:
    return gate(read_report(pytester), "load")


# --------------------------------------------------------------------------
# The bundled examples: caught, and the fixed twin passing
# --------------------------------------------------------------------------


def test_buggy_catalog_quadratic_and_blocking_endpoints_fail(pytester: pytest.Pytester) -> None:
    load_project(pytester, 'app = "catalog_buggy:app"',
                 'users = 5\nspawn_rate = 50\nduration = "2s"' + CATALOG_THRESHOLDS, examples=True)
    result = pytester.runpytest_subprocess(*RUN)
    result.assert_outcomes(passed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "backend-gates load: locust: 5 users (spawn rate 50/s) for 2s against catalog_buggy:app served by uvicorn*",
        "backend-gates load: endpoint * requests failures   req/s     p50     p95     p99",
        "backend-gates load: GET /search *",
        "load  FAILED  2 of 3 thresholds violated: *",
        "GET /search [[]load-p95[]]: p95 = *, budget < 100ms (*% over) over * requests",
    ])
    load = load_gate(pytester)
    assert load["status"] == "failed", load
    assert {v["where"] for v in load["violations"]} == {"GET /search", "GET /products/{product_id}"}
    assert set(load["measured"]["endpoints"]) == {"GET /products/{product_id}", "GET /search", "GET /summary"}
    assert load["measured"]["failures"] == 0
    assert load["threshold"]["thresholds_per_endpoint"]["GET /search"] == ["p95 < 100ms"]


def test_fixed_catalog_passes_with_locust_workers_under_xdist_and_gevent_never_enters_pytest(
        pytester: pytest.Pytester) -> None:
    load_project(pytester, 'app = "catalog_fixed:app"',
                 'users = 4\nspawn_rate = 50\nduration = "2s"\nworkers = 2' + CATALOG_THRESHOLDS,
                 files={"conftest.py": GEVENT_PROBE}, examples=True)
    result = pytester.runpytest_subprocess(*RUN, "-n", "2")
    result.assert_outcomes(passed=1)
    assert result.ret == 0, result.stdout.str()
    assert result.stdout.str().count("backend-gates load: locust:") == 1  # one run, on the controller
    result.stdout.fnmatch_lines(["backend-gates load: waiting for 2 locust workers (master at 127.0.0.1:*)"])
    load = load_gate(pytester)
    assert load["status"] == "passed", load
    assert load["measured"]["workers"] == 2
    assert load["measured"]["requests"] > 0
    for name in ("controller", "gw0", "gw1"):
        assert json.loads((pytester.path / f"modules-{name}.json").read_text()) == {"gevent": False, "locust": False}


# --------------------------------------------------------------------------
# Failures, user locustfiles, hung targets
# --------------------------------------------------------------------------


def test_failures_threshold_catches_a_500_endpoint_of_a_wsgi_app(pytester: pytest.Pytester) -> None:
    load_project(pytester, 'app = "small:app"',
                 'users = 3\nduration = "2s"\nthresholds = ["failures < 1%"]\n'
                 'thresholds_per_endpoint = { "GET /ok" = ["failures < 1%", "p99 < 2s"] }',
                 files={"small.py": SMALL_APP})
    result = pytester.runpytest_subprocess(*RUN)
    assert result.ret == 1
    load = load_gate(pytester)
    assert load["status"] == "failed"
    assert [v["where"] for v in load["violations"]] == ["all requests"]
    message = load["violations"][0]["message"]
    assert message.startswith("failures = ") and "budget < 1%" in message
    # the failing endpoints, with their statuses and counts (a reader sees at once what failed)
    boom = load["measured"]["endpoints"]["GET /boom"]["requests"]
    assert f"failing: GET /boom: 500 x{boom}" in message
    assert load["measured"]["failing"] == {"GET /boom": {"500": boom}}
    assert load["measured"]["succeeded"] == load["measured"]["requests"] - boom
    # the default user called the safe operations only, /boom with n=3 (its schema's minimum)
    assert set(load["measured"]["endpoints"]) == {"GET /ok", "GET /boom"}
    assert load["measured"]["endpoints"]["GET /boom"]["failure_pct"] == 100.0
    assert load["measured"]["endpoints"]["GET /ok"]["failures"] == 0
    assert "served by wsgiref" in load["measured"]["target"]


@pytest.fixture
def small_server() -> Iterator[str]:
    namespace: dict[str, Any] = {}
    exec(SMALL_APP, namespace)  # noqa: S102 - the test's own app
    with ServedApp(namespace["app"], "wsgi", "small") as base_url:
        yield base_url


LOCUSTFILE = """
from locust import HttpUser, constant, task


class Browser(HttpUser):
    wait_time = constant(0.05)

    @task
    def home(self):
        self.client.get("/ok", name="the ok page")
"""


def test_user_locustfile_runs_as_is_against_base_url(pytester: pytest.Pytester, small_server: str) -> None:
    load_project(pytester, f'base_url = "{small_server}"',
                 'locustfile = "perf/locustfile.py"\nusers = 2\nduration = "2s"\n'
                 'thresholds = ["failures < 1%", "rps > 1"]\n'
                 'thresholds_per_endpoint = { "GET /ok" = "p95 < 1s" }',
                 files={})
    (pytester.path / "perf").mkdir()
    (pytester.path / "perf" / "locustfile.py").write_text(textwrap.dedent(LOCUSTFILE))
    result = pytester.runpytest_subprocess(*RUN)
    load = load_gate(pytester)
    # the locustfile's own request name; "GET /ok" was never requested under that name
    assert set(load["measured"]["endpoints"]) == {"GET the ok page"}
    assert [v["check"] for v in load["violations"]] == ["load-endpoint-missing"]
    assert load["violations"][0]["where"] == "GET /ok"
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*locust: 2 users * against http://127.0.0.1:*, locustfile.py"])


def test_hung_target_is_an_error_not_a_hang(pytester: pytest.Pytester) -> None:
    with socket.socket() as listener:  # accepts connections (the kernel does), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        load_project(pytester, f'base_url = "http://127.0.0.1:{port}"',
                     'locustfile = "locustfile.py"\nusers = 2\nduration = "2s"\nmargin = "2s"\nthresholds = ["p95 < 1s"]',
                     files={"locustfile.py": LOCUSTFILE})
        result = pytester.runpytest_subprocess(*RUN)
    assert result.ret == 1
    load = load_gate(pytester)
    assert load["status"] == "error", load
    assert load["summary"].startswith(f"no request was answered in the 2s run against http://127.0.0.1:{port}")


STUCK_LOCUSTFILE = """
import os
from locust import User, constant, task


class Stuck(User):
    wait_time = constant(1)

    @task
    def block(self):
        read_end, _ = os.pipe()
        os.read(read_end, 1)  # not cooperative: blocks the whole locust process
"""


def test_overrunning_locust_process_group_is_killed(pytester: pytest.Pytester) -> None:
    load_project(pytester, 'app = "small:app"',
                 'locustfile = "locustfile.py"\nusers = 1\nduration = "1s"\nmargin = "1s"',
                 files={"small.py": SMALL_APP, "locustfile.py": STUCK_LOCUSTFILE})
    result = pytester.runpytest_subprocess(*RUN)
    assert result.ret == 1
    load = load_gate(pytester)
    assert load["status"] == "error"
    assert load["summary"] == ("the load run did not finish within duration + margin (1s + 1s): a hung target "
                               "or locustfile?: locust was stopped (process group killed)")


# --------------------------------------------------------------------------
# Runs that measure the run's own mistakes: no 2xx, invented ids, base path, credentials
# --------------------------------------------------------------------------

# A service under /api (its schema says `servers: [{url: /api}]`, as Connexion's do) that wants an
# API key, whose item ids start at 1000, with one operation whose ids nothing lists and one for
# admins only (403 with the gates' key). `ANSWER` set: every request (but the schema) gets that status.
CATALOG_API = '''
import json

ANSWER = None
ITEMS = {1000 + i: {"id": 1000 + i, "name": f"item {i}"} for i in range(3)}
SCHEMA = {
    "openapi": "3.0.3",
    "info": {"title": "catalog", "version": "1"},
    "servers": [{"url": "/api"}],
    "paths": {
        "/items": {"get": {"responses": {"200": {"description": "the items"}}}},
        "/items/{item_id}": {"get": {
            "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "one"}, "404": {"description": "none"}}}},
        "/legacy/{code}": {"get": {
            "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "one"}, "404": {"description": "none"}}}},
        "/admin/report": {"get": {"responses": {"200": {"description": "for admins"}}}},
    },
}


def app(environ, start_response):
    path = environ["PATH_INFO"]
    status, body = "404 Not Found", {"detail": "not found"}
    if path == "/api/openapi.json":
        status, body = "200 OK", SCHEMA
    elif ANSWER is not None:
        status, body = ANSWER, {"detail": "no"}
    elif environ.get("HTTP_X_API_KEY") != "sekret":
        status, body = "401 Unauthorized", {"detail": "who are you?"}
    elif path == "/api/items":
        status, body = "200 OK", list(ITEMS.values())
    elif path == "/api/admin/report":
        status, body = "403 Forbidden", {"detail": "admins only"}
    elif path.startswith("/api/items/") and path[len("/api/items/"):].isdigit():
        item = ITEMS.get(int(path[len("/api/items/"):]))
        if item is not None:
            status, body = "200 OK", item
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
'''

CATALOG_CONTRACT = '''
    app = "catalog_api:app"
    schema = "/api/openapi.json"
    headers = { X-Api-Key = "sekret" }
'''


def test_default_user_uses_existing_ids_the_base_path_and_the_headers(pytester: pytest.Pytester) -> None:
    load_project(pytester, CATALOG_CONTRACT, 'users = 3\nduration = "2s"\nthresholds = ["failures < 1%"]',
                 files={"catalog_api.py": CATALOG_API})
    result = pytester.runpytest_subprocess(*RUN)
    load = load_gate(pytester)
    assert load["status"] == "passed", load
    assert result.ret == 0
    endpoints = load["measured"]["endpoints"]
    # /api before every path; X-Api-Key sent (else 401); ids 1000.. from GET /items (1 does not exist)
    assert set(endpoints) == {"GET /items", "GET /items/{item_id}"}
    assert endpoints["GET /items/{item_id}"]["requests"] > 0 and load["measured"]["failures"] == 0
    assert load["summary"].startswith("1 thresholds met: ")
    assert f"{load['measured']['requests']} requests sent, {load['measured']['requests']} answered 2xx" in \
        load["summary"]
    # /legacy/{code}: no id is known, the made-up one answered 404: left out, said, not a failure;
    # /admin/report: the configured credentials may not call it (403): left out, said
    (legacy,) = [w for w in load["warnings"] if w.startswith("default user: left out GET /legacy/{code}")]
    assert "every URL tried answered 404 (/api/legacy/1: 404)" in legacy
    (admin,) = [w for w in load["warnings"] if w.startswith("default user: left out GET /admin/report")]
    assert "the configured credentials may not call it (/api/admin/report: 403)" in admin
    assert load["measured"]["left_out"] == {"GET /api/legacy/1": 404, "GET /api/admin/report": 403}
    assert any(w.startswith("2 URL(s) of the default user were left out of the run (not counted as load failures)")
               for w in load["warnings"])


def test_base_url_ending_in_the_base_path_is_not_doubled(pytester: pytest.Pytester) -> None:
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(CATALOG_API), namespace)  # noqa: S102 - the test's own app
    with ServedApp(namespace["app"], "wsgi", "catalog") as base_url:
        load_project(pytester, f'base_url = "{base_url}/api"\nheaders = {{ X-Api-Key = "sekret" }}',
                     'users = 2\nduration = "2s"\nthresholds = ["failures < 1%"]')
        result = pytester.runpytest_subprocess(*RUN)
    load = load_gate(pytester)
    assert load["status"] == "passed", load
    assert result.ret == 0
    assert set(load["measured"]["endpoints"]) == {"GET /items", "GET /items/{item_id}"}


@pytest.mark.parametrize("status, hint", [
    ("404 Not Found", "404: the operation is not served at this path (is the schema's base path"),
    ("401 Unauthorized", "401 means the credentials are missing, wrong or were revoked"),
    ("403 Forbidden", "403 means the credentials may not call it"),
])
def test_a_run_in_which_nothing_answered_2xx_is_an_error_whatever_the_thresholds(
        pytester: pytest.Pytester, status: str, hint: str) -> None:
    load_project(pytester, CATALOG_CONTRACT, 'users = 2\nduration = "2s"\nthresholds = ["p95 < 5s"]',
                 files={"catalog_api.py": CATALOG_API.replace("ANSWER = None", f"ANSWER = {status!r}")})
    result = pytester.runpytest_subprocess(*RUN)
    assert result.ret == 1
    load = load_gate(pytester)
    assert load["status"] == "error", load  # p95 < 5s was met: by error answers
    code = status.split()[0]
    requests = load["measured"]["requests"]
    assert requests > 0 and load["measured"]["succeeded"] == 0
    assert load["summary"].startswith(f"none of the {requests} requests answered 2xx, so the run measured errors "
                                      "only: GET /"), load["summary"]
    assert f"GET /items: {code} x" in load["summary"]
    assert hint in load["summary"]


# --------------------------------------------------------------------------
# Errors: configuration, locust missing
# --------------------------------------------------------------------------


def test_bad_configuration_is_one_clear_usage_error(pytester: pytest.Pytester) -> None:
    load_project(pytester, 'app = "small:app"',
                 'users = 0\nthresholds = ["p95 < banana"]\nthresholds_per_endpoint = { "/items" = "p95 < 1s" }')
    result = pytester.runpytest(*RUN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: backend-gates configuration has 3 problems:",
        "  [[]tool.backend-gates.load[]] thresholds: 'p95 < banana': 'banana' is not a duration*",
        "  [[]tool.backend-gates.load[]] users: 0 is out of range; expected an integer from 1 to 100000",
        "  [[]tool.backend-gates.load[]] thresholds_per_endpoint.\"/items\": not an API operation*",
    ])


def test_missing_locustfile_and_missing_target_are_usage_errors(pytester: pytest.Pytester) -> None:
    load_project(pytester, 'app = "small:app"', 'locustfile = "nope.py"')
    result = pytester.runpytest(*RUN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: [[]tool.backend-gates.load[]] locustfile: 'nope.py' does not exist*"])

    pytester.makepyprojecttoml('[tool.backend-gates.load]\nusers = 2\n')
    result = pytester.runpytest(*RUN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: [[]tool.backend-gates.load[]] needs a target: set app = * or base_url *"])


def test_locust_that_cannot_be_imported_is_an_error_naming_the_extra(pytester: pytest.Pytester,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    load_project(pytester, 'app = "small:app"', 'users = 1\nduration = "1s"', files={"small.py": SMALL_APP})
    fake = pytester.mkdir("fake")
    (fake / "locust").mkdir()
    (fake / "locust" / "__init__.py").write_text("raise ImportError(\"No module named 'locust'\")\n")
    monkeypatch.setenv("PYTHONPATH", str(fake))
    result = pytester.runpytest_subprocess(*RUN)
    assert result.ret == 1
    load = load_gate(pytester)
    assert load["status"] == "error"
    assert load["summary"] == ("locust cannot be imported (ImportError: No module named 'locust'): "
                               "pip install pytest-backend-gates[load]")


# --------------------------------------------------------------------------
# Units: statistics, endpoint matching, the default user's plan
# --------------------------------------------------------------------------


def test_percentiles_follow_locusts_histogram_rule() -> None:
    stats = EndpointStats(requests=100, total_ms=100 * 12.0, min_ms=1, max_ms=250.4,
                          histogram={1: 50, 10: 40, 100: 9, 250: 1})
    # locust's rule: the bucket below which at most p% of the requests lie (never under-reports)
    assert stats.percentile_ms(40) == 1
    assert stats.percentile_ms(50) == 10
    assert stats.percentile_ms(90) == 100
    assert stats.percentile_ms(95) == 100
    assert stats.percentile_ms(99) == 250
    assert stats.percentile_ms(100) == 250
    assert stats.metric(parse_budget("mean < 1s"), 10) == pytest.approx(0.012)
    assert stats.metric(parse_budget("max < 1s"), 10) == pytest.approx(0.2504)
    assert stats.metric(parse_budget("rps > 1"), 10) == 10
    failing = EndpointStats(requests=200, failures=3)
    assert failing.metric(parse_budget("failures < 1%"), 1) == 1.5


def test_histogram_keys_from_locusts_real_stats_may_be_floats(tmp_path: Path) -> None:
    # Locust's own StatsEntry, serialised as the runner ships it, with a bucketing that rounds
    # floats (older locust; or a custom `locust.stats.bucket_response_time`, which locust's docs
    # invite): the keys come out as '120.0'. Locust is imported in a subprocess only: it
    # monkey-patches this process with gevent otherwise.
    script = tmp_path / "stats.py"
    script.write_text(textwrap.dedent("""
        import json
        import locust.stats
        from locust.stats import RequestStats

        locust.stats.bucket_response_time = lambda response_time: round(response_time, -1)
        stats = RequestStats()
        for response_time in (4.2, 123.4, 118.9, 1234.5):
            stats.log_request("GET", "/items", response_time, 10)
        print(json.dumps(stats.get("/items", "GET").serialize()))
    """))
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True)
    entry = json.loads(done.stdout.splitlines()[-1])
    assert "120.0" in entry["response_times"]  # the shape that broke int()
    stats = EndpointStats.from_locust(entry)
    assert stats.histogram == {0.0: 1, 120.0: 2, 1230.0: 1}
    assert stats.requests == 4 and stats.percentile_ms(50) == 120.0 and stats.percentile_ms(100) == 1230.0


def test_failing_endpoints_name_statuses_whatever_the_user_class() -> None:
    from pytest_backend_gates.gates.load.failures import failing_endpoints, failing_text

    errors = [
        {"method": "GET", "name": "/items/{id}", "error": "CatchResponseError('HTTP 401')", "occurrences": 120},
        {"method": "GET", "name": "/tags", "error": "LocustBadStatusCode(code=500)", "occurrences": 3},
        {"method": "GET", "name": "/tags", "error": "HTTPError('404 Client Error: Not Found for url: /tags')",
         "occurrences": 2},
        {"method": "GET", "name": "/tags", "error": "ConnectionResetError(104, 'Connection reset by peer')",
         "occurrences": 1},
    ]
    failing = failing_endpoints(errors)
    assert failing == {"GET /items/{id}": {"401": 120},
                       "GET /tags": {"500": 3, "404": 2, "ConnectionResetError(104, 'Connection reset by peer')": 1}}
    assert failing_text(failing) == ("GET /items/{id}: 401 x120; GET /tags: 500 x3, 404 x2, "
                                     "ConnectionResetError(104, 'Connection reset by peer') x1")


def test_operations_match_locust_names_by_path_template() -> None:
    assert template_pattern("/items/{item_id}").fullmatch("/items/42")
    assert not template_pattern("/items/{item_id}").fullmatch("/items/42/tags")
    endpoints = {
        "GET /items/1": EndpointStats(requests=2, histogram={5: 2}),
        "GET /items/2?full=1": EndpointStats(requests=1, histogram={7: 1}),
        "GET http://127.0.0.1:9/items/3": EndpointStats(requests=1, histogram={9: 1}),
        "POST /items/1": EndpointStats(requests=5, histogram={1: 5}),
        "GET /items/{item_id}": EndpointStats(requests=1, histogram={3: 1}),
    }
    merged = match_endpoint("GET /items/{item_id}", endpoints)
    assert merged is not None and merged.requests == 5
    assert match_endpoint("GET /users/{id}", endpoints) is None


def test_default_user_plan_uses_examples_and_leaves_out_what_it_cannot_call() -> None:
    schema = {
        "openapi": "3.1.0",
        "servers": [{"url": "https://api.example.com/v1"}],
        "components": {"parameters": {"Limit": {"name": "limit", "in": "query", "required": True,
                                                "schema": {"type": "integer", "minimum": 5, "maximum": 50}}}},
        "paths": {
            "/items/{item_id}": {
                "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"},
                                "example": 7}],
                "get": {"parameters": [{"$ref": "#/components/parameters/Limit"},
                                       {"name": "sort", "in": "query", "schema": {"type": "string"}}]},
                "delete": {},
            },
            "/search": {"get": {"parameters": [{"name": "tags", "in": "query", "required": True,
                                                "schema": {"type": "array", "items": {"enum": ["a", "b"]}}}]}},
            "/codes/{code}": {"head": {"parameters": [{"name": "code", "in": "path", "required": True,
                                                       "schema": {"type": "string", "pattern": "^[A-Z]{3}$"}}]}},
            "/users/{user_id}": {"get": {"parameters": [{"name": "user_id", "in": "path", "required": True,
                                                         "schema": {"type": "string", "format": "uuid"}}]}},
        },
    }
    plan = build_plan(schema)
    assert [(op["method"], op["path"], op["urls"]) for op in plan.operations] == [
        ("GET", "/items/{item_id}", ["/v1/items/7?limit=5"]),
        ("GET", "/search", ["/v1/search?tags=a"]),
        ("GET", "/users/{user_id}", ["/v1/users/00000000-0000-4000-8000-000000000001"]),
    ]
    # without a client to ask, no path value is known to exist: all are marked made up
    assert [op["invented"] for op in plan.operations] == [["item_id"], [], ["user_id"]]
    assert plan.unsafe == 1
    assert plan.skipped == ["HEAD /codes/{code}: no value can be made for required parameter 'code'; "
                            "add an `example` to it"]


def test_default_user_plan_of_the_example_catalog() -> None:
    import sys

    sys.path.insert(0, str(EXAMPLES / "load"))
    try:
        import catalog_fixed
    finally:
        sys.path.remove(str(EXAMPLES / "load"))
    plan = build_plan(catalog_fixed.app.openapi())
    assert [op["urls"] for op in plan.operations] == [["/products/1"], ["/search?q=e"], ["/summary"]]


def test_load_examples_folder_has_both_twins() -> None:
    names = {p.name for p in Path(EXAMPLES, "load").glob("*.py")}
    assert {"catalog_buggy.py", "catalog_fixed.py"} <= names


def test_remote_worker_keys_are_validated() -> None:
    import tomllib

    from pytest_backend_gates.config import ConfigError, parse_section
    from pytest_backend_gates.gates.registry import table_parsers

    section = tomllib.loads('[tool.backend-gates.load]\nremote_workers = 2\nmaster_bind = "0.0.0.0"\n')
    with pytest.raises(ConfigError) as info:
        parse_section(section["tool"]["backend-gates"], Path("pyproject.toml"), table_parsers(), {})
    assert info.value.messages == [
        "[tool.backend-gates.load] master_bind: '0.0.0.0' is not HOST:PORT; expected e.g. '0.0.0.0:5557'",
        "[tool.backend-gates.load] remote_workers: 2 needs a locustfile: workers on other machines run "
        "`locust -f <locustfile> --worker --master-host <this machine>`",
    ]
    section = tomllib.loads('[tool.backend-gates.load]\nlocustfile = "l.py"\nremote_workers = 2\n'
                            'master_bind = "0.0.0.0:5557"\nmargin = "3s"\n')
    settings = parse_section(section["tool"]["backend-gates"], Path("pyproject.toml"), table_parsers(), {}).settings("load")
    assert (settings.remote_workers, settings.master_bind, settings.margin) == (2, "0.0.0.0:5557", 3.0)


def test_the_default_user_leaves_excluded_operations_out() -> None:
    from pytest_backend_gates.gates.load.plan import build_plan

    schema = {"openapi": "3.0.3", "servers": [{"url": "/api"}], "paths": {
        "/items": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/auth/session": {"get": {"responses": {"200": {"description": "ok"}}}},
    }}
    plan = build_plan(schema, excluded=lambda method, path: f"{method.upper()} {path}" == "GET /auth/session")
    assert [(entry["method"], entry["urls"]) for entry in plan.operations] == [("GET", ["/api/items"])]


def test_load_history_windows_locust_counts_and_the_runner_samples() -> None:
    start = 1_700_000_000.4  # epoch seconds when the users started; locust counts per whole second
    total = {"num_reqs_per_sec": {"1700000000": 3, "1700000001": 10, "1700000002": 12, "1700000004": 5},
             "num_fail_per_sec": {"1700000001": 2}}
    timeline = [[1.0, 2, 40], [2.0, 5, 55], [3.01, 5, None], [4.0, 5, 61]]
    assert load_history(total, timeline, start, 1.0) == {
        "step_s": 1.0, "t_s": [1.0, 2.0, 3.0, 4.0, 5.0],
        "rps": [3.0, 10.0, 12.0, 0.0, 5.0], "failures_per_s": [0.0, 2.0, 0.0, 0.0, 0.0],
        "users": [2, 5, 5, 5, None], "p95_ms": [40, 55, None, 61, None]}
    assert load_history(total, timeline, None, 1.0) == {}  # a result without timing: no history
    assert history_step(15) == 1.0 and history_step(600) == 10.0
    long = load_history({"num_reqs_per_sec": {str(int(start) + s): 1 for s in range(0, 900)}}, [], start,
                        history_step(900))
    assert len(long["t_s"]) == HISTORY_POINTS and long["rps"][0] == 1.0
