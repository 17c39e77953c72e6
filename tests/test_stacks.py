"""The stack matrix: every gate on real framework stacks (examples/stacks/), both twins.

Each stack is a service written with the libraries real teams use (FastAPI + SQLModel,
Flask + flask-smorest, Connexion 3, Django REST Framework through pytest-django,
fastapi-users with async SQLAlchemy), in a buggy twin (`STACK_DEFECTS=1`) and a fixed one.

- fixed twin: `pytest --backend-gates` passes; no gate is `error`, none has a finding,
  and every gate shows that it exercised something (a measurement above zero).
- buggy twin: every defect of the stack's `expected.toml` is among the violations,
  with the gate, check, operation and the words (the exception) it names.

Seeds are pinned so that CI replays the same run; benchmarks/stack_matrix.py runs the
matrix on many seeds for detection rates.
"""

from __future__ import annotations

import fnmatch
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

STACKS_DIR = Path(__file__).resolve().parent.parent / "examples" / "stacks"
TWINS = STACKS_DIR.parent.parent / "docs" / "snippets" / "stacks" / "twins.sh"  # docs/frameworks.md
STACKS = sorted(path.parent.name for path in STACKS_DIR.glob("*/expected.toml"))
SEED = "20261207"
RUN_TIMEOUT = 900  # seconds: one whole gated run of one twin, on a loaded 2-core machine

# What shows that a gate exercised something, per gate (SPEC: a gate that exercised nothing
# is never `passed`; here the fixed twins prove each gate really ran on each stack).
EXERCISED: dict[str, tuple[str, ...]] = {
    "contract": ("cases",),
    "security": ("responses", "probe_requests"),
    "validation": ("inputs",),
    "latency": ("timings",),
    "coverage": ("total",),
    "race": ("auto_requests",),
    "queries": ("request_statements",),
    "load": ("requests",),
}


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {name for name in names
            if name.startswith(("stack.db", "test_stack.db", "backend-gates.json", ".hypothesis", ".coverage"))
            or name in ("__pycache__", ".pytest_cache", ".benchmarks", ".backend-gates")}


def twin_command(buggy: bool) -> tuple[dict[str, str], list[str]]:
    """The command docs/frameworks.md shows for a twin (docs/snippets/stacks/twins.sh): the
    variables it sets and pytest's arguments. The buggy twin's is the one that sets STACK_DEFECTS."""
    lines = [shlex.split(line, comments=True) for line in TWINS.read_text(encoding="utf-8").splitlines()]
    for words in filter(None, lines):
        assignments = dict(word.split("=", 1) for word in words if "=" in word and not word.startswith("-"))
        if ("STACK_DEFECTS" in assignments) == buggy:
            args = words[len(assignments):]
            assert args[0] == "pytest", words
            return assignments, args[1:]
    raise AssertionError(f"{TWINS}: no command for the {'buggy' if buggy else 'fixed'} twin")


def run_stack(stack: str, buggy: bool, where: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    project = where / stack
    shutil.copytree(STACKS_DIR / stack, project, ignore=_ignore)
    # What the stacks need: the key they sign with and the seeded user's password. The gates log
    # in themselves ([tool.backend-gates.identities]): no token is minted beforehand.
    secret, password = secrets.token_hex(24), secrets.token_urlsafe(18)
    env = {**os.environ, "STACK_SECRET_KEY": secret, "STACK_PASSWORD": password, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("STACK_DEFECTS", None)
    assignments, pytest_args = twin_command(buggy)
    env.update(assignments)
    command = [sys.executable, "-m", "pytest", *pytest_args, "-p", "no:cacheprovider",
               f"--backend-gates-seed={SEED}", f"--backend-gates-race-seed={SEED}", "-q"]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    output = done.stdout + done.stderr
    assert secret not in output and password not in output, "a secret from the environment was printed"
    report_file = project / "backend-gates.json"
    assert report_file.exists(), output[-6000:]
    text = report_file.read_text()
    assert secret not in text and password not in text, "a secret from the environment is in the report"
    return done, json.loads(text)


def expected_defects(stack: str) -> list[dict[str, str]]:
    return tomllib.loads((STACKS_DIR / stack / "expected.toml").read_text())["defect"]


def _found(report: dict[str, Any], defect: dict[str, str]) -> bool:
    return any(g["gate"] == defect["gate"] and v["check"] == defect["check"]
               and fnmatch.fnmatchcase(v["where"], defect["where"]) and defect["message"] in v["message"]
               for g in report["gates"] for v in g["violations"])


@pytest.mark.stack_matrix
@pytest.mark.parametrize("stack", STACKS)
def test_fixed_twin_passes_every_gate_with_something_measured(stack: str, tmp_path: Path) -> None:
    done, report = run_stack(stack, buggy=False, where=tmp_path)
    summary = "\n".join(f"{g['gate']}: {g['status']}: {g['summary']}" for g in report["gates"])
    assert report["passed"] is True, f"{summary}\n\n{done.stdout[-8000:]}"
    assert {g["gate"] for g in report["gates"]} == set(EXERCISED), summary
    for result in report["gates"]:
        assert result["status"] == "passed", summary
        assert result["violations"] == []
        measured = result["measured"]
        assert any(measured.get(key) for key in EXERCISED[result["gate"]]), \
            f"{result['gate']} passed without exercising anything: {measured}"
        assert not [w for w in result["warnings"] if w.startswith("credentials lost")], result["warnings"]


@pytest.mark.stack_matrix
@pytest.mark.parametrize("stack", STACKS)
def test_buggy_twin_shows_every_defect_with_its_cause(stack: str, tmp_path: Path) -> None:
    done, report = run_stack(stack, buggy=True, where=tmp_path)
    assert done.returncode == 1, done.stdout[-8000:]
    assert report["passed"] is False
    missing = [d for d in expected_defects(stack) if not _found(report, d)]
    shown = "\n".join(f"{g['gate']} [{v['check']}] {v['where']}: {v['message'][:300]}"
                      for g in report["gates"] for v in g["violations"])
    assert not missing, f"not found: {missing}\n\nviolations:\n{shown}"
    # Server errors name the exception and the app's own file, never the plugin's frames.
    for result in report["gates"]:
        for violation in result["violations"]:
            assert "pytest_backend_gates" not in violation["message"], violation
