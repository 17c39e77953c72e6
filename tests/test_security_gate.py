"""The security gate end to end: findings from the contract gate's responses and from the
api fixture, severities, xdist, and a gate that saw nothing is an error, not a pass."""

from __future__ import annotations

import textwrap

import pytest
from conftest import gate, read_report

ACCOUNTS_APP = '''
import traceback

from fastapi import FastAPI, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

app = FastAPI()
USERS = {{1: {{"id": 1, "name": "ann", "password_hash": "$2b$12$9aXh0fz1"}}}}


class User(BaseModel):
    id: int
    name: str


@app.middleware("http")
async def security_headers(request: Request, call_next):
    response = await call_next(request)
    {headers}
    return response


@app.exception_handler(Exception)
async def debug_errors(request: Request, exc: Exception):
    {error_body}


@app.get("/users/{{user_id:int}}", responses={{404: {{"description": "no such user"}}}})
def get_user(user_id: int = Path(examples=[1])):
    if user_id not in USERS:
        raise HTTPException(404, "no such user")
    {user_body}


@app.get("/crash")
def crash() -> dict[str, str]:
    raise RuntimeError("boom")
'''
BUGGY = ACCOUNTS_APP.format(
    headers='response.headers["Server"] = "accounts/2.3.1"',
    error_body='return JSONResponse({"detail": traceback.format_exc()}, status_code=500)',
    user_body="return USERS[user_id]",  # the row, password hash included
)
FIXED = ACCOUNTS_APP.format(
    headers='response.headers["X-Content-Type-Options"] = "nosniff"',
    # Starlette answers an unhandled error outside the app's middleware: the handler sets the header itself
    error_body='return JSONResponse({"detail": "internal error"}, status_code=500, '
               'headers={"X-Content-Type-Options": "nosniff"})',
    user_body='return User(**USERS[user_id]).model_dump()',
)


def security_project(pytester: pytest.Pytester, app: str, extra: str = "", contract: bool = True) -> None:
    pytester.makepyfile(accounts=app)
    contract_table = textwrap.dedent("""
        [tool.backend-gates.contract]
        app = "accounts:app"
        max_examples = 10
        stateful = false
        exclude_checks = ["not_a_server_error", "status_code_conformance"]  # /crash is there to raise
    """) if contract else ""
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
    """) + contract_table + "[tool.backend-gates.security]\n" + textwrap.dedent(extra))


def test_leaks_exposures_banner_and_missing_header_are_found(pytester: pytest.Pytester) -> None:
    security_project(pytester, BUGGY)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    security = gate(read_report(pytester), "security")
    assert security["status"] == "failed"
    found = {(v["check"], v["where"]) for v in security["violations"]}
    assert ("leak-traceback", "GET /crash") in found
    assert ("sensitive-field", "GET /users/{user_id}") in found
    # header rules hold for the whole app: one finding naming the other operations
    banner = [v for v in security["violations"] if v["check"] == "server-banner"]
    assert len(banner) == 1 and "also on GET " in banner[0]["message"]
    # every answer is JSON and required_headers is not configured: a missing nosniff only warns
    assert not [v for v in security["violations"] if v["check"] == "header-missing"]
    assert len([w for w in security["warnings"] if "[header-missing]" in w]) == 1
    exposure = next(v for v in security["violations"] if v["check"] == "sensitive-field")
    assert "$.password_hash" in exposure["message"] and "API3:2023" in exposure["message"]
    assert exposure["reproduce"].startswith("curl ") and "http://127.0.0.1:8000/users/1" in exposure["reproduce"]
    assert exposure["details"] == {"owasp": "API3:2023 Broken Object Property Level Authorization",
                                   "seen_by": "contract", "count": exposure["details"]["count"],
                                   "paths": 1, "path_examples": ["/users/1"]}  # the one user there is
    assert security["measured"]["responses"] > 10
    # one finding per rule, operation and subject, with how often it was seen; each names its
    # operation and comes with a curl reproduction
    assert banner[0]["details"]["count"] > 1 and f"(seen in {banner[0]['details']['count']} responses)" \
        in banner[0]["message"]
    assert all(v["where"].split(" ", 1)[0] == "GET" and v["reproduce"].startswith("curl -X ")
               for v in security["violations"]), security["violations"]
    result.stdout.fnmatch_lines(["security  FAILED  * findings (*) in * responses*",
                                 "GET /crash [[]leak-traceback[]]: the response (500) contains a Python stack trace*"])


def test_fixed_twin_passes(pytester: pytest.Pytester) -> None:
    security_project(pytester, FIXED)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    security = gate(read_report(pytester), "security")
    assert security["status"] == "passed", security
    assert result.ret == 0


def test_rules_can_warn_or_be_ignored(pytester: pytest.Pytester) -> None:
    security_project(pytester, BUGGY, """
        rules = { server-banner = "warn", header-missing = "ignore", leak-traceback = "warn", sensitive-field = "warn" }
    """)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    security = gate(read_report(pytester), "security")
    assert result.ret == 0 and security["status"] == "passed"
    assert any("[server-banner]" in w for w in security["warnings"])
    assert not any("header-missing" in w for w in security["warnings"])
    assert security["threshold"]["rules"]["header-missing"] == "ignore"


def test_api_fixture_responses_are_checked(pytester: pytest.Pytester) -> None:
    security_project(pytester, BUGGY, contract=False)
    (pytester.path / "pyproject.toml").write_text((pytester.path / "pyproject.toml").read_text().replace(
        "[tool.backend-gates.security]", '[tool.backend-gates.contract]\napp = "accounts:app"\n\n'
        "[tool.backend-gates.security]"))
    pytester.makepyfile(test_users="""
        def test_user(api):
            assert api.get("/users/1").status_code == 200
    """)
    result = pytester.runpytest_subprocess("--backend-gates=security", "-p", "no:cacheprovider")
    assert result.ret == 1
    result.assert_outcomes(passed=1)  # the test passes; the gate fails the run
    security = gate(read_report(pytester), "security")
    exposure = next(v for v in security["violations"] if v["check"] == "sensitive-field")
    assert exposure["where"] == "GET /users/{user_id}"  # named by its operation, as the contract gate names it
    assert exposure["details"]["seen_by"] == "api fixture"
    assert exposure["reproduce"] == "curl -X GET http://127.0.0.1:8000/users/1"


def test_under_xdist_findings_are_merged_on_the_controller(pytester: pytest.Pytester) -> None:
    security_project(pytester, BUGGY)
    result = pytester.runpytest_subprocess("--backend-gates", "-n", "2", "-p", "no:cacheprovider")
    assert result.ret == 1
    report = read_report(pytester)
    security = gate(report, "security")
    assert {"leak-traceback", "sensitive-field"} <= {v["check"] for v in security["violations"]}
    assert report["xdist_workers"] == 2


def test_no_response_seen_is_an_error_not_a_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.backend-gates]\nreport = "gates.json"\n[tool.backend-gates.security]\n')
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    security = gate(read_report(pytester), "security")
    assert security["status"] == "error"
    assert "no HTTP response was seen" in security["summary"]


LOGIN_APP = '''
from fastapi import FastAPI, Response
from pydantic import BaseModel

app = FastAPI()
ATTEMPTS: dict[str, int] = {{}}


class Login(BaseModel):
    username: str
    password: str


@app.middleware("http")
async def nosniff(request, call_next):
    response = await call_next(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@app.post("/login", responses={{401: {{"description": "wrong"}}, 429: {{"description": "slow down"}}}})
def login(body: Login, response: Response) -> dict[str, str]:
    ATTEMPTS[body.username] = ATTEMPTS.get(body.username, 0) + 1
    if ATTEMPTS[body.username] > {limit}:
        response.status_code = 429
        return {{"detail": "too many attempts"}}
    response.status_code = 401
    return {{"detail": "wrong username or password"}}
'''


@pytest.mark.parametrize(("limit", "found"), [(10**6, True), (3, False)])
def test_rate_limit_probe(pytester: pytest.Pytester, limit: int, found: bool) -> None:
    security_project(pytester, LOGIN_APP.format(limit=limit), 'rate_limits = { "POST /login" = 3 }')
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider", "-k", "probe")
    security = gate(read_report(pytester), "security")
    rate = [v for v in security["violations"] if v["check"] == "rate-limit"]
    if found:
        assert result.ret == 1 and rate, security
        assert rate[0]["where"] == "POST /login"
        assert "4 identical requests" in rate[0]["message"] and "none answered 429 (401 x4)" in rate[0]["message"]
        assert rate[0]["reproduce"].startswith("for i in $(seq 4); do curl -X POST")
        result.stdout.fnmatch_lines(["FAILED backend-gates::security[[]probe rate-limit[]]*"])
    else:
        assert result.ret == 0 and not rate, security
    assert security["measured"]["probe_requests"] >= 4


def test_rate_limit_for_an_operation_the_schema_lacks_is_an_error(pytester: pytest.Pytester) -> None:
    security_project(pytester, LOGIN_APP.format(limit=3), 'rate_limits = { "POST /signin" = 3 }')
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    security = gate(read_report(pytester), "security")
    assert result.ret == 1 and security["status"] == "error"
    assert security["summary"] == "rate_limits: 'POST /signin' is not an operation of the schema"


def test_rate_limits_without_a_contract_target_is_an_error(pytester: pytest.Pytester) -> None:
    security_project(pytester, LOGIN_APP.format(limit=3), 'rate_limits = { "POST /login" = 3 }', contract=False)
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    security = gate(read_report(pytester), "security")
    assert result.ret == 1 and security["status"] == "error"
    assert "rate_limits needs the contract gate" in security["summary"]


# A service whose only exposure is the password hashes of its user listing. Everything else is
# the caller's own: its profile with its own API key, a registration answering with the new
# account's key, a login answering with a token, FastAPI's 422s echoing the body just sent, and
# the OpenAPI document (full of `password` properties) fetched by a test.
OWN_VALUES_APP = '''
import secrets

from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field

app = FastAPI()
USERS = {"ann": {"id": 1, "username": "ann", "password_hash": "scrypt$16384$8$1$c2FsdA$a2V5",
                 "api_key": "ak_ann_0f3b9c"}}
api_key = APIKeyHeader(name="X-API-Key")


class Signup(BaseModel):
    username: str = Field(min_length=3, max_length=20, pattern="^[a-z]+$")
    password: str = Field(min_length=8, max_length=64)


class Login(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"username": "ann", "password": "correct horse"}]})
    username: str = Field(max_length=20)
    password: str = Field(max_length=64)


class Account(BaseModel):
    id: int
    username: str
    api_key: str


class Token(BaseModel):
    access_token: str
    token_type: str


class Listed(BaseModel):
    id: int
    username: str
    password_hash: str  # the defect: the storage row's hash goes out


@app.middleware("http")
async def nosniff(request: Request, call_next):
    response = await call_next(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def caller(key: str) -> dict:
    for user in USERS.values():
        if user["api_key"] == key:
            return user
    raise HTTPException(401, "unknown key")


@app.post("/register", status_code=201, response_model=Account, responses={409: {"description": "taken"}})
def register(body: Signup):
    if body.username in USERS:
        raise HTTPException(409, "taken")
    user = USERS[body.username] = {"id": len(USERS) + 1, "username": body.username, "password_hash": "scrypt$x",
                                   "api_key": "ak_" + secrets.token_hex(8)}
    return user


@app.post("/login", response_model=Token, responses={401: {"description": "wrong"}})
def login(body: Login):
    if body.username == "ann" and body.password == "correct horse":
        return {"access_token": secrets.token_urlsafe(16), "token_type": "bearer"}
    raise HTTPException(401, "wrong username or password")


@app.get("/users/me", response_model=Account, responses={401: {"description": "unknown key"}})
def me(key: str = Security(api_key)):
    return caller(key)


@app.get("/users", response_model=list[Listed], responses={401: {"description": "unknown key"}})
def users(key: str = Security(api_key)):
    caller(key)
    return list(USERS.values())
'''


def test_sensitive_field_only_where_a_reviewer_would_agree(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(accounts=OWN_VALUES_APP)
    # Each of the caller's own values at least once, whatever the fuzzer draws.
    pytester.makepyfile(test_own_values="""
        def test_own_values(api):
            assert "password" in api.get("/openapi.json").text
            assert api.get("/users/me").json()["api_key"] == "ak_ann_0f3b9c"
            assert api.post("/register", json={"username": "bob", "password": "s3cret-s3cret"}).status_code == 201
            assert api.post("/register", json={"password": "s3cret-s3cret"}).status_code == 422
            assert api.post("/login", json={"username": "ann", "password": "correct horse"}).status_code == 200
            assert api.get("/users").status_code == 200
    """)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "accounts:app"
        max_examples = 10
        stateful = false
        headers = { X-API-Key = "ak_ann_0f3b9c" }
        exclude_checks = ["ignored_auth"]
        [tool.backend-gates.security]
        sensitive_fields = ["password", "password_hash", "api_key", "access_token"]
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider", "-rA")
    result.stdout.fnmatch_lines(["PASSED test_own_values.py::test_own_values"])
    security = gate(read_report(pytester), "security")
    exposures = [(v["where"], v["message"].split(" exposes ")[1].split(" ")[0])
                 for v in security["violations"] if v["check"] == "sensitive-field"]
    assert exposures == [("GET /users", "$[0].password_hash")], security["violations"]
    assert security["status"] == "failed" and {v["check"] for v in security["violations"]} == {"sensitive-field"}


DEBUG_HANDLER_APP = '''
import traceback

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.exception_handler(Exception)
async def debug_errors(request: Request, exc: Exception):
    return JSONResponse({"detail": traceback.format_exc()}, status_code=500,
                        headers={"X-Content-Type-Options": "nosniff"})


@app.get("/orders")
def orders() -> list[int]:
    raise KeyError("region")


@app.get("/invoices")
def invoices() -> list[int]:
    raise ZeroDivisionError("division by zero")


@app.get("/reports")
def reports() -> list[int]:
    raise RuntimeError("warehouse offline")
'''


def test_an_app_wide_leak_is_one_finding_with_a_count(pytester: pytest.Pytester) -> None:
    """One debug error handler, 500s on three operations: one defect to fix, so one finding naming
    the three operations and how many responses showed it, not a copy per operation."""
    security_project(pytester, DEBUG_HANDLER_APP)
    pytester.makepyfile(test_calls="""
        def test_calls(api):
            for _ in range(3):
                for path in ("/orders", "/invoices", "/reports"):
                    assert api.get(path).status_code == 500
    """)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    security = gate(read_report(pytester), "security")
    [leak] = [v for v in security["violations"] if v["check"] == "leak-traceback"]
    assert leak["where"] == "GET /invoices" and "also on GET /orders, GET /reports" in leak["message"], leak
    assert leak["details"]["count"] >= 9 and f"(seen in {leak['details']['count']} responses)" in leak["message"]
    assert leak["reproduce"].startswith("curl -X GET http://127.0.0.1:8000/invoices")
    assert result.ret == 1


MANY_USERS_APP = '''
from fastapi import FastAPI

app = FastAPI()
USERS = {user_id: {"id": user_id, "name": f"u{user_id}", "password_hash": "$2b$12$9aXh0fz1"}
         for user_id in range(1000, 1620, 20)}


@app.get("/users/{user_id}")
def get_user(user_id: int):
    return USERS[user_id]


@app.get("/legacy/users/{user_id}", include_in_schema=False)  # a route no schema names
def legacy_user(user_id: int):
    return USERS[user_id]
'''


@pytest.mark.parametrize("prefix, where", [("/users", "GET /users/{user_id}"), ("/legacy/users", "GET /legacy/users/{id}")],
                         ids=["from the schema", "no schema names it"])
def test_one_defect_on_many_ids_is_one_finding_with_examples(pytester: pytest.Pytester, prefix: str,
                                                             where: str) -> None:
    pytester.makepyfile(manyusers=MANY_USERS_APP)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "manyusers:app"
        [tool.backend-gates.security]
    """))
    pytester.makepyfile(test_users=f"""
        def test_every_user(api):
            for user_id in range(1000, 1620, 20):
                assert api.get(f"{prefix}/{{user_id}}").status_code == 200
    """)
    result = pytester.runpytest_subprocess("--backend-gates=security", "-p", "no:cacheprovider")
    assert result.ret == 1
    security = gate(read_report(pytester), "security")
    exposures = [v for v in security["violations"] if v["check"] == "sensitive-field"]
    assert [v["where"] for v in exposures] == [where], exposures  # one finding, not 31
    details = exposures[0]["details"]
    assert details["count"] == 31 and details["paths"] == 31
    assert details["path_examples"] == [f"{prefix}/1000", f"{prefix}/1020", f"{prefix}/1040"]
    result.stdout.fnmatch_lines([f"{where} [[]sensitive-field[]]: the response (200) exposes $.password_hash * "
                                 f"(seen in 31 responses; on 31 paths, e.g. {prefix}/1000, {prefix}/1020, "
                                 f"{prefix}/1040)*"])
