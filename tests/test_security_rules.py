"""The passive security rules on hand-made responses: each fires on its defect and not
on the fixed response."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_backend_gates.gates.response_rules import PROBE_ORIGIN, judge_exchange
from pytest_backend_gates.service.exchange import Exchange
from pytest_backend_gates.settings import SecuritySettings

SAFE_HEADERS = (("content-type", "application/json"), ("x-content-type-options", "nosniff"))


def exchange(body: bytes | str = b"{}", *, status: int = 200, headers: tuple[tuple[str, str], ...] = SAFE_HEADERS,
             request_headers: tuple[tuple[str, str], ...] = ()) -> Exchange:
    if isinstance(body, str):
        body = body.encode()
    return Exchange(operation="GET /things/{id}", method="GET", url="http://127.0.0.1:8000/things/1",
                    status=status, headers=headers, body=body, request_headers=request_headers)


def rules(ex: Exchange, settings: SecuritySettings | None = None) -> list[str]:
    return [f.rule for f in judge_exchange(ex, settings or SecuritySettings())]


PYTHON_TRACEBACK = json.dumps({"detail": 'Traceback (most recent call last):\n  File "/app/main.py", line 12, in '
                                         'get_thing\n    return rows[0]\nIndexError: list index out of range'})


@pytest.mark.parametrize("body, rule", [
    (PYTHON_TRACEBACK, "leak-traceback"),
    ("java.lang.NullPointerException\n\tat com.shop.Api.get(Api.java:42)", "leak-traceback"),
    ("Error: boom\n    at Object.<anonymous> (/srv/app/index.js:10:5)", "leak-traceback"),
    ("goroutine 1 [running]:\nmain.main()", "leak-traceback"),
    ('{"error": "sqlite3.OperationalError: near \\"x\\": syntax error"}', "leak-sql-error"),
    ('{"error": "unrecognized token: \\"\'x\\""}', "leak-sql-error"),
    ('{"error": "ERROR:  syntax error at or near \\"\'\\""}', "leak-sql-error"),
    ("You have an error in your SQL syntax; check the manual", "leak-sql-error"),
    ("<html><title>Werkzeug Debugger</title>", "leak-debug-page"),
    ("You're seeing this error because you have <code>DEBUG = True</code> in your Django settings", "leak-debug-page"),
])
def test_leaks_are_found_in_any_status(body: str, rule: str) -> None:
    for status in (200, 400, 500):
        assert rule in rules(exchange(body, status=status))


def test_ordinary_error_messages_are_not_leaks() -> None:
    body = json.dumps({"detail": [{"type": "int_parsing", "msg": "Input should be a valid integer, unable to parse "
                                   "string as an integer", "loc": ["query", "limit"]}]})
    assert rules(exchange(body, status=422)) == []
    assert rules(exchange('{"detail": "item 5 not found: select another one"}', status=404)) == []


def test_forbid_leaks_false_turns_leak_rules_off() -> None:
    assert rules(exchange(PYTHON_TRACEBACK), SecuritySettings(forbid_leaks=False)) == []


def test_server_banner_only_with_a_version() -> None:
    assert "server-banner" in rules(exchange(headers=(*SAFE_HEADERS, ("server", "Werkzeug/3.1.3 Python/3.11.7"))))
    assert "server-banner" in rules(exchange(headers=(*SAFE_HEADERS, ("x-powered-by", "PHP/8.1.2"))))
    assert rules(exchange(headers=(*SAFE_HEADERS, ("server", "uvicorn")))) == []


def test_required_headers() -> None:
    findings = judge_exchange(exchange(headers=(("content-type", "application/json"),)), SecuritySettings())
    assert [(f.rule, f.key) for f in findings] == [("header-missing", "x-content-type-options")]
    custom = SecuritySettings(required_headers=("X-Content-Type-Options", "Cache-Control"))
    assert [f.key for f in judge_exchange(exchange(), custom)] == ["cache-control"]


def test_sensitive_fields_anywhere_with_json_path() -> None:
    body = json.dumps({"items": [{"id": 1, "author": {"name": "ann", "Password_Hash": "$2b$12$abc"}}], "next": None})
    [finding] = judge_exchange(exchange(body), SecuritySettings())
    assert finding.rule == "sensitive-field"
    assert "$.items[0].author.Password_Hash" in finding.message
    # empty values and other keys are not exposures; "token" is not sensitive by default (logins return one)
    assert rules(exchange(json.dumps({"password": None, "token": "abc", "password_policy": "8+"}))) == []
    assert rules(exchange(json.dumps({"token": "abc"})), SecuritySettings(sensitive_fields=("token",))) == \
        ["sensitive-field"]


def test_cookie_flags_for_session_cookies() -> None:
    bad = exchange(headers=(*SAFE_HEADERS, ("set-cookie", "session=abc; Path=/")))
    [finding] = judge_exchange(bad, SecuritySettings())
    assert finding.rule == "cookie-flags" and "without Secure, HttpOnly, SameSite" in finding.message
    good = exchange(headers=(*SAFE_HEADERS, ("set-cookie", "session=abc; Path=/; Secure; HttpOnly; SameSite=Lax")))
    assert rules(good) == []
    assert rules(exchange(headers=(*SAFE_HEADERS, ("set-cookie", "theme=dark; Path=/")))) == []


@pytest.mark.parametrize("cleared", [
    # Starlette's delete_cookie (a logout), as found on examples/realworld's POST /auth/logout
    'session=""; expires=Thu, 26 Nov 2026 14:47:12 GMT; Max-Age=0; Path=/; SameSite=lax',
    "session=; Path=/",  # empty value
    "session=abc; Max-Age=0; Path=/",
    "sessionid=abc; expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",  # Django's delete_cookie
])
def test_cookie_flags_not_required_on_a_cookie_being_deleted(cleared: str) -> None:
    assert rules(exchange(headers=(*SAFE_HEADERS, ("set-cookie", cleared)))) == []
    # a later expiry is a live cookie again
    live = "session=abc; expires=Thu, 01 Jan 2099 00:00:00 GMT; Path=/"
    assert rules(exchange(headers=(*SAFE_HEADERS, ("set-cookie", live)))) == ["cookie-flags"]


def test_cors_wildcard_with_credentials_and_reflected_probe_origin() -> None:
    wildcard = (*SAFE_HEADERS, ("access-control-allow-origin", "*"), ("access-control-allow-credentials", "true"))
    assert rules(exchange(headers=wildcard)) == ["cors"]
    assert rules(exchange(headers=(*SAFE_HEADERS, ("access-control-allow-origin", "*")))) == []
    reflected = (*SAFE_HEADERS, ("access-control-allow-origin", PROBE_ORIGIN),
                 ("access-control-allow-credentials", "true"))
    assert rules(exchange(headers=reflected, request_headers=(("origin", PROBE_ORIGIN),))) == ["cors"]


def test_the_one_rule_table_is_what_users_see() -> None:
    """Every rule of security_rules.RULES has an OWASP 2023 category and a row in docs/security.md's
    rules table with the same category number; nothing is documented that the table lacks."""
    import re
    from pathlib import Path

    from pytest_backend_gates.security_rules import RULES

    assert all(rule.owasp.startswith("API") and ":2023 " in rule.owasp for rule in RULES)
    doc = (Path(__file__).parent.parent / "docs" / "security.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (API\d+)", doc, re.M))  # the rules table's rows
    assert set(rows) == {rule.id for rule in RULES}
    assert all(rows[rule.id] == rule.owasp.split(":", 1)[0] for rule in RULES)


def test_reflected_xss_needs_the_hostile_input_in_the_request_and_html() -> None:
    from pytest_backend_gates.hostile import XSS

    payload = XSS[0]
    html = (("content-type", "text/html; charset=utf-8"), ("x-content-type-options", "nosniff"))
    page = f"<h1>Results for {payload}</h1>"
    hit = Exchange(operation="GET /search", method="GET", url="http://x/search?q=%3Csvg+onload%3Dalert%28bg7f3a%29%3E",
                   status=200, headers=html, body=page.encode())
    assert rules(hit) == ["xss-reflected"]
    escaped = Exchange(operation="GET /search", method="GET", url=hit.url, status=200, headers=html,
                       body=b"<h1>Results for &lt;svg onload=alert(bg7f3a)&gt;</h1>")
    assert rules(escaped) == []
    not_sent = Exchange(operation="GET /search", method="GET", url="http://x/search?q=a", status=200,
                        headers=html, body=page.encode())  # the page's own markup, not our input
    assert rules(not_sent) == []


def test_error_based_sql_injection() -> None:
    error = json.dumps({"detail": 'sqlite3.OperationalError: near "x": syntax error'}).encode()
    hit = Exchange(operation="GET /notes", method="GET", url="http://x/notes?q=x%27", status=400,
                   headers=SAFE_HEADERS, body=error)
    assert sorted(rules(hit)) == ["leak-sql-error", "sqli-error"]
    in_body = Exchange(operation="POST /notes", method="POST", url="http://x/notes", status=500,
                       headers=SAFE_HEADERS, body=error, request_body=json.dumps({"title": "' OR '1'='1"}).encode())
    assert sorted(rules(in_body)) == ["leak-sql-error", "sqli-error"]
    # a bare 5xx after a quote proves nothing on its own (any bug gives one): the injection probe's
    # quote-balanced twin decides those (security_probes.py)
    bare = Exchange(operation="POST /notes", method="POST", url="http://x/notes", status=500,
                    headers=SAFE_HEADERS, body=b"{}", request_body=json.dumps({"title": "' OR '1'='1"}).encode())
    assert rules(bare) == []
    harmless = Exchange(operation="GET /notes", method="GET", url="http://x/notes?q=x%27", status=200,
                        headers=SAFE_HEADERS, body=b"[]")
    assert rules(harmless) == []


# --- sensitive-field: what a reviewer would reject (issue 11, point 10) -----------------------------

def sent(operation: str, body: Any, *, status: int, request: Any = None, method: str | None = None,
         request_headers: tuple[tuple[str, str], ...] = (), content_type: str = "application/json") -> Exchange:
    """A JSON answer to a request that carried `request` as its JSON body."""
    verb, path = operation.split(" ", 1)
    return Exchange(operation=operation, method=method or verb, url=f"http://127.0.0.1:8000{path}", status=status,
                    headers=(("content-type", content_type), ("x-content-type-options", "nosniff")),
                    body=json.dumps(body).encode(), request_headers=request_headers,
                    request_body=None if request is None else json.dumps(request).encode())


SIGNUP = {"username": "ann", "password": "hunter2-hunter2"}


@pytest.mark.parametrize("answer", [
    # the OpenAPI document itself (a schema endpoint the fuzzer reaches, or a test fetching it):
    # its "password" members are property schemas, not data
    sent("GET /openapi.json", {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {},
                               "components": {"schemas": {"Signup": {"properties": {
                                   "password": {"type": "string", "minLength": 8},
                                   "api_key": {"type": "string", "example": "k_123"}}}}}}, status=200),
    sent("GET /api/schema/", {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {},
                              "definitions": {"User": {"properties": {"password": {"type": "string"}}}}},
         status=200),
    # FastAPI / pydantic 422: `input` echoes the body the caller just sent
    sent("POST /signup", {"detail": [{"type": "missing", "loc": ["body", "email"], "msg": "Field required",
                                      "input": SIGNUP}]}, status=422, request=SIGNUP),
    sent("POST /signup", {"detail": [{"type": "string_too_short", "loc": ["body", "password"],
                                      "msg": "String should have at least 8 characters", "input": "hunter2",
                                      "ctx": {"min_length": 8}}]}, status=422,
         request={"username": "ann", "password": "hunter2"}),
    # DRF 400 and marshmallow (flask-smorest) 422: messages about the field
    sent("POST /api/users/", {"password": ["This field is required."]}, status=400, request={"username": "ann"}),
    sent("POST /users", {"code": 422, "status": "Unprocessable Entity",
                         "errors": {"json": {"password": ["Missing data for required field."],
                                             "api_key": ["Unknown field."]}}}, status=422, request={"api_key": 1}),
    sent("POST /users", {"errors": {"json": {"password": ["Shorter than minimum length 8."]}}}, status=422,
         request={"username": "ann", "password": "x"}),
    # Connexion's problem+json
    sent("POST /api/users", {"type": "about:blank", "title": "Bad Request", "status": 400,
                             "detail": "'short' is too short - 'password'"}, status=400,
         request={"username": "ann", "password": "short"}, content_type="application/problem+json"),
    # the caller's own profile returning the caller's own key
    sent("GET /users/me", {"id": 7, "username": "ann", "api_key": "ak_4f9c2e11d0b7"}, status=200,
         request_headers=(("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"),)),
    sent("GET /profile", {"id": 7, "secret": "JBSWY3DPEHPK3PXP"}, status=200),
    # the key the caller authenticates with, on any operation
    sent("GET /projects/{project_id}", {"id": 3, "owner": {"api_key": "ak_4f9c2e11d0b7"}}, status=200,
         request_headers=(("x-api-key", "ak_4f9c2e11d0b7"),)),
    # a login or a registration answering with the caller's own new credential
    sent("POST /auth/jwt/login", {"access_token": "eyJ.x.y", "token_type": "bearer",
                                  "secret": "rf_93be0c"}, status=200, request=SIGNUP),
    sent("POST /register", {"id": 8, "username": "ann", "api_key": "ak_new_0d1e"}, status=201, request=SIGNUP),
    sent("POST /api-keys", {"id": 2, "name": "ci", "api_key": "ak_new_77f0"}, status=201, request={"name": "ci"}),
    # a registration echoing the password the caller just chose
    sent("POST /register", {"id": 8, "username": "ann", "password": "hunter2-hunter2"}, status=201, request=SIGNUP),
], ids=["openapi-document", "swagger-document", "pydantic-422-input-echo", "pydantic-422-field-input",
        "drf-400-message", "marshmallow-422-messages", "marshmallow-422-echo", "connexion-problem-detail",
        "own-profile-key", "own-profile-secret", "key-the-caller-sent", "login-answer", "registration-answer",
        "key-creation-answer", "registration-echoes-password"])
def test_sensitive_field_not_on_the_callers_own_values(answer: Exchange) -> None:
    assert rules(answer) == [], answer.body


@pytest.mark.parametrize("answer, path", [
    # a password hash in a user listing, or anywhere: never the caller's to hold
    (sent("GET /users", [{"id": 1, "username": "ann", "password_hash": "$2b$12$9aXh0fz1"}], status=200),
     "$[0].password_hash"),
    (sent("GET /users/me", {"id": 1, "username": "ann", "password_hash": "$2b$12$9aXh0fz1"}, status=200),
     "$.password_hash"),
    # a stored plain-text password on the caller's own profile (not what the caller sent)
    (sent("GET /users/me", {"id": 1, "password": "hunter2-hunter2"}, status=200), "$.password"),
    # another user's key: the request did not carry it, the operation is not about the caller
    (sent("GET /users/{user_id}", {"id": 2, "api_key": "ak_4f9c2e11d0b7"}, status=200,
          request_headers=(("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"),)), "$.api_key"),
    # a creation answer listing other records' keys
    (sent("POST /teams", {"id": 1, "members": [{"name": "bob", "api_key": "ak_bob_1"}]}, status=201,
          request={"name": "t"}), "$.members[0].api_key"),
    # a 409 that answers with the stored row
    (sent("POST /register", {"detail": "taken", "user": {"username": "ann", "password_hash": "$2b$12$x"}},
          status=409, request=SIGNUP), "$.user.password_hash"),
    # an error body whose "message" is a secret, not prose
    (sent("POST /login", {"detail": "bad", "secret": "sk_live_51H8"}, status=400, request=SIGNUP), "$.secret"),
], ids=["hash-in-listing", "hash-on-own-profile", "stored-password-on-own-profile", "another-users-key",
        "keys-of-listed-records", "409-with-stored-row", "error-body-with-a-secret"])
def test_sensitive_field_still_found(answer: Exchange, path: str) -> None:
    [finding] = judge_exchange(answer, SecuritySettings())
    assert finding.rule == "sensitive-field" and path in finding.message, finding
