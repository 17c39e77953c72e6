"""The public surface, pinned byte for byte (issue 13's first proof point).

What a user sees must not change when the inside is rebuilt: the backend-gates parts of
`pytest --help`, `pytest --markers` and `pytest --fixtures`, every configuration error text,
the usage errors as printed, and the demo's JSON report (and its terminal summary). Each is
compared to a snapshot under tests/surface/; on a mismatch the test shows a unified diff.

Only what a run or a file layout changes is normalized to a placeholder: fixture locations and
the module named in "fixtures defined from ..." (fixtures are sorted by name, as pytest orders them
by location), the project's temporary path, each gate's `duration_s`. The demo runs with a fixed
contract seed, so its case and response counts are pinned too (stable over repeated runs, with and
without CI=true and xdist).

To rewrite the snapshots on purpose (then review `git diff tests/surface/`):

    BACKEND_GATES_UPDATE_SURFACE=1 pytest tests/test_public_surface.py
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

# The one import from the plugin: the configuration's entry point keeps this name and signature.
from pytest_backend_gates.config import load_config
from pytest_backend_gates.gates.registry import table_parsers

SURFACE = Path(__file__).resolve().parent / "surface"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
UPDATE = os.environ.get("BACKEND_GATES_UPDATE_SURFACE") == "1"


def check_snapshot(name: str, text: str) -> None:
    """`text` must equal tests/surface/<name>; with BACKEND_GATES_UPDATE_SURFACE=1 it is written instead."""
    path = SURFACE / name
    if UPDATE:
        SURFACE.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.is_file():
        pytest.fail(f"{path} is missing; create it with BACKEND_GATES_UPDATE_SURFACE=1", pytrace=False)
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), text.splitlines(keepends=True),
                                            f"tests/surface/{name} (pinned)", f"{name} (this run)"))
        pytest.fail(f"the public surface changed:\n{diff}\n(if on purpose: BACKEND_GATES_UPDATE_SURFACE=1)",
                    pytrace=False)


# --------------------------------------------------------------------------
# pytest --help, --markers, --fixtures
# --------------------------------------------------------------------------

HELP_GROUP = "backend gates (pytest-backend-gates):"
PLUGIN_MARKERS = ("latency_budget", "race_probe", "query_budget")


def _run_inprocess(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> list[str]:
    monkeypatch.setenv("COLUMNS", "80")  # argparse and section rules wrap at the terminal width
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    return result.stdout.lines


def help_part(lines: list[str]) -> str:
    """The option group (title to the next blank line), then any other line naming backend-gates
    (ini keys, if the plugin ever adds some)."""
    start = lines.index(HELP_GROUP)
    end = lines.index("", start)
    group = lines[start:end]
    others = [line for i, line in enumerate(lines)
              if not start <= i < end and re.search(r"backend.gates", line, re.IGNORECASE)]
    return "\n".join([*group, "", "other lines naming backend-gates:", *(others or ["(none)"])]) + "\n"


def markers_part(lines: list[str]) -> str:
    """The plugin's markers, in the order pytest lists them."""
    mine = [line for line in lines if re.match(rf"@pytest\.mark\.({'|'.join(PLUGIN_MARKERS)})\b", line)
            or (line.startswith("@pytest.mark.") and "backend-gates" in line)]
    return "\n".join(mine) + "\n"


def fixtures_part(lines: list[str]) -> str:
    """The plugin's fixtures with their scope and docstring, sorted by name.

    Normalized: the module in "fixtures defined from <module>" (one section or several) and each
    fixture's "-- path:line", which the restructure moves; pytest orders fixtures by that location,
    hence the sort by name."""
    header = re.compile(r"^-+ fixtures defined from (\S+) -+$")
    blocks: dict[str, list[str]] = {}
    mine = False
    current: list[str] | None = None
    for line in lines:
        match = header.match(line)
        if match or line.startswith("==="):
            mine = match is not None and match.group(1).split(".")[0] == "pytest_backend_gates"
            current = None
            continue
        if not mine:
            continue
        if line and not line.startswith(" "):
            name = re.sub(r" -- \S+:\d+$", "", line)
            assert name not in blocks, name
            current = blocks[name] = [name]
        elif current is not None:
            current.append(line)
    assert blocks, "no fixture of pytest_backend_gates in:\n" + "\n".join(lines)
    text = ["fixtures defined from <pytest_backend_gates module>"]
    for name in sorted(blocks, key=lambda n: n.split()[0]):
        body = blocks[name]
        while body and not body[-1]:
            body.pop()
        text += [*body, ""]
    return "\n".join(text)


def test_help_part_is_pinned(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyprojecttoml("[tool.backend-gates]\n")
    check_snapshot("help.txt", help_part(_run_inprocess(pytester, monkeypatch, "--help")))


def test_markers_part_is_pinned(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyprojecttoml("[tool.backend-gates]\n")
    text = markers_part(_run_inprocess(pytester, monkeypatch, "--markers"))
    assert text.count("@pytest.mark.") == len(PLUGIN_MARKERS), text
    check_snapshot("markers.txt", text)


def test_fixtures_part_is_pinned(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyprojecttoml("[tool.backend-gates]\n")
    passive = fixtures_part(_run_inprocess(pytester, monkeypatch, "--fixtures"))
    # With the gates on, no other fixture appears (gates register as plugins: one could bring some).
    active = fixtures_part(_run_inprocess(pytester, monkeypatch, "--fixtures", "--backend-gates"))
    assert active == passive
    check_snapshot("fixtures.txt", passive)


# --------------------------------------------------------------------------
# Configuration error texts: the parser, in-process
# --------------------------------------------------------------------------

# A set variable: a message shows the value as written ('${BG_SECRET}'), never the secret.
ENVIRON = {"BG_SECRET": "hunter2-not-to-be-shown"}
# What a table needs besides the key under test, so that the case shows that key's problem alone.
CONTEXT = {"contract": 'app = "m:app"\n', "coverage": "branch = true\n"}


def table(name: str, body: str, *, context: bool = True) -> str:
    return f"[tool.backend-gates.{name}]\n" + (CONTEXT.get(name, "") if context else "") + body + "\n"


# (table, key, refused values as TOML): one case each, the table's context added.
REFUSED_VALUES: list[tuple[str, str, tuple[str, ...]]] = [
    ("contract", "app", ("5", '"shop"', '"shop main:app"', '"shop.main:app("', '"${NOPE_APP}"')),
    ("contract", "schema", ("5", '"http://10.99.0.1:8000/openapi.json"', '"https://api.example.com/openapi.json"',
                            '"http://localhost.example.com/openapi.json"')),
    ("contract", "max_examples", ("0", "100001", '"ten"', "true", "1.5", "nan", "inf", '"${BG_SECRET}"')),
    ("contract", "checks", ('"some"', "[]", "[1]", '"ALL"', "5")),
    ("contract", "exclude_checks", ('"not_a_server_error"', "[1]")),
    ("contract", "stateful", ('"yes"', "1")),
    ("contract", "max_time", ('"0s"', '"86401s"', '"1e20s"', '"fast"', "300", '"1e400s"', '"nans"', '"infs"', '"-5s"',
                              '"${NOPE_TIME}"', '"${BG_SECRET}"')),
    ("contract", "on_max_time", ('"ignore"', '"eror"', "1", "true")),
    ("contract", "require_success", ('"no"',)),
    ("contract", "headers", ('"Bearer x"', "{ Authorization = 5 }", '{ Authorization = "Bearer ${NOPE_TOKEN}" }')),
    ("contract", "allow_remote", ('"yes"',)),
    ("contract", "seed", ("-1", '"42"', "1.5", "9223372036854775808")),
    ("contract", "exclude_operations", ('["logout"]', '"POST /logout"', '["POST/logout"]', "[1]",
                                        '["GET /a", "nope"]')),
    ("security", "required_headers", ('"X-Frame-Options"', "[1]")),
    ("security", "forbid_leaks", ('"yes"',)),
    ("security", "sensitive_fields", ('"password"', "[1]")),
    ("security", "rate_limits", ('"10"', '{ "/login" = 10 }', '{ "POST /login" = 0 }', '{ "POST /login" = 10001 }',
                                 '{ "POST /login" = "5" }', '{ "POST /login" = nan }', '{ "POST /login" = inf }',
                                 '{ "FETCH /login" = 5 }')),
    ("security", "rules", ('{ server-baner = "warn" }', '{ server-banner = "off" }', '{ server-banner = "wran" }',
                           "{ server-banner = 1 }", '"warn"', '{ zzz = "warn" }')),
    ("security", "admin_only", ('"DELETE /users/*"', '["users"]', "[1]")),
    ("security", "shared", ('"GET /items/{id}"', '["GET/items"]')),
    ("security", "jwt_key", ('""', "5", '"keys/missing.pem"', '"${NOPE_JWT}"')),
    ("validation", "max_examples", ("0", "100001", '"x"', "nan", "inf", "-inf", "true")),
    ("validation", "deadline", ('"soon"', '"0s"', '"3601s"', "1", '"1e400s"', '"nans"', '"infs"')),
    ("latency", "samples", ("0", "100001", '"x"', "1.5", "nan")),
    ("latency", "budgets", ('"p95 < 50ms"', '{ "/items" = "p95 < 50ms" }', '{ "GET /items" = "p95 < banana" }',
                            '{ "GET /items" = [] }', '{ "GET /items" = [1] }', '{ "GET /items" = 5 }',
                            '{ "GET /items" = "p100.1 < 1ms" }', '{ "GET /items" = "p0 < 1ms" }',
                            '{ "GET /items" = "p95 < 86401s" }', '{ "GET /items" = "p95 < 1e20s" }',
                            '{ "GET /items" = "mean < 1e20ns" }', '{ "GET /items" = "p95 < 1e999ms" }',
                            '{ "GET /items" = "p95 < -1ms" }', '{ "GET /items" = "avg < 5ms" }',
                            '{ "GET /items" = "p95 5ms" }', '{ "GET /items" = "p95 << 5ms" }',
                            '{ "GET /items" = "p95 < 5" }', '{ "GET /items" = "rps > 5ms" }',
                            '{ "GET /items" = "failures < 101%" }',
                            '{ "tests/test_x.py::test_a" = ["p99 < 2ms", "bogus"] }')),
    ("latency", "regression", ('"10"', "10", '"1001%"', '"abc%"', '"1000.5%"', '"1e9%"', '"-5%"')),
    ("coverage", "source", ("1", "[1]")),
    ("coverage", "total", ('"ninety"', "-1", "101", "-0.5", "100.5", "nan", "inf", "true", '"90%"')),
    ("coverage", "branch", ('"yes"',)),
    ("coverage", "branches", ("101", "-1", '"80"', "nan")),
    ("coverage", "files", ('"x"', '{ "app/*" = 150 }', '{ "app/*" = "90" }', '{ "app.py" = nan }',
                           '{ "a.py" = -1 }')),
    ("coverage", "diff", ("5", '"origin/main"', "{}", '{ min = 90 }', '{ against = "" }', '{ against = "  " }',
                          "{ against = 5 }", '{ against = "--output=x" }', '{ against = "origin main" }',
                          '{ against = "${NOPE_REF}" }', '{ against = "origin/main", min = 120 }',
                          '{ against = "origin/main", min = "90" }', '{ against = "origin/main", min = nan }',
                          '{ against = "origin/main", mini = 90 }', '{ against = "origin/main", zzz = 1 }',
                          '{ against = 5, min = -1, minimum = 90 }')),
    ("race", "threads", ("0", "1", "257", '"x"', "2.5", "true", "nan")),
    ("race", "rounds", ("0", "10001", "1000000000000", "-1", '"5"', "inf")),
    ("race", "auto", ('"yes"',)),
    ("race", "schedule", ('"chaos"', '"stager"', "1", '"STAGGER"')),
    ("queries", "max_per_request", ('"ten"', "0", "1000001", "true", "1.5", "nan")),
    ("queries", "max_repeats", ("0", "1000001", '"x"', "-inf")),
    ("load", "locustfile", ("5",)),
    ("load", "users", ("0", "100001", '"x"', "1.5", "nan")),
    ("load", "spawn_rate", ("0", "-1", "100001", '"x"', "nan", "inf", "true")),
    ("load", "duration", ('"fast"', '"0s"', '"86401s"', '"1e20s"', "15", '"1e400s"', '"nans"', '"${NOPE_DURATION}"')),
    ("load", "thresholds", ('["p95 < banana"]', '["p95 < 200ms", "rps > 5ms"]', '["failures < 101%"]', "[]", "5",
                            '"rps > 10000001"', '["p95 < 1e20s"]')),
    ("load", "thresholds_per_endpoint", ('{ "/items" = "p95 < 1s" }', '{ "GET /items" = "p95 < soon" }', '"x"',
                                         '{ "GET /items" = [] }', '{ "GET /items" = "p95 < 1e20s" }')),
    ("load", "workers", ("-1", "257", '"2"', "nan")),
    ("load", "margin", ('"3601s"', '"x"', '"1e20s"', "5")),
    ("load", "remote_workers", ("2", "-1", "10001", '"2"')),
    ("load", "master_bind", ('"0.0.0.0"', '"h:0"', '"h:99999"', '"0.0.0.0:65536"', "5", '"host name:80"')),
    ("load", "workers_timeout", ('"0s"', '"3601s"', '"soon"', "60")),
]

# Unknown keys, one per table (with and without a close match), and whole-section problems.
OTHER_CASES: list[str] = [
    *(table(name, body) for name, body in [
        ("contract", "max_example = 5"), ("contract", "timeout = 5"), ("security", "rule = {}"),
        ("security", "forbid_leak = true"), ("validation", 'deadlin = "1s"'), ("latency", "sample = 5"),
        ("coverage", "totl = 90"), ("coverage", "branche = true"), ("race", "round = 3"),
        ("queries", "max_repeat = 3"), ("load", "user = 5"), ("load", "threshold = []"),
    ]),
    # contract: target problems (no context)
    table("contract", "max_examples = 5", context=False),
    table("contract", "", context=False),
    table("contract", 'app = "shop:app"\nbase_url = "http://127.0.0.1:1"', context=False),
    table("contract", 'base_url = "ftp://x"', context=False),
    table("contract", "base_url = 8000", context=False),
    table("contract", 'base_url = "127.0.0.1:8000"', context=False),
    table("contract", 'base_url = "${NOPE_URL}"', context=False),
    table("contract", 'base_url = "${BG_SECRET}"', context=False),
    table("contract", 'base_url = "http://127.0.0.1:8000"\nschema = "http://10.99.0.1:8000/openapi.json"',
          context=False),
    # coverage: branches needs branch = true
    table("coverage", "branches = 80", context=False),
    table("coverage", "branch = false\nbranches = 80", context=False),
    # load: remote workers and their companions
    table("load", 'remote_workers = 2\nmaster_bind = "0.0.0.0"'),
    table("load", 'remote_workers = 2\nlocustfile = "l.py"'),
    table("load", 'remote_workers = 2\nmaster_bind = "0.0.0.0:5557"'),
    # the root table
    '[tool.backend-gates]\nreport = 5\n',
    '[tool.backend-gates]\nreport = ""\n',
    '[tool.backend-gates]\nreport = "  "\n',
    '[tool.backend-gates]\nreport = "${NOPE_REPORT}"\n',
    '[tool.backend-gates]\nreprot = "x.json"\n',
    '[tool.backend-gates]\nzzz = 1\n',
    '[tool.backend-gates]\ncoverage = 5\n',
    '[tool.backend-gates.coverge]\ntotal = 90\n',
    '[tool.backend-gates.zzz]\na = 1\n',
    '[tool.backend-gates.reports]\na = 1\n',
    '[tool]\nbackend-gates = 5\n',
    '[tool.backend-gates.coverage\ntotal = 90\n',
    '[tool.backend-gates]\nreport = "a.json"\nreport = "b.json"\n',
    # several problems: all listed, in this order
    table("coverage", "totl = 90", context=False) + table("race", "rounds = -1"),
    table("contract", 'app = "shop:app"', context=False)
    + table("load", 'users = 0\nthresholds = ["p95 < banana"]\nthresholds_per_endpoint = { "/items" = "p95 < 1s" }'),
    table("queries", 'max_per_request = "ten"\nmax_repeat = 3'),
    table("validation", 'max_examples = 0\ndeadline = "soon"'),
    table("contract", 'base_url = "${BG_SECRET}"\nmax_time = "${BG_SECRET}"', context=False)
    + table("race", "threads = 4") + table("load", 'duration = "${BG_SECRET}"'),
    '[tool.backend-gates]\nreprot = "x"\n' + "".join(table(name, "zzz = 1") for name in (
        "contract", "security", "validation", "latency", "coverage", "race", "queries", "load")),
]


def config_cases() -> list[str]:
    cases = [table(name, f"{key} = {value}", context=f"{key} =" not in CONTEXT.get(name, ""))
             for name, key, values in REFUSED_VALUES for value in values]
    return cases + OTHER_CASES


def config_error(directory: Path, toml: str) -> str | None:
    """The message load_config gives for `toml` as pyproject.toml, or None when it accepts it."""
    path = directory / "pyproject.toml"
    path.write_text(toml, encoding="utf-8")
    try:
        load_config(path, table_parsers(), environ=ENVIRON)
    except Exception as exc:  # the error family may be renamed; its text may not change
        return str(exc).replace(str(directory), "<dir>")
    return None


def test_every_configuration_error_text_is_pinned(tmp_path: Path) -> None:
    cases = config_cases()
    assert len(cases) >= 150 and len(set(cases)) == len(cases)
    blocks = []
    accepted = []
    for toml in cases:
        message = config_error(tmp_path, toml)
        if message is None:
            accepted.append(toml)
            continue
        assert ENVIRON["BG_SECRET"] not in message, message
        blocks.append(f"--- pyproject.toml\n{toml}--- error\n{message}\n")
    assert not accepted, "bad configuration accepted:\n" + "\n".join(accepted)
    check_snapshot("config_errors.txt", f"{len(cases)} cases\n\n" + "\n".join(blocks))


# --------------------------------------------------------------------------
# Usage errors end to end: the exact stderr of `pytest --backend-gates`
# --------------------------------------------------------------------------

TINY_APP = '''
from fastapi import FastAPI

app = FastAPI()


@app.get("/items")
def items() -> list[int]:
    return []
'''

# (command-line arguments, pyproject.toml): parser errors as printed, the command line, and
# problems found when the gates start.
USAGE_CASES: list[tuple[tuple[str, ...], str]] = [
    (("--backend-gates",), table("coverage", "totl = 90", context=False)),
    (("--backend-gates",), table("coverage", "totl = 90", context=False) + table("race", "rounds = -1")),
    (("--backend-gates=coverage,contrat",), table("coverage", "total = 1", context=False)),
    (("--backend-gates=coverage",), '[tool.backend-gates]\nreport = "x.json"\n'),
    (("--backend-gates",), table("contract", 'checks = ["not_a_server_eror"]')),
    (("--backend-gates",), table("contract", 'base_url = "http://192.0.2.10:8000"', context=False)),
    (("--backend-gates=load",), table("contract", "") + table("load", 'locustfile = "nope.py"')),
    (("--backend-gates",), table("race", "auto = true")),
]


def test_usage_errors_end_to_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(m=TINY_APP, test_never="def test_never_runs():\n    raise AssertionError('tests must not run')\n")
    blocks = []
    for args, toml in USAGE_CASES:
        pytester.makepyprojecttoml('[tool.pytest.ini_options]\npythonpath = ["."]\n' + toml)
        result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
        stderr = "\n".join(result.stderr.lines).replace(str(pytester.path), "<project>")
        assert "Traceback" not in stderr and "tests must not run" not in result.stdout.str()
        blocks.append(f"--- pytest {' '.join(args)}\n{toml}--- stderr\n{stderr}\n")
    check_snapshot("usage_errors.txt", "\n".join(blocks))


# --------------------------------------------------------------------------
# The demo: `python3 dev.py demo` is `python -m pytest --backend-gates` in examples/shop
# --------------------------------------------------------------------------

DEMO_SEED = "12345"  # the contract gate's seed; with it, cases and responses counted are the same every run
PLACEHOLDER = "<varies>"
# Keys whose values a run changes, wherever they appear. The demo (contract, security, coverage)
# has no latency or load gate, hence no latency figures, rates or request counts that depend on timing.
# How many cases schemathesis generates for a seed is the same run after run of one build, but
# not across builds: it depends on the process's state when the engine starts (moving one import
# of this package, gates/queries/capture.py, from service/serving.py to the queries gate turned 550
# cases into 603 with the same seed and app, nothing else changed). So the counts that follow from
# it (cases, responses checked) are pinned as "a number", everything else as it is.
VARYING_KEYS = {"duration_s", "xdist_workers", "cases", "responses"}
_CASE_COUNTS = re.compile(r"\b\d+ (cases|responses checked)\b")


def normalize_report(data: Any, project: str) -> Any:
    if isinstance(data, dict):
        return {key: PLACEHOLDER if key in VARYING_KEYS else normalize_report(value, project)
                for key, value in data.items()}
    if isinstance(data, list):
        return [normalize_report(value, project) for value in data]
    if isinstance(data, str):
        return normalize_text(data, project)
    return data


def normalize_text(text: str, project: str) -> str:
    text = text.replace(project, "<project>")
    text = _CASE_COUNTS.sub(r"<n> \1", text)
    # durations in texts ("in 8.33s", "took 120ms"): none in the demo today, a run changes them
    return re.sub(r"\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s)\b", "<time>", text)


def demo_terminal(lines: list[str], project: str) -> str:
    """The plugin's lines in the demo's terminal output: its header lines and its summary section."""
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"=+ backend gates =+", line))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("backend gates "))
    header = [line for line in lines[:start] if line.startswith(("backend-gates", "backend gates"))]
    return "\n".join(normalize_text(line, project) for line in [*header, "", *lines[start:end + 1]]) + "\n"


def test_demo_report_is_pinned(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(EXAMPLES / "shop", pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
        "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info", ".coverage*", "backend-gates.json"))
    monkeypatch.setenv("COLUMNS", "80")
    result = pytester.runpytest_subprocess("--backend-gates", f"--backend-gates-seed={DEMO_SEED}")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    project = str(pytester.path)
    report = json.loads((pytester.path / "backend-gates.json").read_text())
    check_snapshot("demo_report.json", json.dumps(normalize_report(report, project), indent=2) + "\n")
    check_snapshot("demo_terminal.txt", demo_terminal(result.stdout.lines, project))
