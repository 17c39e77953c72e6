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


# --------------------------------------------------------------------------
# What `app` may be (issue 12, point 11)
# --------------------------------------------------------------------------

APP_MODULE = '''
import functools
from fastapi import FastAPI
from flask import Flask


def plain():
    return None


def create_app(config=None):
    return FastAPI()


def make_none():
    return None


def wsgi(environ, start_response):
    start_response("200 OK", [])
    return [b""]


async def asgi(scope, receive, send):
    pass


async def async_one_arg(scope):
    pass


def sync_three(scope, receive, send):
    pass


class Callable:
    def __call__(self, environ, start_response):
        return wsgi(environ, start_response)


class NotCallableWithArgs:
    def __call__(self):
        pass


fastapi_class = FastAPI
fastapi_app = FastAPI()
flask_app = Flask(__name__)
none = None
number = 42
text = "app"
callable_instance = Callable()
not_an_app_instance = NotCallableWithArgs()
partial_wsgi = functools.partial(wsgi)
anything = lambda *args, **kwargs: None  # noqa: E731 - cannot be told apart: taken
'''


@pytest.fixture
def apps_module(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "i12_apps.py").write_text(APP_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "i12_apps"


@pytest.mark.parametrize("attribute, kind", [
    ("fastapi_app", "asgi"),
    ("asgi", "asgi"),
    ("flask_app", "wsgi"),
    ("wsgi", "wsgi"),
    ("callable_instance", "wsgi"),
    ("partial_wsgi", "wsgi"),
    ("anything", "wsgi"),
    ("create_app()", "asgi"),
])
def test_applications_are_taken(apps_module: str, attribute: str, kind: str) -> None:
    from pytest_backend_gates.service.target import is_asgi, load_app

    app = load_app(f"{apps_module}:{attribute}")
    assert ("asgi" if is_asgi(app) else "wsgi") == kind


@pytest.mark.parametrize("attribute, says", [
    ("plain", "is the function plain() (if it builds the app, write 'i12_apps:plain()' so that it is called)"),
    ("create_app", "is the function create_app(config=None) (if it builds the app, write 'i12_apps:create_app()'"),
    ("make_none()", "the factory returned None"),
    ("none", "is None"),
    ("number", "is 42"),
    ("text", "is 'app'"),
    ("fastapi_class", "is the class FastAPI (an instance of it may be: 'i12_apps:fastapi_class()' creates one)"),
    ("Callable", "is the class Callable"),
    ("async_one_arg", "is the function async_one_arg(scope): async, but not (scope, receive, send)"),
    ("sync_three", "is the function sync_three(scope, receive, send) (an ASGI app is async def)"),
    ("not_an_app_instance", "is a NotCallableWithArgs called with ()"),
    ("functools", "is the module 'functools'; name the application in it"),
])
def test_what_is_not_an_application_is_said(apps_module: str, attribute: str, says: str) -> None:
    from pytest_backend_gates.service.target import TargetError, load_app

    with pytest.raises(TargetError) as raised:
        load_app(f"{apps_module}:{attribute}")
    message = str(raised.value)
    assert message.startswith(f"app = '{apps_module}:{attribute}' {says}"), message
    assert "not an ASGI or WSGI application; expected an ASGI app (async def app(scope, receive, send)" in message
    assert "or a WSGI app (app(environ, start_response)" in message


def test_an_ordinary_function_as_app_is_an_error_naming_it(pytester: pytest.Pytester) -> None:
    """It failed with `TypeError: cannot unpack non-iterable NoneType object` (issue 12, point 11)."""
    pytester.makepyfile(myapp="def app():\n    return None\n", test_api='''
        def test_api(api):
            api.get("/")
    ''')
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "myapp:app"
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 1, output
    assert "cannot unpack" not in output and "Traceback" not in output
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "error"
    assert "app = 'myapp:app' is the function app() (if it builds the app, write 'myapp:app()' so that it is " \
           "called), not an ASGI or WSGI application" in contract["summary"], contract
    result.stdout.fnmatch_lines(["api fixture: [[]tool.backend-gates.contract[]] app = 'myapp:app' is the function app()*"])
    assert "During handling" not in output


@pytest.mark.parametrize("schema, extra, refused", [
    ("http://127.0.0.1:8000/openapi.json", {}, False),
    ("http://127.0.0.2/openapi.json", {}, False),
    ("http://localhost:8000/openapi.json", {}, False),
    ("http://[::1]:8000/openapi.json", {}, False),
    ("/openapi.json", {}, False),
    ("openapi.yaml", {}, False),
    ("http://10.99.0.1:8000/openapi.json", {}, True),
    ("https://api.example.com/openapi.json", {}, True),  # a name is not resolved: not loopback
    ("http://localhost.example.com/openapi.json", {}, True),
    ("http://10.99.0.1:8000/openapi.json", {"allow_remote": True}, False),
    ("http://10.99.0.1:8000/openapi.json", {"app": None, "base_url": "http://127.0.0.1:8000"}, True),
])
def test_a_schema_url_on_another_host_needs_allow_remote(schema: str, extra: dict[str, Any], refused: bool) -> None:
    from pathlib import Path

    from pytest_backend_gates.config import ConfigError, parse_section
    from pytest_backend_gates.gates.registry import table_parsers

    table = {key: value for key, value in {"app": "m:app", "schema": schema, **extra}.items() if value is not None}
    if not refused:
        parse_section({"contract": table}, Path("pyproject.toml"), table_parsers(), {})
        return
    with pytest.raises(ConfigError) as raised:
        parse_section({"contract": table}, Path("pyproject.toml"), table_parsers(), {})
    assert raised.value.messages == [
        f"[tool.backend-gates.contract] schema: {schema!r} is not on a loopback host (127.0.0.0/8, ::1 or localhost): "
        "the schema is fetched from it, so it must be on this machine unless you set allow_remote = true (the "
        "generated requests still go to app or base_url, never to the schema's host)"]
