"""The bundled security examples (examples/security): every seeded defect is found in the buggy
twin, by the rules on fuzzing traffic or by the active probes (deterministic: every run); the fixed twins pass
both the security and the contract gate."""

from __future__ import annotations

import pytest
from conftest import example_project, gate, read_report

# (rule, operation or None for app-wide) -> every seeded defect of examples/security/README.md
DEFECTS = {
    "users_fastapi_buggy": {("leak-traceback", "POST /login"), ("sensitive-field", "GET /users/{user_id}"),
                            ("cookie-flags", "POST /login"), ("server-banner", None), ("header-missing", None),
                            ("xss-reflected", "GET /notes/search"), ("sqli-error", "GET /notes/search"),
                            ("leak-sql-error", "GET /notes/search"), ("rate-limit", "POST /login"), ("cors", None)},
    # the debugger page (N1) carries the traceback and the SQLite error too
    "notes_flask_buggy": {("leak-debug-page", "PATCH /users/{user_id}"), ("leak-traceback", "PATCH /users/{user_id}"), ("sensitive-field", "GET /notes"),
                          ("header-missing", None), ("sqli-error", "GET /notes"), ("leak-sql-error", "GET /notes"),
                          ("mass-assignment", "PATCH /users/{user_id}")},
    "orders_fastapi_buggy": {("auth-ignored", "GET /reports/revenue"), ("mass-assignment", "PATCH /orders/{order_id}")},
}
TOKEN = "s3cr3t-orders-token"


def security_example(pytester: pytest.Pytester, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = "notes_flask_openapi.yaml" if module.startswith("notes") else None
    extra = "max_examples = 20\n"
    if module.startswith("orders"):
        monkeypatch.setenv("ORDERS_API_TOKEN", TOKEN)
        extra += 'headers = { Authorization = "Bearer ${ORDERS_API_TOKEN}" }\n'
    extra += "[tool.backend-gates.security]\n"
    if module.startswith("users"):
        extra += 'rate_limits = { "POST /login" = 5 }\n'
    example_project(pytester, "security", module, schema, extra)


@pytest.mark.parametrize("module", sorted(DEFECTS))
def test_every_seeded_defect_is_found(pytester: pytest.Pytester, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    security_example(pytester, module, monkeypatch)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    security = gate(read_report(pytester), "security")
    found = {(v["check"], v["where"]) for v in security["violations"]}
    for rule, where in DEFECTS[module]:
        assert any(r == rule and (where is None or w == where) for r, w in found), (rule, where, found)
    assert all(v["reproduce"].startswith(("curl ", "for i in")) for v in security["violations"])
    assert TOKEN not in result.stdout.str() and TOKEN not in (pytester.path / "gates.json").read_text()
    # every finding is something the README lists: no false positive on the buggy twins either
    assert {rule for rule, _ in found} <= {rule for rule, _ in DEFECTS[module]}, found


@pytest.mark.parametrize("run", range(3))
@pytest.mark.parametrize("module", ["users_fastapi_fixed", "notes_flask_fixed", "orders_fastapi_fixed"])
def test_fixed_twins_pass_security_and_contract(pytester: pytest.Pytester, module: str, run: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    security_example(pytester, module, monkeypatch)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    report = read_report(pytester)
    assert result.ret == 0, [(g["gate"], g["violations"]) for g in report["gates"]]
    assert gate(report, "security")["status"] == "passed"


def test_large_realworld_app_has_no_finding(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/realworld: 28 operations, JSON and HTML, cookie login, bearer back office, CORS, downloads;
    written as production code, not for the detector. No rule and no probe may find anything in it
    (benchmarks/security_false_positives.py runs it with 10 random seeds)."""
    monkeypatch.setenv("STOREFRONT_ADMIN_TOKEN", TOKEN)
    example_project(pytester, "realworld", "storefront_api", None, """
        max_examples = 3
        headers = { Authorization = "Bearer ${STOREFRONT_ADMIN_TOKEN}" }
        [tool.backend-gates.security]
        rate_limits = { "POST /auth/login" = 5 }
    """)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    report = read_report(pytester)
    assert result.ret == 0, [(g["gate"], g["violations"]) for g in report["gates"]]
    security = gate(report, "security")
    assert security["status"] == "passed" and security["warnings"] == [], security
    assert gate(report, "contract")["measured"]["operations"] == 28
    # every probe ran: the 5 items passed and they sent requests (not cut short by their bound); the
    # jwt probe skipped quietly (the admin token is opaque: nothing to forge), authz needs identities
    result.assert_outcomes(passed=28 + 1 + 5, skipped=1)
    assert set(security["measured"]["probes_not_run"]) == {"authz", "jwt"}
    assert security["measured"]["probe_requests"] >= 40
