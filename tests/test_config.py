"""Configuration: every problem is one clear usage error (exit 4), before any test runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_backend_gates.config import ConfigError, load_config, parse_section
from pytest_backend_gates.gates.registry import table_parsers
from pytest_backend_gates.settings import CoverageSettings, LatencySettings

# (name, pyproject text, what the message must contain)
BAD_CONFIGS = [
    ("unknown-key", "[tool.backend-gates.coverage]\ntotl = 90",
     ["[tool.backend-gates.coverage] totl: unknown key; did you mean 'total'?"]),
    ("unknown-gate", "[tool.backend-gates.coverge]\ntotal = 90",
     ["[tool.backend-gates.coverge]: unknown gate or key 'coverge'; did you mean 'coverage'?"]),
    ("wrong-type", "[tool.backend-gates.coverage]\ntotal = 'ninety'",
     ["[tool.backend-gates.coverage] total: 'ninety' is not a number; expected a percentage from 0 to 100"]),
    ("out-of-range", "[tool.backend-gates.coverage]\nfiles = { 'app/*' = 150 }",
     ['[tool.backend-gates.coverage] files."app/*": 150 is out of range; expected a percentage from 0 to 100']),
    ("bad-budget", "[tool.backend-gates.latency]\nbudgets = { 'GET /items' = 'p95 < banana' }",
     ["[tool.backend-gates.latency] budgets.\"GET /items\": 'p95 < banana': 'banana' is not a duration; "
      "expected e.g. '50ms', '0.2s'"]),
    ("bad-threads", "[tool.backend-gates.race]\nthreads = 0",
     ["[tool.backend-gates.race] threads: 0 is out of range; expected an integer from 2 to 256"]),
    ("missing-env", "[tool.backend-gates.contract]\napp = 'shop:app'\nheaders = { Authorization = 'Bearer ${NOPE_TOKEN}' }",
     ["[tool.backend-gates.contract] headers.Authorization: 'Bearer ${NOPE_TOKEN}' uses environment variable "
      "NOPE_TOKEN, which is not set"]),
    ("app-and-base-url", "[tool.backend-gates.contract]\napp = 'shop:app'\nbase_url = 'http://127.0.0.1:1'",
     ["[tool.backend-gates.contract] base_url: 'http://127.0.0.1:1' is set together with app"]),
    ("unknown-rule", "[tool.backend-gates.security]\nrules = { server-baner = 'warn' }",
     ["[tool.backend-gates.security] rules.server-baner: unknown rule; did you mean 'server-banner'?"]),
    ("bad-severity", "[tool.backend-gates.security]\nrules = { server-banner = 'off' }",
     ["[tool.backend-gates.security] rules.server-banner: 'off' is not allowed; expected one of fail, warn, ignore"]),
    ("not-a-bool", "[tool.backend-gates.contract]\napp = 'shop:app'\nstateful = 'yes'",
     ["[tool.backend-gates.contract] stateful: 'yes' is not a boolean; expected true or false"]),
    ("bad-duration", "[tool.backend-gates.load]\nduration = 'fast'",
     ["[tool.backend-gates.load] duration: 'fast'"]),
    ("branches-without-branch", "[tool.backend-gates.coverage]\nbranches = 80",
     ["[tool.backend-gates.coverage] branches: 80 needs branch = true"]),
    ("top-level-typo", "[tool.backend-gates]\nreprot = 'x.json'",
     ["[tool.backend-gates] reprot: unknown key; did you mean 'report'?"]),
    ("bad-threshold", "[tool.backend-gates.load]\nthresholds = ['p95 < 200ms', 'rps > 5ms']",
     ["[tool.backend-gates.load] thresholds: 'rps > 5ms': rps takes a plain number"]),
    ("rate-limit-key", "[tool.backend-gates.security]\nrate_limits = { '/login' = 10 }",
     ['[tool.backend-gates.security] rate_limits."/login": not an API operation']),
    ("toml-syntax", "[tool.backend-gates.coverage\ntotal = 90", ["pyproject.toml: "]),
]


@pytest.mark.parametrize("text, expected", [(t, e) for _, t, e in BAD_CONFIGS], ids=[n for n, _, _ in BAD_CONFIGS])
def test_bad_configuration_is_one_usage_error(pytester: pytest.Pytester, text: str, expected: list[str]) -> None:
    pytester.makepyprojecttoml(text)
    pytester.makepyfile("def test_never_runs(): raise AssertionError('tests must not run')")
    result = pytester.runpytest_inprocess("--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stderr.str()
    for fragment in expected:
        assert fragment in output
    assert "Traceback" not in output + result.stdout.str()
    assert "tests must not run" not in result.stdout.str()


def test_every_problem_is_listed_together(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("""
        [tool.backend-gates.coverage]
        totl = 90
        [tool.backend-gates.race]
        rounds = -1
    """)
    result = pytester.runpytest_inprocess("--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: backend-gates configuration has 2 problems:",
        "*coverage] totl: unknown key*",
        "*race] rounds: -1 is out of range; expected an integer from 1 to 10000",
    ])


def test_unknown_gate_on_command_line(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.backend-gates.coverage]\ntotal = 1")
    result = pytester.runpytest_inprocess("--backend-gates=coverage,contrat")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--backend-gates=coverage,contrat: unknown gate 'contrat'; did you mean 'contract'? "
                                 "valid gates: contract, security, validation, latency, coverage, race, queries, load"])


def test_path_swallowed_by_the_flag_is_explained(pytester: pytest.Pytester) -> None:
    pytester.mkdir("tests")
    result = pytester.runpytest_inprocess("--backend-gates", "tests")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown gate 'tests'; 'tests' is a path that the flag took as its value: "
                                 "write `pytest tests --backend-gates` or `pytest --backend-gates=all tests`*"])


def test_gate_selected_without_its_table(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.backend-gates]\nreport = 'x.json'")
    result = pytester.runpytest_inprocess("--backend-gates=coverage")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*the coverage gate needs a [[]tool.backend-gates.coverage[]] table*"])


def test_missing_coverage_source_dir(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.backend-gates.coverage]\nsource = ['src/shopp']\ntotal = 80")
    result = pytester.runpytest_inprocess("--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*coverage] source: 'src/shopp' does not exist under *"])


def test_passive_ignores_bad_configuration(pytester: pytest.Pytester) -> None:
    """Without the flag the plugin reads nothing: a broken table cannot break a normal run."""
    pytester.makepyprojecttoml("[tool.backend-gates.coverage]\ntotl = 90")
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_inprocess()
    assert result.ret == 0


# -- parsing into typed settings ----------------------------------------------------------


def _parse(text: str, environ: dict[str, str] | None = None) -> object:
    import tomllib

    section = tomllib.loads(textwrap.dedent(text))["tool"]["backend-gates"]
    return parse_section(section, Path("/p/pyproject.toml"), table_parsers(), environ or {})


def test_settings_are_typed_with_defaults() -> None:
    config = _parse("""
        [tool.backend-gates]
        report = "out/gates.json"
        [tool.backend-gates.coverage]
        source = "src/shop"
        total = 90
        [tool.backend-gates.latency]
        budgets = { "GET /items" = "p95 < 50ms", "tests/test_perf.py::test_hash" = ["p99 < 2ms", "max < 10ms"] }
    """)
    assert config.report == Path("/p/out/gates.json")
    assert config.tables["coverage"] == CoverageSettings(source=("src/shop",), total=90.0)
    latency = config.tables["latency"]
    assert isinstance(latency, LatencySettings)
    assert latency.samples == 50
    assert [b.render() for b in latency.budgets["GET /items"]] == ["p95 < 50ms"]
    assert latency.budgets["tests/test_perf.py::test_hash"][1].value == pytest.approx(0.010)


def test_env_interpolation_and_redaction() -> None:
    config = _parse("""
        [tool.backend-gates.contract]
        base_url = "${BASE:-http://127.0.0.1:8000}"
        headers = { Authorization = "Bearer ${API_TOKEN}", X-Price = "$$5" }
    """, {"API_TOKEN": "s3cr3t-value"})
    contract = config.tables["contract"]
    assert contract.headers == {"Authorization": "Bearer s3cr3t-value", "X-Price": "$5"}
    assert contract.base_url == "http://127.0.0.1:8000"
    assert config.redactor.redact("curl -H 'Authorization: Bearer s3cr3t-value'") == \
        "curl -H 'Authorization: Bearer ${API_TOKEN}'"
    assert config.redactor.redact_data({"k": ["s3cr3t-value"]}) == {"k": ["${API_TOKEN}"]}


def test_no_pyproject_means_no_gates(tmp_path: Path) -> None:
    assert load_config(None, table_parsers()).tables == {}


def test_errors_never_show_interpolated_values() -> None:
    with pytest.raises(ConfigError) as info:
        _parse("""
            [tool.backend-gates.contract]
            base_url = "${TARGET}"
            max_time = "${TIMEOUT}"
            [tool.backend-gates.race]
            threads = 4
            [tool.backend-gates.load]
            duration = "${TIMEOUT}"
        """, {"TARGET": "ftp://hunter2@example", "TIMEOUT": "hunter2"})
    assert "hunter2" not in str(info.value)
    assert "'${TARGET}' is not an http(s) URL" in str(info.value)
    assert "max_time: '${TIMEOUT}' is not a duration" in str(info.value)


def test_every_unknown_gate_on_command_line_is_named(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.backend-gates.coverage]\ntotal = 1")
    pytester.makepyfile("def test_never_runs(): raise AssertionError('tests must not run')")
    result = pytester.runpytest_inprocess("--backend-gates=contrat,coverage,secruity,zzz")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --backend-gates=contrat,coverage,secruity,zzz: unknown gates "
                                 "'contrat' (did you mean 'contract'?), 'secruity' (did you mean 'security'?), 'zzz'; "
                                 "valid gates: contract, security, validation, latency, coverage, race, queries, load"])


def test_empty_report_key_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        _parse('[tool.backend-gates]\nreport = ""')
    assert info.value.messages == ["[tool.backend-gates] report: '' is empty; expected a file path such as "
                                   "'backend-gates.json' (or leave the key out for no JSON report)"]


def test_missing_coverage_source_package_is_named(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.backend-gates]\nreport = 'gates.json'\n"
                               "[tool.backend-gates.coverage]\nsource = ['shopp']\ntotal = 80")
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["coverage  ERROR   could not measure coverage: *; [[]tool.backend-gates.coverage[]] "
                                 "source 'shopp': neither a directory under * nor an importable package*"])
