"""The security gate's active probes on services as they are deployed (issue 11): under the schema's
base path, behind credentials, with apps whose exceptions reach the client, and a probe that
crashes or tests nothing never lets the gate pass."""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import gate, read_report

# How the finding states the injection probe's evidence (the values as Python reprs).
TWIN_ANSWERED = "\"x''\" was answered 200"
QUOTE_ANSWERED_500 = "\"x'\" was answered 500"
# GET /notes?q= pastes q into the SQL (error-based injection): `x'` breaks the query, `x''` does
# not. The failure is a bare 500 with no SQL text, so only the injection probe's quote pair sees it.
FASTAPI_NOTES = '''
import sqlite3

from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse

app = FastAPI(openapi_url=None)
DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("CREATE TABLE notes (title TEXT)")
DB.execute("INSERT INTO notes VALUES ('hello')")


@app.middleware("http")
async def nosniff(request, call_next):
    response = await call_next(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def token(authorization: str = Header("")) -> None:
    if {check_token} and authorization != "Bearer t0k":
        raise HTTPException(401, "not authenticated")


@app.get("/api/notes", dependencies=[Depends(token)])
def notes(q: str = ""):
    try:
        rows = DB.execute(f"SELECT title FROM notes WHERE title LIKE '%{{q}}%'").fetchall()
    except sqlite3.Error:
        return JSONResponse({{"detail": "search failed"}}, status_code=500)
    return [row[0] for row in rows]


@app.get("/api/health")
def health():
    return {{"status": "ok"}}
'''
FLASK_NOTES = '''
import sqlite3

from flask import Flask, jsonify, request

app = Flask(__name__)
DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("CREATE TABLE notes (title TEXT)")
DB.execute("INSERT INTO notes VALUES ('hello')")


@app.after_request
def nosniff(response):
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@app.get("/api/notes")
def notes():
    if {check_token} and request.headers.get("Authorization") != "Bearer t0k":
        return jsonify(detail="not authenticated"), 401
    q = request.args.get("q", "")
    try:
        rows = DB.execute(f"SELECT title FROM notes WHERE title LIKE '%{{q}}%'").fetchall()
    except sqlite3.Error:
        return jsonify(detail="search failed"), 500
    return jsonify([row[0] for row in rows])


@app.get("/api/health")
def health():
    return jsonify(status="ok")
'''


def notes_schema(base: str = "/api", secured: bool = False) -> str:
    notes = {"get": {
        "parameters": [{"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 20}}],
        "responses": {"200": {"description": "titles", "content": {"application/json": {
            "schema": {"type": "array", "items": {"type": "string"}}}}},
                      "401": {"description": "no token"}, "500": {"description": "failed"}}}}
    if secured:
        notes["get"]["security"] = [{"bearer": []}]
    health = {"get": {"responses": {"200": {"description": "up", "content": {"application/json": {
        "schema": {"type": "object"}}}}}}}
    schema = {"openapi": "3.0.3", "info": {"title": "notes", "version": "1"}, "servers": [{"url": base}],
              "paths": {"/notes": notes, "/health": health},
              "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}
    return json.dumps(schema, indent=1)


def probe_project(pytester: pytest.Pytester, app: str, schema: str, contract: str = "", security: str = "") -> None:
    pytester.makepyfile(service=app)
    (pytester.path / "openapi.json").write_text(schema)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "service:app"
        schema = "openapi.json"
        max_examples = 5
        stateful = false
        exclude_checks = ["not_a_server_error", "status_code_conformance", "ignored_auth"]
    """) + textwrap.dedent(contract) + "[tool.backend-gates.security]\n" + textwrap.dedent(security))


def run_security(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider", *args)
    return result, gate(read_report(pytester), "security")


@pytest.mark.parametrize("app", [FASTAPI_NOTES, FLASK_NOTES], ids=["asgi", "wsgi"])
def test_probes_use_the_schemas_base_path(pytester: pytest.Pytester, app: str) -> None:
    """servers: [{url: /api}] (Connexion's layout): the probes send to /api/notes, not /notes (404)."""
    probe_project(pytester, app.format(check_token=False), notes_schema("/api"))
    result, security = run_security(pytester)
    assert security["status"] == "failed", security
    [sqli] = [v for v in security["violations"] if v["check"] == "sqli-error"]
    assert sqli["where"] == "GET /notes"
    assert TWIN_ANSWERED in sqli["message"]
    assert sqli["reproduce"].startswith("curl ") and "http://127.0.0.1:8000/api/notes?q=x%27" in sqli["reproduce"]
    probes = security["measured"]["probes"]
    assert "404" not in probes["injection"]["statuses"] and probes["injection"]["requests"] >= 4
    assert probes["cors"]["statuses"] == {"200": 1}
    result.stdout.fnmatch_lines(["FAILED backend-gates::security[[]probe injection[]]*"])


@pytest.mark.parametrize("app", [FASTAPI_NOTES, FLASK_NOTES], ids=["asgi", "wsgi"])
@pytest.mark.parametrize("case", ["no credentials", "base path not served"])
def test_probes_that_reach_no_handler_are_an_error(pytester: pytest.Pytester, app: str, case: str) -> None:
    """Every probe answer a 401 (the configured headers lack the token) or a 404 (the app is not
    served under the schema's base path): the probes tested nothing, which is no pass."""
    if case == "no credentials":
        probe_project(pytester, app.format(check_token=True), notes_schema("/api", secured=True))
    else:
        probe_project(pytester, app.format(check_token=False), notes_schema("/v2"))
    result, security = run_security(pytester)
    assert result.ret == 1
    assert security["status"] == "error", security
    if case == "no credentials":  # GET /health needs none: the CORS probe reached it
        assert security["summary"].startswith("the injection probe reached no handler: all 3 of its requests were "
                                              "answered 401 x3. 401/403: give the contract gate credentials"), security
    else:
        assert security["summary"].startswith("every security probe request was answered 404 x5: the probes "
                                              "reached no handler. 404: the paths were not found"), security
        assert "servers[0].url" in security["summary"]
    result.stdout.fnmatch_lines(["FAILED backend-gates::security[[]probe injection[]] - the injection probe reached*"])


def test_a_crashed_probe_makes_the_gate_error(pytester: pytest.Pytester) -> None:
    probe_project(pytester, FASTAPI_NOTES.format(check_token=False), notes_schema("/api"),
                  security='rules = { sqli-error = "ignore" }\n')
    pytester.makeconftest("""
        from pytest_backend_gates.gates.security import probes as security_probes

        def broken(self):
            raise KeyError("a probe bug")

        security_probes.Prober.cors = broken
    """)
    result, security = run_security(pytester)
    assert result.ret == 1
    assert security["status"] == "error", security
    assert security["summary"].startswith("the cors probe crashed: KeyError: 'a probe bug' (at conftest.py:")
    assert security["measured"]["probes"]["cors"]["outcome"] == "crashed"
    assert security["measured"]["probes"]["injection"]["outcome"] == "ran"  # the other probes still ran
    result.stdout.fnmatch_lines(["FAILED backend-gates::security[[]probe cors[]] - the cors probe crashed*"])


# Flask in testing mode (PROPAGATE_EXCEPTIONS): the app's own exception reaches the client
# instead of a 500. A raw ASGI app that raises before answering does the same through
# Starlette's TestClient.
FLASK_PROPAGATING = '''
import sqlite3

from flask import Flask, jsonify, request

app = Flask(__name__)
app.config["PROPAGATE_EXCEPTIONS"] = True
DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("CREATE TABLE notes (title TEXT)")


@app.after_request
def nosniff(response):
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@app.get("/notes")
def notes():
    q = request.args.get("q", "")
    {always}
    return jsonify([r[0] for r in DB.execute(f"SELECT title FROM notes WHERE title LIKE '%{{q}}%'")])


@app.get("/health")
def health():
    return jsonify(status="ok")
'''
ASGI_RAISING = '''
import json
import sqlite3
from urllib.parse import parse_qs

DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("CREATE TABLE notes (title TEXT)")


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    q = parse_qs(scope["query_string"].decode()).get("q", [""])[0]
    if scope["path"] == "/notes":
        {always}
        body = [r[0] for r in DB.execute(f"SELECT title FROM notes WHERE title LIKE '%{{q}}%'")]
    elif scope["path"] == "/health":
        body = {{"status": "ok"}}
    else:
        body = {{"detail": "not found"}}
    await send({{"type": "http.response.start", "status": 200 if scope["path"] != "/404" else 404,
                "headers": [(b"content-type", b"application/json"), (b"x-content-type-options", b"nosniff")]}})
    await send({{"type": "http.response.body", "body": json.dumps(body).encode()}})
'''


@pytest.mark.parametrize("app", [FLASK_PROPAGATING, ASGI_RAISING], ids=["wsgi-propagating", "asgi-raising"])
def test_a_request_that_raises_is_recorded_and_the_probe_goes_on(pytester: pytest.Pytester, app: str) -> None:
    probe_project(pytester, app.format(always="pass"), notes_schema("/"))
    result, security = run_security(pytester)
    assert security["status"] == "failed", security  # a finding, not a crashed probe
    [sqli] = [v for v in security["violations"] if v["check"] == "sqli-error"]
    assert sqli["where"] == "GET /notes" and TWIN_ANSWERED in sqli["message"], sqli
    # the app's exception, or the 500 a server makes of it (the WSGI wrapper's job)
    assert "made the app raise OperationalError: unrecognized token" in sqli["message"] \
        or QUOTE_ANSWERED_500 in sqli["message"], sqli
    assert "q=x%27" in sqli["reproduce"]
    injection = security["measured"]["probes"]["injection"]
    assert injection["outcome"] == "ran" and injection["requests"] == 4  # x', tautology, XSS, then x''
    if injection["raised"]:
        assert any("request of the injection probe raised" in w and "GET /notes: OperationalError" in w
                   for w in security["warnings"]), security["warnings"]
    result.stdout.fnmatch_lines(["FAILED backend-gates::security[[]probe injection[]] - 1 security finding*"])


class DroppingHandler(BaseHTTPRequestHandler):
    """GET /notes?q= of a server whose worker dies on some input: the connection is closed without
    an answer, so sending the request raises (httpx.RemoteProtocolError) in the client."""

    drop: Callable[[str], bool] = staticmethod(lambda q: False)
    server_version, sys_version = "notes", ""  # no version banner: not what these tests are about

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        q = parse_qs(url.query).get("q", [""])[0]
        if url.path == "/notes" and self.drop(q):
            self.close_connection = True
            return
        body = json.dumps([] if url.path == "/notes" else {"status": "ok"}).encode()
        self.send_response(200 if url.path in ("/notes", "/health") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def dropping_server(drop: Callable[[str], bool]) -> Iterator[str]:
    handler = type("Handler", (DroppingHandler,), {"drop": staticmethod(drop)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def served_project(pytester: pytest.Pytester, base_url: str) -> None:
    (pytester.path / "openapi.json").write_text(notes_schema("/"))
    pytester.makepyprojecttoml(textwrap.dedent(f"""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        base_url = "{base_url}"
        schema = "openapi.json"
        max_examples = 5
        stateful = false
        checks = ["not_a_server_error"]
        [tool.backend-gates.security]
    """))


def test_a_dropped_connection_is_recorded_and_the_probe_goes_on(pytester: pytest.Pytester) -> None:
    with dropping_server(lambda q: q.endswith("x'")) as base_url:
        served_project(pytester, base_url)
        result, security = run_security(pytester)
    [sqli] = [v for v in security["violations"] if v["check"] == "sqli-error"]
    assert "made the app raise RemoteProtocolError: Server disconnected without sending a response" \
        in sqli["message"] and TWIN_ANSWERED in sqli["message"], sqli
    assert f"curl -X GET '{base_url}/notes?q=x%27'" == sqli["reproduce"]
    injection = security["measured"]["probes"]["injection"]
    assert injection == {"requests": 4, "statuses": {"200": 3}, "raised": 1, "outcome": "ran"}, injection
    [raised] = [w for w in security["warnings"] if "of the injection probe raised" in w]
    assert raised.startswith("1 request of the injection probe raised instead of being answered (a server answers "
                             "500): GET /notes: RemoteProtocolError: Server disconnected without sending a response")
    assert security["status"] == "failed", security  # the finding; no probe crashed


def test_a_probe_whose_every_request_raised_is_an_error(pytester: pytest.Pytester) -> None:
    with dropping_server(lambda q: True) as base_url:
        served_project(pytester, base_url)
        result, security = run_security(pytester)
    assert result.ret == 1
    assert security["status"] == "error", security
    assert security["summary"].startswith(
        "every one of the 4 requests of the injection probe raised instead of being answered, e.g. GET /notes: "
        "RemoteProtocolError: Server disconnected without sending a response. (reproduce: curl -X GET "
        f"'{base_url}/notes?q=x%27')"), security["summary"]
    # the CORS probe went on to the next GET operation
    assert security["measured"]["probes"]["cors"] == {"requests": 2, "statuses": {"200": 1}, "raised": 1,
                                                      "outcome": "ran"}
    result.stdout.fnmatch_lines(["FAILED backend-gates::security[[]probe injection[]] - every one of the 4 requests*"])


JSON_ONLY = '''
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

app = FastAPI()


@app.get("/items")
def items(q: str = "") -> list[str]:
    return [q] if q == "a" else []


@app.get("/page", response_class=HTMLResponse)
def page() -> str:
    return "<h1>hello</h1>"
'''
# What a server sends when the app crashed: nothing in it a browser could render.
BARE_TEXT = '''

@app.get("/status", responses={503: {"description": "down"}})
def status():
    from fastapi.responses import PlainTextResponse

    return PlainTextResponse("Service Unavailable", status_code=503)
'''


@pytest.mark.parametrize(("html", "text", "configured", "fails"), [
    (False, False, False, False),  # a JSON-only API, the default baseline: a warning
    (False, True, False, False),  # and a bare text answer: nothing to sniff either
    (False, False, True, True),  # required_headers configured: a failure, as configured
    (True, False, False, True),  # an HTML answer a browser renders: a failure
])
def test_header_missing_warns_on_json_only_apis(pytester: pytest.Pytester, html: bool, text: bool, configured: bool,
                                                fails: bool) -> None:
    app = (JSON_ONLY if html else JSON_ONLY.split("\n\n@app.get(\"/page\"")[0]) + (BARE_TEXT if text else "")
    pytester.makepyfile(service=app)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "service:app"
        max_examples = 5
        stateful = false
        [tool.backend-gates.security]
    """) + ('required_headers = ["X-Content-Type-Options"]\n' if configured else ""))
    result, security = run_security(pytester, "-p", "no:randomly")
    missing = [v for v in security["violations"] if v["check"] == "header-missing"]
    if fails:
        assert security["status"] == "failed" and len(missing) == 1, security
        assert missing[0]["where"] == ("GET /page" if html else "GET /items")
        assert missing[0]["reproduce"].startswith("curl -X ")
    else:
        assert security["status"] == "passed", security
        [warning] = [w for w in security["warnings"] if "[header-missing]" in w]
        assert "every answer without it was JSON or bare text" in warning and "required_headers" in warning
        assert "reproduce: curl -X " in warning


# Real response models nest others (a user and its items): schemathesis then hands the response
# schema over as {"$ref": "#/x-bundled/...", "x-bundled": {...}}, and marks the request's readOnly
# properties {"not": {}}. POST /register keeps every field it is sent ("extra=allow"), is_admin
# included: only the answer's schema names is_admin.
MASS_ASSIGNMENT_NESTED = '''
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

app = FastAPI()
USERS: list[dict] = []


class Item(BaseModel):
    id: int
    name: str


class UserOut(BaseModel):
    id: int
    email: str
    is_admin: bool
    items: list[Item]


class Signup(BaseModel):
    model_config = ConfigDict(extra="allow")  # the defect: every field sent is kept
    email: str = Field(max_length=40)


@app.middleware("http")
async def nosniff(request, call_next):
    response = await call_next(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@app.post("/register", status_code=201, response_model=UserOut)
def register(body: Signup):
    user = {"is_admin": False, "items": [], **body.model_dump(), "id": len(USERS) + 1}
    USERS.append(user)
    return user
'''


def test_mass_assignment_probe_reads_nested_response_models(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(service=MASS_ASSIGNMENT_NESTED)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "service:app"
        max_examples = 5
        stateful = false
        [tool.backend-gates.security]
    """))
    result, security = run_security(pytester, "-k", "probe")
    [finding] = [v for v in security["violations"] if v["check"] == "mass-assignment"]
    assert finding["where"] == "POST /register" and "'is_admin' (not a field of the request body" in \
        finding["message"] and "is_admin=true" in finding["message"], finding
    assert security["measured"]["probes"]["mass-assignment"]["outcome"] == "ran"


LOGIN_BEHIND_GLOBAL_SECURITY = '''
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

app = FastAPI(openapi_url=None)


class Login(BaseModel):
    username: str
    password: str


@app.middleware("http")
async def nosniff(request, call_next):
    response = await call_next(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@app.post("/login")
def login(body: Login):
    raise HTTPException(401, "wrong username or password")


@app.get("/items/{item_id}")
def item(item_id: int, authorization: str = Header("")):
    if authorization != "Bearer t0k":
        raise HTTPException(401, "not authenticated")
    return {"id": item_id}
'''


def test_a_login_refusing_the_probes_password_reached_its_handler(pytester: pytest.Pytester) -> None:
    """Credentials configured, every operation secured but the login (`security: []`): the login's
    401s are its answer to a wrong password, not a refusal before the handler (no false error)."""
    body = {"type": "object", "required": ["username", "password"],
            "properties": {"username": {"type": "string", "maxLength": 20},
                           "password": {"type": "string", "maxLength": 20}}}
    schema = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "security": [{"bearer": []}],
              "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
              "paths": {"/login": {"post": {"security": [], "requestBody": {"required": True, "content": {
                  "application/json": {"schema": body}}}, "responses": {"401": {"description": "wrong"}}}},
                        "/items/{item_id}": {"get": {"parameters": [{"name": "item_id", "in": "path", "required": True,
                                                                     "schema": {"type": "integer", "minimum": 1}}],
                                                     "responses": {"200": {"description": "the item"},
                                                                   "401": {"description": "no token"}}}}}}
    probe_project(pytester, LOGIN_BEHIND_GLOBAL_SECURITY, json.dumps(schema),
                  contract='headers = { Authorization = "Bearer t0k" }\n')
    result, security = run_security(pytester, "-k", "probe")
    injection = security["measured"]["probes"]["injection"]
    assert injection["statuses"] == {"401": 6}, injection  # the login's own answers
    assert security["status"] == "passed", security


def test_probes_without_a_schema_make_the_gate_error(pytester: pytest.Pytester) -> None:
    """The contract gate could not load the schema: the passive rules judged the api fixture's
    answers, but no probe could run, which is not a pass (it was on django_drf's stack)."""
    pytester.makepyfile(service=FASTAPI_NOTES.format(check_token=False), test_notes="""
        def test_notes(api):
            assert api.get("/api/notes").status_code == 200
    """)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "service:app"
        [tool.backend-gates.security]
    """))
    result, security = run_security(pytester)
    assert result.ret == 1
    assert security["status"] == "error", security
    assert security["summary"] == ("the security probes sent no request (auth, cors, injection, mass-assignment: "
                                   "the contract gate could not load the schema (see its error))")
    assert security["measured"]["responses"] == 1


def test_without_the_contract_gate_the_summary_says_the_checks_were_passive(pytester: pytest.Pytester) -> None:
    """Security alone judges the api fixture's answers; no probe runs, which the summary says (a
    pass on the answers it saw, not on probes that never ran)."""
    pytester.makepyfile(service=FASTAPI_NOTES.format(check_token=False), test_notes="""
        def test_notes(api):
            assert api.get("/api/notes").status_code == 200
    """)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "service:app"
        [tool.backend-gates.security]
    """))
    result = pytester.runpytest("--backend-gates=security", "-p", "no:cacheprovider")
    security = gate(read_report(pytester, "gates.json"), "security")
    assert security["status"] == "passed", security
    assert security["summary"] == ("1 responses checked, passive checks only (the active probes need the "
                                   "contract gate), no failing finding (1 warned)"), security
    assert security["measured"]["probe_requests"] == 0
    assert result.ret == 0
