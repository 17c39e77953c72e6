"""Redaction of `${VAR}` values: real secrets never reach the output or the report, and a value too
short to redact safely (a tenant id "1") is named in a warning instead of being replaced all over
seeds, counts and paths."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from pytest_backend_gates.redaction import MIN_SECRET_LENGTH, Redactor, interpolate

SECRET = "tok-7Hq2Zp9Xw4"

CRASHING_APP = '''
from fastapi import FastAPI

app = FastAPI()


@app.get("/items/{item_id}")
def get_item(item_id: int) -> dict[str, int]:
    if item_id > 3:
        raise RuntimeError("boom")
    return {"id": item_id}
'''


def test_short_values_are_not_redacted_and_are_named_without_their_value() -> None:
    redactor = Redactor()
    interpolate("${TENANT}", {"TENANT": "xq"}, redactor, "[tool.backend-gates.contract] headers.X-Tenant")
    interpolate("Bearer ${API_TOKEN}", {"API_TOKEN": SECRET}, redactor, "[tool.backend-gates.contract] headers.A")
    assert redactor.redact("seed xq-123, Bearer " + SECRET) == "seed xq-123, Bearer ${API_TOKEN}"
    assert redactor.warnings == [
        f"environment variable TENANT (used as ${{TENANT}} in [tool.backend-gates.contract] headers.X-Tenant) has a "
        f"value shorter than {MIN_SECRET_LENGTH} characters, too short to redact safely: it is not redacted from "
        "the output and the report. If it is a secret, use a longer one"]
    assert "xq" not in redactor.warnings[0]


def test_durations_and_names_are_not_secrets() -> None:
    from pathlib import Path

    from pytest_backend_gates.config import parse_section
    from pytest_backend_gates.gates.registry import table_parsers

    config = parse_section({"contract": {"app": "m:app", "max_time": "${LIMIT}s", "exclude_operations": ["${OP}"]}},
                           Path("/p/pyproject.toml"), table_parsers(), {"LIMIT": "30", "OP": "POST /logout"})
    assert config.tables["contract"].max_time == 30.0
    assert config.redactor.warnings == []
    assert config.redactor.redact("30 cases, POST /logout") == "30 cases, POST /logout"


def test_short_env_value_does_not_corrupt_seeds_or_paths_and_secrets_stay_hidden(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANT", "1")
    monkeypatch.setenv("API_TOKEN", SECRET)
    pytester.makepyfile(crashing=CRASHING_APP)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "crashing:app"
        max_examples = 20
        stateful = false
        headers = { X-Tenant = "${TENANT}", Authorization = "Bearer ${API_TOKEN}" }
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "--backend-gates-seed=1211", "-p", "no:cacheprovider")
    assert result.ret == 1
    output = result.stdout.str() + result.stderr.str()
    report_text = (pytester.path / "gates.json").read_text()
    contract = next(g for g in json.loads(report_text)["gates"] if g["gate"] == "contract")
    # the seed and the paths come out as they are
    assert contract["measured"]["seed"] == 1211 and "seed 1211" in contract["summary"]
    assert "--backend-gates-seed=1211" in output and "${TENANT}" not in report_text
    assert f"report: {pytester.path / 'gates.json'}" in output
    # the short value is named in a warning, the real secret is replaced everywhere
    result.stdout.fnmatch_lines(["warning: environment variable TENANT (used as ${TENANT} in "
                                 "[[]tool.backend-gates.contract[]] headers.X-Tenant) has a value shorter than 6 *"])
    assert SECRET not in output and SECRET not in report_text
    reproduce = contract["violations"][0]["reproduce"]
    assert "Authorization: Bearer ${API_TOKEN}" in reproduce and re.search(r"X-Tenant: 1\b", reproduce), reproduce
