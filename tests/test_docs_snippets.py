"""The documentation's commands and configurations, run (tests/test_docs.py checks that every
command or configuration block of docs/ is included from a file that a test runs; this module
runs the files under docs/snippets/ that no other test does).

- docs/snippets/config/*.toml: each fragment of `[tool.backend-gates]` a page shows loads as it
  is, through the plugin's own parser (the one `pytest --backend-gates` uses), every table it
  names kept;
- docs/snippets/auth/: the provider and API-key recipes of docs/auth.md act as their user through
  the `api` fixture, against a small service whose users live in memory;
- docs/snippets/commands/*.sh: each `pytest` command a page shows runs as written on a small
  project, passes and writes every file it names; each `pip install` names this distribution and
  extras it has.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import TESTS_FULL, example_files, gate, make_app, read_report

from pytest_backend_gates.config import load_config
from pytest_backend_gates.gates.registry import table_parsers

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = ROOT / "docs" / "snippets"
CONFIGS = sorted((SNIPPETS / "config").glob("*.toml"))
COMMANDS = sorted((SNIPPETS / "commands").glob("*.sh"))
NO_PLUGINS = ("-p", "no:cacheprovider")


def _environ(text: str) -> dict[str, str]:
    """A value for every ${VAR} a snippet uses (long enough to be redacted)."""
    return {name: f"value-of-{name.lower()}-0123" for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text)}


@pytest.mark.parametrize("snippet", CONFIGS, ids=[p.name for p in CONFIGS])
def test_each_configuration_snippet_loads_as_it_is(snippet: Path, tmp_path: Path) -> None:
    text = snippet.read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path / "pyproject.toml", table_parsers(), environ=_environ(text))
    section = tomllib.loads(text)["tool"]["backend-gates"]
    gate_tables = {name for name, value in section.items() if isinstance(value, dict) and name != "identities"}
    assert gate_tables <= set(config.tables), f"tables not parsed: {gate_tables - set(config.tables)}"
    assert list(config.identities.by_name) == list(section.get("identities", {}))


# --------------------------------------------------------------------------
# docs/auth.md: the provider and API-key recipes
# --------------------------------------------------------------------------

ME = '''
def test_me(api):
    answer = api.get("/me")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {expected!r}
'''


@pytest.mark.parametrize("recipe, expected", [
    ("identity-session-cookie.toml", {"user": "gates", "by": "session"}),
    ("identity-in-memory.toml", {"user": "gates@example.com", "by": "token"}),
    ("identity-api-key.toml", {"user": "service", "by": "api key"}),
])
def test_the_auth_recipes_act_as_their_user(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                            recipe: str, expected: dict[str, str]) -> None:
    monkeypatch.setenv("GATES_PW", "gates-password-0123")
    monkeypatch.setenv("SERVICE_API_KEY", "service-api-key-0123")
    shutil.copy(SNIPPETS / "auth" / "notes_app.py", pytester.path / "notes_app.py")
    (pytester.path / "tests").mkdir()
    shutil.copy(SNIPPETS / "auth" / "gates_auth.py", pytester.path / "tests" / "gates_auth.py")
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\npythonpath = ["."]\n'
                               '[tool.backend-gates.contract]\napp = "notes_app:app"\n\n'
                               + (SNIPPETS / "config" / recipe).read_text(encoding="utf-8"))
    pytester.makepyfile(test_me=ME.format(expected=expected))
    result = pytester.runpytest_subprocess(*NO_PLUGINS)
    result.assert_outcomes(passed=1)


def test_without_the_recipe_the_service_refuses(pytester: pytest.Pytester) -> None:
    """The recipes' service really is behind login: the same test fails without an identity."""
    shutil.copy(SNIPPETS / "auth" / "notes_app.py", pytester.path / "notes_app.py")
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\npythonpath = ["."]\n'
                               '[tool.backend-gates.contract]\napp = "notes_app:app"\n')
    pytester.makepyfile(test_me=ME.format(expected={}))
    result = pytester.runpytest_subprocess(*NO_PLUGINS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*401*"])


# --------------------------------------------------------------------------
# docs/snippets/commands/*.sh: run as written
# --------------------------------------------------------------------------

def commands(script: Path) -> list[list[str]]:
    """The script's commands, continuation lines joined, comments and blank lines dropped."""
    text = re.sub(r"\\\n\s*", " ", script.read_text(encoding="utf-8"))
    return [shlex.split(line, comments=True) for line in text.splitlines() if shlex.split(line, comments=True)]


def _pip_install(words: list[str]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for requirement in words[2:]:
        name, _, extras = requirement.partition("[")
        assert name == project["name"], requirement
        unknown = set(filter(None, extras.rstrip("]").split(","))) - set(project["optional-dependencies"])
        assert not unknown, f"{requirement}: no such extra {unknown}"


@pytest.mark.parametrize("script", COMMANDS, ids=[p.name for p in COMMANDS])
def test_each_command_runs_as_written(pytester: pytest.Pytester, script: Path) -> None:
    make_app(pytester, '[tool.backend-gates.coverage]\nsource = ["app"]\ntotal = 90\n', tests=TESTS_FULL)
    ran = 0
    for words in commands(script):
        if words[:2] == ["pip", "install"]:
            _pip_install(words)
            continue
        assert words[0] == "pytest", f"{script.name}: {shlex.join(words)}: only pytest and pip commands are run"
        result = pytester.runpytest_subprocess(*NO_PLUGINS, *words[1:])
        assert result.ret == 0, f"{shlex.join(words)}\n{result.stdout.str()}\n{result.stderr.str()}"
        for word in words:
            option, _, value = word.partition("=")
            if option.startswith("--backend-gates-") and value and option != "--backend-gates-seed":
                assert (pytester.path / value).is_file(), f"{shlex.join(words)} did not write {value}"
        ran += 1
    assert ran, f"{script.name} has no pytest command"


# --------------------------------------------------------------------------
# Tests a page shows, run on the example they use
# --------------------------------------------------------------------------

def test_the_validation_page_tests_pass_on_the_examples(pytester: pytest.Pytester) -> None:
    """docs/validation.md's tests (docs/snippets/validation/test_orders.py) on examples/validation."""
    example_files(pytester, "validation")
    shutil.copy(SNIPPETS / "validation" / "test_orders.py", pytester.path / "test_orders.py")
    result = pytester.runpytest_subprocess(*NO_PLUGINS, "--backend-gates=validation", "test_orders.py")
    result.assert_outcomes(passed=2)
    validation = gate(read_report(pytester), "validation")
    assert validation["status"] == "passed" and validation["measured"]["inputs"] > 0, validation


# --------------------------------------------------------------------------
# docs/writing-gates.md: the third-party gate, run as the page says
# --------------------------------------------------------------------------

WRITING_GATES = SNIPPETS / "writing-gates"


def _summary(output: str) -> str:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"=+ backend gates =+", line))
    end = next(i for i, line in enumerate(lines) if line.startswith("backend gates "))
    return "\n".join(lines[start:end + 1]) + "\n"


def test_the_third_party_gate_of_writing_gates_runs_as_shown(pytester: pytest.Pytester) -> None:
    shutil.copytree(WRITING_GATES, pytester.path, dirs_exist_ok=True)
    for pinned in WRITING_GATES.glob("*.txt"):
        (pytester.path / pinned.name).unlink()
    command = commands(WRITING_GATES / "run.sh")[0]
    assert command[:3] == ["python", "-m", "pytest"]
    result = pytester.run(sys.executable, *command[1:], *NO_PLUGINS)
    assert result.ret == 1, result.stdout.str()  # run.sh's `echo $?`
    _same_as_pinned(_summary(result.stdout.str().replace(str(pytester.path), "/tmp/gate-demo")), "run.txt")
    slow = gate(read_report(pytester), "slow_tests")
    assert slow["status"] == "failed" and [v["where"] for v in slow["violations"]] == ["tests/test_demo.py::test_slow"]

    # The page's other two runs: a bad table (exit 4), and a limit the tests meet (exit 0).
    pyproject = pytester.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('limit = "100ms"', 'limit = "fast"\nlimt = "1 s"'))
    result = pytester.run(sys.executable, *command[1:], *NO_PLUGINS)
    assert result.ret == 4
    _same_as_pinned("".join(line + "\n" for line in result.stderr.lines if line.strip()), "bad-table.txt")
    pyproject.write_text(pyproject.read_text().replace('limit = "fast"\nlimt = "1 s"', 'limit = "1s"'))
    result = pytester.run(sys.executable, *command[1:], *NO_PLUGINS)
    assert result.ret == 0, result.stdout.str()
    _same_as_pinned(_summary(result.stdout.str().replace(str(pytester.path), "/tmp/gate-demo")), "passed.txt")


def _same_as_pinned(printed: str, name: str) -> None:
    """`printed` has the shape of docs/snippets/writing-gates/<name> (numbers aside), which the page
    includes; BACKEND_GATES_UPDATE_SURFACE=1 rewrites the file."""
    pinned = WRITING_GATES / name
    if os.environ.get("BACKEND_GATES_UPDATE_SURFACE") == "1":
        pinned.write_text(printed, encoding="utf-8")
    expected = pinned.read_text(encoding="utf-8")
    assert re.sub(r"\d+", "#", printed) == re.sub(r"\d+", "#", expected), f"{name} changed:\n{printed}"


# --------------------------------------------------------------------------
# docs/getting-started.md: from `pytest --backend-gates-init` to a green run, as the page says
# --------------------------------------------------------------------------

GETTING_STARTED = SNIPPETS / "getting-started"


def _gate_lines(output: str) -> str:
    """The gates' lines of the summary and its closing line (the warnings between are left out)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"=+ backend gates =+", line))
    end = next(i for i, line in enumerate(lines[start + 1:], start + 1) if not line.strip() or line.startswith("---"))
    closing = next(line for line in lines if line.startswith("backend gates "))
    return "\n".join([*lines[start:end], closing]) + "\n"


def _pinned(printed: str, path: Path) -> None:
    """`printed` says what the pinned file says, numbers aside. Words are compared, not lines: the
    init output wraps its comments at a width, so where a line breaks moves with the project's path."""
    if os.environ.get("BACKEND_GATES_UPDATE_SURFACE") == "1":
        path.write_text(printed, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")

    def words(text: str) -> list[str]:
        return re.sub(r"\d+", "#", re.sub(r"\n#\s*", "\n", text)).split()

    assert words(printed) == words(expected), f"{path.name} changed:\n{printed}"


def test_getting_started_from_init_to_a_green_run(pytester: pytest.Pytester) -> None:
    shutil.copytree(GETTING_STARTED / "project", pytester.path, dirs_exist_ok=True)
    _pip_install(commands(GETTING_STARTED / "install.sh")[0])
    # Step 2: init.sh, `pytest --backend-gates-init >> pyproject.toml`
    init = commands(GETTING_STARTED / "init.sh")
    assert init == [["pytest", "--backend-gates-init", ">>", "pyproject.toml"]]
    result = pytester.runpytest_subprocess(*NO_PLUGINS, "--backend-gates-init")
    assert result.ret == 0, result.stderr.str()
    printed = result.stdout.str().replace(str(pytester.path), "/home/you/inventory") + "\n"
    _pinned(printed, GETTING_STARTED / "init-output.toml")
    pyproject = pytester.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n" + result.stdout.str() + "\n")
    # Step 3: run.sh, the first run: FastAPI's 405 answers list one route's methods
    run = commands(GETTING_STARTED / "run.sh")
    assert run == [["pytest", "--backend-gates"]]
    result = pytester.runpytest_subprocess(*NO_PLUGINS, *run[0][1:], "--backend-gates-seed=20261207")
    assert result.ret == 1, result.stdout.str()
    contract = gate(json.loads((pytester.path / "backend-gates.json").read_text()), "contract")
    assert {v["check"] for v in contract["violations"]} == {"allow_header_conformance"}, contract["violations"]
    assert [g["gate"] for g in json.loads((pytester.path / "backend-gates.json").read_text())["gates"]
            if g["status"] != "passed"] == ["contract"]
    # Step 4: the exclusion of exclude.toml, in the contract table; then green
    exclusion = tomllib.loads((GETTING_STARTED / "exclude.toml").read_text())["tool"]["backend-gates"]["contract"]
    text = pyproject.read_text()
    assert "[tool.backend-gates.contract]\n" in text
    pyproject.write_text(text.replace("[tool.backend-gates.contract]\n", "[tool.backend-gates.contract]\n"
                                      f"exclude_checks = {json.dumps(exclusion['exclude_checks'])}\n", 1))
    result = pytester.runpytest_subprocess(*NO_PLUGINS, *run[0][1:], "--backend-gates-seed=20261207")
    assert result.ret == 0, result.stdout.str()
    _pinned(_gate_lines(result.stdout.str().replace(str(pytester.path), "/home/you/inventory")),
            GETTING_STARTED / "green.txt")
