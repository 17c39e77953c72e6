"""The bundled contract examples (examples/contract): every seeded defect is found with a
curl reproduction, and every fixed twin passes on 10 consecutive runs with random seeds."""

from __future__ import annotations

import pytest
from conftest import example_project, gate, read_report


def contract_example(pytester: pytest.Pytester, module: str) -> None:
    # The Flask app's schema is a static file: read from disk, as users with a spec-first API do.
    schema = "todo_openapi.yaml" if module.startswith("todo") else None
    example_project(pytester, "contract", module, schema, "max_examples = 30\n")


# (operation, check, a fragment of the reproduction or message) per seeded defect
SEEDED = {
    "bookmarks_buggy": [
        ("GET /bookmarks", "not_a_server_error", "limit=0"),  # B1: ZeroDivisionError
        ("GET /bookmarks/{bookmark_id}", "response_schema_conformance", "curl -X GET"),  # B2: drift
        ("POST /bookmarks", "status_code_conformance", "Received: 409"),  # B3: undocumented 409
    ],
    "todo_flask_buggy": [
        (("POST /todos", "PATCH /todos/{todo_id}"), "not_a_server_error", "UnicodeEncodeError"),  # T1
        ("GET /todos/{todo_id}", "response_schema_conformance", "is not of type \"boolean\""),  # T2
        ("POST /todos", "status_code_conformance", "Received: 422"),  # T3
    ],
}


@pytest.mark.parametrize("module", sorted(SEEDED))
def test_every_seeded_defect_is_found_with_a_reproduction(pytester: pytest.Pytester, module: str) -> None:
    contract_example(pytester, module)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "failed"
    for where, check, fragment in SEEDED[module]:
        places = where if isinstance(where, tuple) else (where,)
        found = [v for v in contract["violations"] if v["where"] in places and v["check"] == check]
        assert found, f"{module}: no {check} violation on {where}: {contract['violations']}"
        assert any(fragment in v["message"] + (v.get("reproduce") or "") for v in found), found
        assert all((v.get("reproduce") or "").startswith("curl ") for v in found), found


@pytest.mark.parametrize("run", range(10))
@pytest.mark.parametrize("module", ["bookmarks_fixed", "todo_flask_fixed"])
def test_fixed_twin_passes_with_random_seeds(pytester: pytest.Pytester, module: str, run: int) -> None:
    contract_example(pytester, module)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    contract = gate(read_report(pytester), "contract")
    assert result.ret == 0, f"seed {contract['measured']['seed']}: {contract['violations']}"
    assert contract["status"] == "passed"
    assert contract["measured"]["cases"] > 100
