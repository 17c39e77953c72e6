"""In-process serving (serving.py) and the shared schema loading, end to end.

What real services showed (issue 11): an app exception escaping a WSGI app (Flask's
PROPAGATE_EXCEPTIONS) killed the gate's request instead of being the 500 a server
sends; httpx put unicode above U+00FF into PATH_INFO; a 500 was attributed to an
unrelated response; a schema behind auth could not be loaded; operations that
destroy the gates' own credentials could not be kept away.
"""

from __future__ import annotations

import textwrap

import pytest
from conftest import gate, read_report

FLASK_APP = '''
from flask import Flask, jsonify, request

app = Flask(__name__)
app.config["PROPAGATE_EXCEPTIONS"] = True  # testing mode: Flask re-raises instead of answering 500
SPEC = {
    "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
    "paths": {
        "/notes/{name}": {"get": {
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok"}, "404": {"description": "none"}}}},
    },
}


@app.get("/openapi.json")
def spec():
    if request.headers.get("Authorization") != "Bearer s3cret-schema-token":
        return jsonify(detail="not authenticated"), 401
    return jsonify(SPEC)


@app.get("/notes/<name>")
def note(name):
    if any(c.isdigit() for c in name):
        raise LookupError("no shelf numbered " + name)
    return jsonify(name=name)
'''

FLASK_TESTS = '''
def test_unicode_path_and_crash(api):
    # U+20AC in the path: a server hands Werkzeug its UTF-8 bytes as latin-1 (PEP 3333)
    assert api.get("/notes/caf\\u00e9-\\u20ac").json() == {"name": "caf\\u00e9-\\u20ac"}
    answer = api.get("/notes/shelf-9")
    assert answer.status_code == 500
    assert answer.text == "Internal Server Error"
'''


def flask_project(pytester: pytest.Pytester, contract: str) -> None:
    pytester.makepyfile(notesapp=FLASK_APP, test_notes=FLASK_TESTS)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "notesapp:app"
        max_examples = 15
        stateful = false
    """) + textwrap.dedent(contract))


def test_wsgi_app_exceptions_are_500s_named_by_the_apps_frame(pytester: pytest.Pytester,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEMA_TOKEN", "s3cret-schema-token")
    flask_project(pytester, 'headers = { Authorization = "Bearer ${SCHEMA_TOKEN}" }\n'
                            'checks = ["not_a_server_error"]\n')
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    # The api test passed: the crash was a 500 to the client, the unicode path reached the app.
    result.assert_outcomes(passed=1, failed=1)
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "failed", contract
    [violation] = contract["violations"]
    assert violation["where"] == "GET /notes/{name}"
    assert "the app raised LookupError: no shelf numbered " in violation["message"]
    assert "notesapp.py:" in violation["message"] and "in note" in violation["message"]
    assert violation["details"]["exception"] == "LookupError"
    # Never the plugin's own frame.
    assert "serving.py" not in violation["message"] and "pytest_backend_gates" not in violation["message"]
    assert "s3cret-schema-token" not in result.stdout.str() + (pytester.path / "gates.json").read_text()


def test_a_schema_behind_auth_is_fetched_with_the_configured_headers(pytester: pytest.Pytester) -> None:
    flask_project(pytester, "")  # no headers: the schema answers 401
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "error"
    assert "could not load the OpenAPI schema" in contract["summary"]
    assert "401" in contract["summary"] and "set [tool.backend-gates.contract] headers" in contract["summary"]


ASGI_APP = '''
import contextlib
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

STARTS = []
STORE = {}


@contextlib.asynccontextmanager
async def lifespan(app):
    STARTS.append(1)  # a server starts the app once
    yield {"greeting": "hi"}


app = FastAPI(lifespan=lifespan)


class Note(BaseModel):
    text: str
    level: int


@app.post("/notes", status_code=201, responses={409: {"description": "exists"}})
def create(note: Note):
    if note.level < 0:
        raise KeyError("negative level")       # one cause
    if note.level > 1000:
        return {"ratio": 1 / (note.level - note.level)}  # another cause, same operation
    STORE[len(STORE) + 1] = note
    return {"id": len(STORE)}


@app.post("/logout", status_code=204)
def logout():
    raise RuntimeError("the gates' own token is gone")


@app.get("/starts")
def starts():
    return {"starts": len(STARTS)}
'''

ASGI_TESTS = '''
def test_lifespan_ran_once_for_every_gate_and_the_api_fixture(api):
    assert api.get("/starts").json() == {"starts": 1}
'''


def test_distinct_causes_are_distinct_findings_and_excluded_operations_get_no_request(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(notesapp=ASGI_APP, test_zz_notes=ASGI_TESTS)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "notesapp:app"
        max_examples = 60
        stateful = false
        exclude_operations = ["post /logout", "DELETE /nothing/*"]
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider", "--backend-gates-seed=3")
    result.assert_outcomes(passed=2, failed=1)  # GET /starts, the api test; POST /notes fails
    contract = gate(read_report(pytester), "contract")
    server_errors = [v for v in contract["violations"] if v["check"] == "not_a_server_error"]
    assert {v["details"]["exception"] for v in server_errors} == {"KeyError", "ZeroDivisionError"}, contract
    assert all(v["where"] == "POST /notes" for v in server_errors)
    # A 500 is one finding: not again as an undocumented status code.
    assert not [v for v in contract["violations"] if v["check"] != "not_a_server_error" and v.get("details")]
    assert contract["summary"].startswith("2 server errors"), contract["summary"]
    assert "POST /logout" not in result.stdout.str()
    assert contract["measured"]["operations"] == 2
    assert "exclude_operations: 'DELETE /nothing/*' matches no operation of the schema" in contract["warnings"]


@pytest.mark.parametrize("value, problem", [
    ('["logout"]', "'logout' is not an operation glob"),
    ('"POST /logout"', "is not a list of strings"),
])
def test_bad_exclude_operations_is_one_clear_error(pytester: pytest.Pytester, value: str, problem: str) -> None:
    pytester.makepyfile(notesapp=ASGI_APP)
    pytester.makepyprojecttoml(textwrap.dedent(f"""
        [tool.backend-gates.contract]
        app = "notesapp:app"
        exclude_operations = {value}
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: backend-gates configuration: [[]tool.backend-gates.contract[]] "
                                 f"exclude_operations: *{problem}*"])
    assert "Traceback" not in result.stderr.str()


REVOKING_APP = '''
from fastapi import Depends, FastAPI, Header, HTTPException

app = FastAPI()
REVOKED = set()


def user(authorization: str = Header(default="")) -> str:
    if not authorization.startswith("Bearer ") or authorization in REVOKED:
        raise HTTPException(401, "not authenticated")
    return authorization


@app.post("/auth/logout", status_code=204, responses={401: {"description": "no"}})
def logout(token: str = Depends(user)) -> None:
    REVOKED.add(token)  # the gates' own token is gone for the rest of the run


@app.get("/items", responses={401: {"description": "no"}})
def items(token: str = Depends(user)) -> list[int]:
    return [1, 2]


@app.get("/orders", responses={401: {"description": "no"}})
def orders(token: str = Depends(user)) -> list[int]:
    return [3]
'''


@pytest.mark.parametrize("excluded", [False, True])
def test_a_run_that_revokes_its_own_token_says_which_operation_did(pytester: pytest.Pytester,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   excluded: bool) -> None:
    monkeypatch.setenv("API_TOKEN", "tok-8d1f")
    pytester.makepyfile(authapp=REVOKING_APP)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "authapp:app"
        max_examples = 10
        stateful = false
        headers = { Authorization = "Bearer ${API_TOKEN}" }
    """) + ('exclude_operations = ["POST /auth/logout"]\n' if excluded else ""))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider", "--backend-gates-seed=1")
    contract = gate(read_report(pytester), "contract")
    lost = [w for w in contract["warnings"] if w.startswith("credentials lost")]
    if excluded:
        assert lost == [], contract["warnings"]
        return
    [warning] = lost
    assert "after POST /auth/logout answered 2xx" in warning
    assert "GET /items (401 x" in warning and "GET /orders (401 x" in warning and "POST /auth/logout (401 x" in warning
    assert 'exclude_operations = ["POST /auth/logout"]' in warning
    assert "tok-8d1f" not in warning and "${API_TOKEN}" in warning
    result.stdout.fnmatch_lines(["warning: credentials lost: after POST /auth/logout*"])


BASE_PATH_APP = '''
from flask import Flask, jsonify

app = Flask(__name__)
SPEC = {
    "openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "servers": [{"url": "/api"}],
    "paths": {
        "/users/me": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/users/{user_id}": {"get": {
            "parameters": [{"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "ok"}}}},
    },
}


@app.get("/api/openapi.json")
def spec():
    return jsonify(SPEC)


@app.get("/api/users/<who>")
def user(who):
    return jsonify(id=who)
'''


def test_api_fixture_exchanges_are_named_by_their_operation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(baseapp=BASE_PATH_APP, test_users='''
        def test_users(api):
            assert api.get("/api/users/me").status_code == 200
            assert api.get("/api/users/42").status_code == 200
            assert api.get("/api/nowhere").status_code == 404
    ''')
    pytester.makeconftest('''
        def pytest_backend_gates_exchange(config, exchange):
            with open("exchanges.txt", "a") as seen:
                seen.write(f"{exchange.source}: {exchange.operation}\\n")
    ''')
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates.contract]
        app = "baseapp:app"
        schema = "/api/openapi.json"
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_users.py")
    result.assert_outcomes(passed=1)
    seen = (pytester.path / "exchanges.txt").read_text().splitlines()
    assert seen == ["api fixture: GET /users/me", "api fixture: GET /users/{user_id}",
                    "api fixture: GET /api/nowhere"]


def test_a_failure_inside_schemathesis_is_not_called_the_apps_500(pytester: pytest.Pytester) -> None:
    """schemathesis 4.32's ignored_auth check passes `max_redirects` to werkzeug's client on a WSGI
    app and fails with TypeError: it was reported as the app's 500 on every operation of a correct
    Flask service (issue 11, flask-smorest stack)."""
    (pytester.path / "iapp.py").write_text(textwrap.dedent('''
        from flask import Flask, jsonify, request
        app = Flask(__name__)
        SPEC = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
                "security": [{"bearer": []}],
                "paths": {"/items": {"get": {"responses": {"200": {"description": "ok"},
                                                           "401": {"description": "no"}}}}}}

        @app.get("/openapi.json")
        def spec():
            return jsonify(SPEC)

        @app.get("/items")
        def items():
            if request.headers.get("Authorization") != "Bearer good":
                return jsonify(detail="no"), 401
            return jsonify([1])
    '''))
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "iapp:app"
        max_examples = 5
        headers = { Authorization = "Bearer good" }
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "passed" and contract["violations"] == []
    assert "the app raised" not in result.stdout.str()


def test_credentials_refused_everywhere_is_an_error_not_a_pass(pytester: pytest.Pytester) -> None:
    """Every operation answered 401 (a token the app does not know): the contract gate passed
    with warnings only (issue 11, the DRF stack without its seed data)."""
    pytester.makepyfile(authapp=REVOKING_APP)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "authapp:app"
        max_examples = 5
        stateful = false
        headers = { Authorization = "Token not-a-bearer-token" }
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "error"
    assert "the credentials were refused: 3 of 3 operations answered only 401/403" in contract["summary"]


COUNTING_APP = '''
from pathlib import Path
from fastapi import FastAPI, Request

app = FastAPI()


@app.middleware("http")
async def count(request: Request, call_next):
    with Path(__file__).with_name("requests.log").open("a") as log:
        log.write(f"{request.method} {request.url.path}\\n")
    return await call_next(request)


@app.post("/items", status_code=201)
def create(name: str) -> dict[str, str]:
    return {"name": name}
'''


def test_collect_only_sends_no_request_to_a_server(pytester: pytest.Pytester) -> None:
    from conftest import served_by_uvicorn

    pytester.makepyfile(countapp=COUNTING_APP)
    with served_by_uvicorn(pytester.path, "countapp:app") as base_url:
        pytester.makepyprojecttoml(textwrap.dedent(f"""
            [tool.backend-gates.contract]
            base_url = "{base_url}"
            [tool.backend-gates.security]
            [tool.backend-gates.race]
            auto = true
            [tool.backend-gates.latency]
            budgets = {{ "POST /items" = "p95 < 1s" }}
        """))
        result = pytester.runpytest_subprocess("--backend-gates", "--collect-only", "-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    log = pytester.path / "requests.log"
    assert not log.exists(), log.read_text()
    result.stdout.fnmatch_lines(["backend gates: not evaluated under --collect-only (no test ran)"])
