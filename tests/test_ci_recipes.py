"""The CI recipes of docs/ci.md (docs/recipes/github-actions.yml and gitlab-ci.yml, which the page
includes) are valid YAML of the shape each CI reads, and their `pytest` command runs as written
(on a small project) and writes every report it names."""

from __future__ import annotations

import json
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import TESTS_FULL, make_app

RECIPES = Path(__file__).resolve().parent.parent / "docs" / "recipes"


def recipes() -> list[Any]:
    return [yaml.safe_load((RECIPES / name).read_text(encoding="utf-8"))
            for name in ("github-actions.yml", "gitlab-ci.yml")]


def pytest_command(recipe: dict[str, Any]) -> list[str]:
    if "jobs" in recipe:  # GitHub Actions
        commands = [step["run"] for job in recipe["jobs"].values() for step in job["steps"] if "run" in step]
    else:  # GitLab CI
        commands = [line for job in recipe.values() if isinstance(job, dict) for line in job.get("script", [])]
    found = [c for c in commands if c.startswith("pytest --backend-gates")]
    assert len(found) == 1, commands
    return shlex.split(found[0])


def test_the_recipes_are_a_github_workflow_and_a_gitlab_job() -> None:
    github, gitlab = recipes()
    gates = github["jobs"]["gates"]
    assert gates["steps"][0]["with"]["fetch-depth"] == 0
    assert any(step.get("uses", "").startswith("github/codeql-action/upload-sarif") for step in gates["steps"])
    assert github["permissions"]["security-events"] == "write"
    job = gitlab["backend-gates"]
    assert job["variables"]["GIT_DEPTH"] == 0
    # diff.against = "origin/main" needs that ref: a merge-request pipeline fetches its own only
    assert "git fetch origin main:refs/remotes/origin/main" in job["script"]
    assert job["artifacts"]["reports"] == {"junit": "reports/junit.xml", "codequality": "reports/gl-code-quality.json"}
    assert job["artifacts"]["when"] == "always"


@pytest.mark.parametrize("which", ["github", "gitlab"])
def test_the_recipe_command_runs_as_written(pytester: pytest.Pytester, which: str) -> None:
    recipe = recipes()[0 if which == "github" else 1]
    command = pytest_command(recipe)
    assert command[0] == "pytest"
    make_app(pytester, '[tool.backend-gates.coverage]\nsource = ["app"]\ntotal = 90\n', tests=TESTS_FULL)
    result = pytester.runpytest_subprocess(*command[1:])
    assert result.ret == 0, result.stdout.str()
    written = {p.name for p in (pytester.path / "reports").iterdir()}
    named = {Path(arg.split("=", 1)[1]).name for arg in command if "=" in arg and arg.startswith("--")}
    assert written == named
    assert json.loads((pytester.path / "reports" / "backend-gates.json").read_text())["passed"] is True
    cases = [c for c in ET.parse(pytester.path / "reports" / "junit.xml").getroot().iter("testcase")
             if c.get("classname") == "backend-gates"]
    assert [c.get("name") for c in cases] == ["coverage"]
