"""Where the HTTP gates send their requests, and what `app` may be (issue 12, points 1 and 11).

Every request goes to the configured app or to a base_url that passed the loopback guard: a
schema URL only says where the document is. Runs in subprocesses (see test_contract_gate.py)."""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import gate, read_report

# /ratio?parts=0 raises ZeroDivisionError: a 500 only the in-process app can give.
RATIO_APP = '''
from fastapi import FastAPI, Query
from pydantic import BaseModel

app = FastAPI()
ITEMS: list[str] = []


class Item(BaseModel):
    name: str


@app.post("/items", status_code=201)
def create(item: Item) -> dict[str, int]:
    ITEMS.append(item.name)
    return {"id": len(ITEMS)}


@app.get("/ratio")
def ratio(total: int = Query(ge=0, le=1000), parts: int = Query(ge=0, le=100)) -> dict[str, float]:
    return {"ratio": total / parts}
'''


def _openapi_document() -> bytes:
    namespace: dict[str, Any] = {}
    exec(RATIO_APP, namespace)  # the app's own schema, so that fuzzing it is meaningful
    return json.dumps(namespace["app"].openapi()).encode()


class SchemaServer:
    """A loopback server that serves the schema at /openapi.json and records every request."""

    def __init__(self) -> None:
        document = _openapi_document()
        hits = self.hits = []  # type: list[str]

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                hits.append(f"{self.command} {self.path}")
                if self.path == "/openapi.json" and self.command == "GET":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(document)))
                    self.end_headers()
                    self.wfile.write(document)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/openapi.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def beyond_the_document(self) -> list[str]:
        return [hit for hit in self.hits if hit != "GET /openapi.json"]


@pytest.fixture
def schema_server() -> Iterator[SchemaServer]:
    server = SchemaServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


USER_TESTS = '''
def test_api_fixture(api):
    assert api.get("/ratio", params={"total": 10, "parts": 4}).json() == {"ratio": 2.5}


def test_check_endpoint(input_validation):
    input_validation.check_endpoint("GET /ratio", max_examples=10)
'''


def test_schema_url_is_only_where_the_document_is_requests_go_to_the_app(
        pytester: pytest.Pytester, schema_server: SchemaServer) -> None:
    """The gates fuzzed the schema URL's host instead of the in-process app (issue 12, point 1)."""
    pytester.makepyfile(ratioapp=RATIO_APP, test_user=USER_TESTS)
    pytester.makepyprojecttoml(textwrap.dedent(f"""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "ratioapp:app"
        schema = "{schema_server.url}"
        max_examples = 10
        stateful = false
        [tool.backend-gates.security]
        [tool.backend-gates.validation]
        [tool.backend-gates.latency]
        samples = 5
        budgets = {{ "GET /ratio" = "max < 60s" }}
        [tool.backend-gates.race]
        auto = true
        threads = 2
        rounds = 2
        [tool.backend-gates.load]
        users = 2
        duration = "1s"
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert schema_server.hits, "the schema document was never fetched"
    assert schema_server.beyond_the_document() == [], result.stdout.str()
    report = read_report(pytester)
    contract = gate(report, "contract")
    assert contract["measured"]["cases"] > 0
    # The crash only the app itself can have: the contract requests reached it.
    [crash] = [v for v in contract["violations"] if v["check"] == "not_a_server_error"]
    assert crash["where"] == "GET /ratio" and "ZeroDivisionError" in crash["message"], crash
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1  # the api fixture's test, against the app
    for name in ("latency", "race", "load"):  # each exercised the app (through the same guard)
        assert gate(report, name)["status"] in ("passed", "failed"), gate(report, name)


def test_schema_url_on_another_host_is_refused_before_any_connection(pytester: pytest.Pytester) -> None:
    # A plugin loaded before the configuration is read: any connection attempt is written down.
    pytester.makepyfile(noconnect='''
        import socket

        _connect = socket.socket.connect


        def connect(self, address):
            with open("connections.log", "a") as log:
                log.write(repr(address) + "\\n")
            raise OSError("no connection allowed in this test")


        socket.socket.connect = connect
        socket.socket.connect_ex = connect
    ''', ratioapp=RATIO_APP)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates.contract]
        app = "ratioapp:app"
        schema = "http://192.0.2.10:8000/openapi.json"
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "noconnect", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines(["*[[]tool.backend-gates.contract[]] schema: 'http://192.0.2.10:8000/openapi.json' "
                                 "is not on a loopback host*allow_remote = true*"])
    assert "Traceback" not in result.stderr.str()
    assert not (pytester.path / "connections.log").exists()
