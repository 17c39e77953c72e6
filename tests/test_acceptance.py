"""Accepted findings (SPEC section 7): the baseline, `ignore` entries and the coverage ratchet.

The flow a team follows: turn the gates on (the first run fails on what already exists), accept
it with --backend-gates-update-baseline, then fail only on what is new; fixed findings are
listed for pruning, and coverage may rise but not fall."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import TESTS_FULL, gate, make_app, read_report

from pytest_backend_gates.acceptance.fingerprint import fingerprint
from pytest_backend_gates.result import Violation

COVERAGE = """
[tool.backend-gates]
report = "gates.json"
baseline = ".backend-gates/baseline.json"
{extra}

[tool.backend-gates.coverage]
source = ["app"]
total = 95

[tool.backend-gates.coverage.files]
"app/auth.py" = 100
"app/calc.py" = 100
"""

# Covers calc fully and auth partly: auth.py under its minimum, total under 95.
TESTS_AUTH_PARTLY = TESTS_FULL.replace('("ab", False), ("abc", True), ("abd", False)', '("abc", True)')
# Covers less of calc too: a new file violation, and a total below the recorded one.
TESTS_LESS = TESTS_AUTH_PARTLY.replace('("TENOFF", 90), ("NONE", 100)', '("NONE", 100)')


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    # A subprocess each: coverage.py measures one run per process.
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:randomly", *args)
    return result, read_report(pytester)


def baseline_file(pytester: pytest.Pytester) -> dict[str, Any]:
    return json.loads((pytester.path / ".backend-gates" / "baseline.json").read_text())


def test_record_then_fail_only_on_new_then_list_fixed_and_ratchet(pytester: pytest.Pytester) -> None:
    make_app(pytester, COVERAGE.format(extra=""), tests=TESTS_AUTH_PARTLY)

    # 1. Turned on over existing findings: it fails, and says the baseline does not exist yet.
    result, report = run(pytester)
    assert result.ret == 1
    coverage = gate(report, "coverage")
    assert coverage["status"] == "failed"
    assert {v["check"] for v in coverage["violations"]} == {"coverage-total", "coverage-file"}
    assert all(len(v["fingerprint"]) == 16 and "accepted" not in v for v in coverage["violations"])
    result.stdout.fnmatch_lines(["backend gates: baseline */.backend-gates/baseline.json does not exist yet*"])

    # 2. Accept them: the run passes and writes a sorted, reviewable file.
    result, report = run(pytester, "--backend-gates-update-baseline")
    assert result.ret == 0, result.stdout.str()
    written = baseline_file(pytester)
    assert [(e["gate"], e["check"], e["where"]) for e in written["violations"]] == [
        ("coverage", "coverage-file", "app/auth.py"), ("coverage", "coverage-total", "total")]
    assert written["figures"]["coverage"]["total"] == gate(report, "coverage")["measured"]["total"]
    result.stdout.fnmatch_lines(["backend gates: baseline written to *baseline.json: 2 accepted violations*"])
    text = (pytester.path / ".backend-gates" / "baseline.json").read_text()

    # 3. The same code again: passes, the violations still shown as accepted.
    result, report = run(pytester)
    assert result.ret == 0, result.stdout.str()
    coverage = gate(report, "coverage")
    assert coverage["status"] == "passed"
    assert "every violation is accepted (2)" in coverage["summary"]
    assert [(v["accepted"], v["reason"]) for v in coverage["violations"]] == [(True, "in the baseline")] * 2
    result.stdout.fnmatch_lines(["--- coverage: warnings and 2 accepted violations ---",
                                 "accepted: 2 violations (2 in the baseline); -v lists them"])
    # Rewriting from an unchanged run gives the same bytes (a reviewable, stable diff).
    run(pytester, "--backend-gates-update-baseline")
    assert (pytester.path / ".backend-gates" / "baseline.json").read_text() == text

    # 4. Less tested: a new file violation fails, and the total fell below its baseline value.
    pytester.makepyfile(test_app=TESTS_LESS)
    result, report = run(pytester)
    assert result.ret == 1
    coverage = gate(report, "coverage")
    new = [v for v in coverage["violations"] if not v.get("accepted")]
    assert {(v["check"], v["where"]) for v in new} == {("coverage-file", "app/calc.py"), ("ratchet", "total")}
    ratchet = next(v for v in new if v["check"] == "ratchet")
    assert "fell to" in ratchet["message"] and "below its baseline value" in ratchet["message"]
    accepted = [v for v in coverage["violations"] if v.get("accepted")]
    assert {v["where"] for v in accepted} == {"app/auth.py", "total"}

    # 5. Everything fixed: passes, and the entries no longer seen are listed for pruning.
    pytester.makepyfile(test_app=TESTS_FULL)
    result, report = run(pytester)
    assert result.ret == 0, result.stdout.str()
    coverage = gate(report, "coverage")
    assert coverage["violations"] == []
    stale = [w for w in coverage["warnings"] if w.startswith("baseline:")]
    assert stale == ["baseline: 2 accepted violations no longer seen (fixed?): app/auth.py [coverage-file]; "
                     "total [coverage-total]; prune baseline.json with --backend-gates-update-baseline"]


def test_partial_run_lists_nothing_stale_and_keeps_entries_when_updating(pytester: pytest.Pytester) -> None:
    make_app(pytester, COVERAGE.format(extra=""), tests=TESTS_AUTH_PARTLY)
    assert run(pytester, "--backend-gates-update-baseline")[0].ret == 0
    before = baseline_file(pytester)
    pytester.makepyfile(test_app=TESTS_AUTH_PARTLY.replace('("abc", True)', '("zzz", False)'))  # covers less
    result, report = run(pytester, "-k", "tax")
    coverage = gate(report, "coverage")
    assert coverage["status"] == "skipped" and coverage["violations"] == [], "a partial run ratchets nothing"
    result, report = run(pytester, "--backend-gates-update-baseline", "-k", "tax")
    assert not any(w.startswith("baseline:") for w in gate(report, "coverage")["warnings"])
    assert {e["fingerprint"] for e in baseline_file(pytester)["violations"]} >= \
        {e["fingerprint"] for e in before["violations"]}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_ignore_entry_accepts_with_its_reason_and_unused_one_is_a_warning(pytester: pytest.Pytester,
                                                                         workers: list[str]) -> None:
    ignore = ('ignore = [\n'
              '  { gate = "coverage", check = "coverage-file", where = "app/auth*", reason = "legacy module, tracked in #42" },\n'
              '  { gate = "coverage", where = "app/gone.py", reason = "was flaky" },\n'
              ']')
    make_app(pytester, COVERAGE.format(extra=ignore).replace("total = 95", "total = 10"), tests=TESTS_AUTH_PARTLY)
    result, report = run(pytester, *workers)
    assert result.ret == 0, result.stdout.str()
    coverage = gate(report, "coverage")
    assert [(v["where"], v["accepted"], v["reason"]) for v in coverage["violations"]] == [
        ("app/auth.py", True, "legacy module, tracked in #42")]
    assert any(w.startswith('ignore[1] { gate = "coverage", where = "app/gone.py" } matched no violation '
                            "(reason: was flaky)") for w in coverage["warnings"])


@pytest.mark.parametrize(("entry", "expected"), [
    ('{ gate = "coverage", where = "x" }', "*ignore[[]0[]]] reason: missing; expected why this is accepted*"),
    ('{ gate = "coverage", where = "x", reason = " " }', "*ignore[[]0[]]] reason: ' ' is empty; say why*"),
    ('{ gate = "coverag", reason = "r" }', "*ignore[[]0[]]] gate: 'coverag' is not a gate; did you mean 'coverage'?*"),
    ('{ reason = "r" }', "*ignore[[]0[]]] gate: an entry without gate, check or where would accept every violation*"),
    ('{ gate = "coverage", reason = "r", file = "x" }', "*ignore[[]0[]]] file: unknown key;*allowed keys: gate, check, where, reason*"),
    ('"coverage"', "*[[]tool.backend-gates[]] ignore: 'coverage' is not a list of tables*"),
])
def test_bad_ignore_entry_is_one_clear_usage_error(pytester: pytest.Pytester, entry: str, expected: str) -> None:
    make_app(pytester, COVERAGE.format(extra=f"ignore = [{entry}]" if entry.startswith("{") else f"ignore = {entry}"))
    result = pytester.runpytest_inprocess("--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "Traceback" not in result.stderr.str()


def test_broken_baseline_file_and_update_without_baseline_are_usage_errors(pytester: pytest.Pytester) -> None:
    make_app(pytester, COVERAGE.format(extra=""))
    (pytester.path / ".backend-gates").mkdir()
    (pytester.path / ".backend-gates" / "baseline.json").write_text("{not json")
    result = pytester.runpytest_inprocess("--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*baseline: */baseline.json: is not valid JSON*rewrite it with --backend-gates-update-baseline*"])

    pytester.makepyprojecttoml(COVERAGE.format(extra="").replace('baseline = ".backend-gates/baseline.json"', ""))
    result = pytester.runpytest_inprocess("--backend-gates", "--backend-gates-update-baseline")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--backend-gates-update-baseline: there is no baseline file to write; add "
                                 'baseline = ".backend-gates/baseline.json" to [[]tool.backend-gates[]]*'])


@pytest.mark.parametrize(("first", "second"), [
    # counts, timings, seeds, line numbers and generated inputs change from run to run
    ("3 of 80 requests answered 5xx (first: round 2) at app/x.py:57 in create; input '\\x00\\ud7ff q'",
     "41 of 80 requests answered 5xx (first: round 7) at app/x.py:61 in create; input 'zz top'"),
    ("p95 131.2ms over budget 100ms (seed 12345)\nsamples: 1, 2, 3", "p95 188.9ms over budget 100ms (seed 99)"),
    ("user 7f3e9a1c-0d3b-4a57-9d0e-2f1c3b4a5d6e read order 0123abcd4567ef89", "user 00000000-1111-2222-3333-444444444444 read order ffff0000aaaa1111"),
])
def test_fingerprint_ignores_what_varies_between_runs(first: str, second: str) -> None:
    assert fingerprint("race", Violation("POST /orders", "race-server-error", first)) == \
        fingerprint("race", Violation("POST /orders", "race-server-error", second))


@pytest.mark.parametrize(("first", "second"), [
    ("the body field 'is_admin' was accepted", "the body field 'role' was accepted"),
    ("response lacks header X-Frame-Options", "response lacks header Content-Security-Policy"),
])
def test_fingerprint_keeps_what_names_the_finding(first: str, second: str) -> None:
    assert fingerprint("security", Violation("POST /users", "mass-assignment", first)) != \
        fingerprint("security", Violation("POST /users", "mass-assignment", second))
    assert fingerprint("security", Violation("POST /users", "x", first)) != \
        fingerprint("security", Violation("POST /users", "y", first))
    assert fingerprint("security", Violation("POST /users", "x", first)) != \
        fingerprint("security", Violation("POST /items", "x", first))


def test_baseline_path_is_relative_to_pyproject(pytester: pytest.Pytester) -> None:
    make_app(pytester, COVERAGE.format(extra=""), tests=TESTS_AUTH_PARTLY)
    sub = pytester.mkdir("sub")
    result = pytester.runpytest_subprocess("--backend-gates", "--backend-gates-update-baseline",
                                          f"--rootdir={pytester.path}", str(Path(pytester.path, "test_app.py")))
    assert result.ret == 0, result.stdout.str()
    assert (pytester.path / ".backend-gates" / "baseline.json").exists()
    assert not (sub / ".backend-gates").exists()


def test_http_findings_keep_their_fingerprints_across_seeds(pytester: pytest.Pytester) -> None:
    """Recorded with one seed, the contract and security findings of the same app are the same
    findings with other seeds: other generated inputs, counts and timings, same fingerprints."""
    from test_contract_gate import BUGGY, contract_project

    contract_project(pytester, BUGGY, extra="""
        [tool.backend-gates.security]
        required_headers = ["X-Content-Type-Options"]
    """)
    section = "[tool.backend-gates]\n"
    toml = (pytester.path / "pyproject.toml").read_text()
    (pytester.path / "pyproject.toml").write_text(
        toml.replace(section, section + 'baseline = "baseline.json"\n', 1))
    recorded = pytester.runpytest_subprocess("--backend-gates", "--backend-gates-seed=1",
                                             "--backend-gates-update-baseline", "-p", "no:cacheprovider")
    assert recorded.ret == 0, recorded.stdout.str()
    baseline = json.loads((pytester.path / "baseline.json").read_text())
    accepted = {(e["gate"], e["check"], e["where"]): e["fingerprint"] for e in baseline["violations"]}
    assert ("contract", "not_a_server_error", "GET /ratio") in accepted
    assert any(gate_name == "security" for gate_name, _, _ in accepted), accepted
    for seed in (2, 3):
        result = pytester.runpytest_subprocess("--backend-gates", f"--backend-gates-seed={seed}", "-p", "no:cacheprovider")
        report = read_report(pytester)
        found = {(g["gate"], v["check"], v["where"]): v["fingerprint"] for g in report["gates"] for v in g["violations"]}
        assert found == accepted, f"seed {seed}"
        assert result.ret == 0, result.stdout.str()
        assert all(v["accepted"] for g in report["gates"] for v in g["violations"])


def test_accepted_test_failure_is_xfailed_and_a_new_one_still_fails(pytester: pytest.Pytester) -> None:
    """A gate's failed test (here the validation gate's) accepted by an ignore entry is reported
    as xfailed with the reason: accepted findings never fail the run; other tests still do."""
    from test_validation_gate import project

    project(pytester, table='''
        [tool.backend-gates.validation]
        max_examples = 50
    ''')
    toml = (pytester.path / "pyproject.toml").read_text()
    (pytester.path / "pyproject.toml").write_text(toml.replace('report = "gates.json"\n', 'report = "gates.json"\n'
        'ignore = [{ gate = "validation", where = "test_parsers.py::test_buggy", reason = "parser rewrite, PROJ-12" }]\n'))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider", "-rx")
    result.assert_outcomes(passed=1, failed=1, xfailed=1)  # test_valid_input_crashes is not accepted
    assert result.ret == 1
    result.stdout.fnmatch_lines(["XFAIL test_parsers.py::test_buggy - accepted by backend-gates (parser rewrite, PROJ-12)"])
    validation = gate(read_report(pytester), "validation")
    assert validation["status"] == "failed"
    by_where = {v["where"]: v for v in validation["violations"]}
    assert by_where["test_parsers.py::test_buggy"]["accepted"] is True
    assert by_where["test_parsers.py::test_buggy"]["file"] == "test_parsers.py"
    assert "accepted" not in by_where["test_parsers.py::test_valid_input_crashes"]
