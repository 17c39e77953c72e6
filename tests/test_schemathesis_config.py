"""A project's schemathesis.toml is the base of the contract gate's settings (SPEC section 6,
issue 14): what it sets (headers, generation, checks) applies, the [tool.backend-gates.contract]
keys written in pyproject.toml override it, and a broken file is the gate's error naming it."""

from __future__ import annotations

import pytest
from conftest import example_files, gate, read_report

CONTRACT = '''
[tool.backend-gates.contract]
app = "accounts_app:app"
stateful = false
require_success = true
# left: GET /me (needs credentials) and POST /auth/signup (generated bodies: the case count)
exclude_operations = ["POST /auth/token", "POST /auth/json-login", "POST /auth/logout"]
'''


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, schemathesis_toml: str | None,
        extra: str = "") -> tuple[pytest.RunResult, dict]:
    monkeypatch.setenv("ACCOUNTS_ADMIN_TOKEN", "static-admin-token-0123")
    example_files(pytester, "identities", CONTRACT + extra)
    if schemathesis_toml is not None:
        (pytester.path / "schemathesis.toml").write_text(schemathesis_toml)
    # A process each: schemathesis keeps per-schema state across in-process runs of the same app.
    result = pytester.runpytest_subprocess("--backend-gates=contract", "--backend-gates-seed=3",
                                           "-p", "no:cacheprovider")
    return result, gate(read_report(pytester), "contract")


def test_its_headers_and_generation_apply(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result, contract = run(pytester, monkeypatch, 'headers = { Authorization = "Bearer static-admin-token-0123" }\n'
                                                  '[generation]\nmax-examples = 3\n')
    assert result.ret == 0, result.stdout.str()  # GET /me answered 2xx: the base's credentials were sent
    assert contract["status"] == "passed"
    base_cases = contract["measured"]["cases"]
    # the same with max-examples 25 in schemathesis.toml: 22 more generated signup bodies at most
    result, more = run(pytester, monkeypatch, 'headers = { Authorization = "Bearer static-admin-token-0123" }\n'
                                              '[generation]\nmax-examples = 25\n')
    assert more["measured"]["cases"] > base_cases


def test_the_keys_written_in_pyproject_override_it(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    toml = 'headers = { Authorization = "Bearer static-admin-token-0123" }\n[generation]\nmax-examples = 3\n'
    _, base = run(pytester, monkeypatch, toml)
    _, overridden = run(pytester, monkeypatch, toml, extra="max_examples = 25\n")
    assert overridden["measured"]["cases"] > base["measured"]["cases"]


def test_without_it_the_same_run_fails(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result, contract = run(pytester, monkeypatch, None, extra="max_examples = 5\n")
    assert result.ret == 1
    assert contract["status"] == "error"
    result.stdout.fnmatch_lines(["*the credentials were refused*GET /me (401 x*"])


def test_a_broken_file_is_the_gate_error_naming_it(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result, contract = run(pytester, monkeypatch, '[generation]\nmax-examples = "many"\n')
    assert result.ret == 1
    assert contract["status"] == "error"
    assert "schemathesis.toml (the base of the contract gate's settings) is not valid" in contract["summary"]
