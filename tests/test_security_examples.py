"""The bundled security examples (examples/security): every defect the passive rules can
see in fuzzing traffic (with hostile inputs mixed in) is found in the buggy twin; the fixed twins pass both the
security and the contract gate. (sqli-error is found in most runs but not all yet; rate-limit, mass-assignment and
cors origin reflection need probes that are not built yet: examples/security/README.md.)"""

from __future__ import annotations

import pytest
from conftest import example_project, gate, read_report

PASSIVE = {
    "users_fastapi_buggy": {("leak-traceback", "POST /login"), ("sensitive-field", "GET /users/{user_id}"),
                            ("cookie-flags", "POST /login"), ("server-banner", None), ("header-missing", None),
                            # hostile inputs drawn into fuzzing (hostile.py): the search page echoes them
                            ("xss-reflected", "GET /notes/search")},
    "notes_flask_buggy": {("leak-debug-page", "PATCH /users/{user_id}"), ("sensitive-field", "GET /notes"),
                          ("header-missing", None)},
}


def security_example(pytester: pytest.Pytester, module: str) -> None:
    schema = "notes_flask_openapi.yaml" if module.startswith("notes") else None
    example_project(pytester, "security", module, schema, "max_examples = 20\n[tool.backend-gates.security]\n")


@pytest.mark.parametrize("module", sorted(PASSIVE))
def test_passive_defects_are_found(pytester: pytest.Pytester, module: str) -> None:
    security_example(pytester, module)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    security = gate(read_report(pytester), "security")
    found = {(v["check"], v["where"]) for v in security["violations"]}
    for rule, where in PASSIVE[module]:
        assert any(r == rule and (where is None or w == where) for r, w in found), (rule, where, found)
    assert all(v["reproduce"].startswith("curl ") for v in security["violations"])


@pytest.mark.parametrize("run", range(3))
@pytest.mark.parametrize("module", ["users_fastapi_fixed", "notes_flask_fixed"])
def test_fixed_twins_pass_security_and_contract(pytester: pytest.Pytester, module: str, run: int) -> None:
    security_example(pytester, module)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    report = read_report(pytester)
    assert result.ret == 0, [(g["gate"], g["violations"]) for g in report["gates"]]
    assert gate(report, "security")["status"] == "passed"
