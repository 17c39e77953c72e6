"""The gate run as a whole: exit status, JSON report, terminal summary, third-party gates,
crashes, Ctrl-C, secrets and xdist."""

from __future__ import annotations

import json

import pytest
from conftest import COVERAGE_SOURCE_ONLY, TESTS_FULL, gate, make_app, read_report

# A third-party gate, loaded with -p: fails when more tests marked `slow` ran than allowed.
SLOW_GATE_PLUGIN = '''
import pytest
from pytest_backend_gates import Gate, GateResult, Status, Violation


def parse(table):
    return {
        "max_slow": table.integer("max_slow", 0, minimum=0),
        "token": table.string("token"),
        "crash": table.boolean("crash", False),
    }


class SlowTestsGate(Gate):
    name = "slowtests"
    requires_table = True
    settings_parser = parse
    settings_keys = ("max_slow", "token", "crash")

    def __init__(self, settings, context):
        super().__init__(settings, context)
        self.slow = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):  # runs where the test runs (a worker under xdist)
        if item.get_closest_marker("slow"):
            self.slow.append(item.nodeid)
        return (yield)

    def worker_output(self):
        return self.slow

    def absorb_worker_output(self, data):
        self.slow.extend(data)

    def evaluate(self):
        if self.settings["crash"]:
            raise RuntimeError("slow-test bookkeeping went wrong")
        allowed = self.settings["max_slow"]
        violations = [
            Violation(where=nodeid, check="slow-test", message=f"marked slow (max {allowed} allowed)",
                      reproduce=f"curl -H 'Authorization: Bearer {self.settings['token']}' http://127.0.0.1/")
            for nodeid in sorted(self.slow)
        ] if len(self.slow) > allowed else []
        return GateResult(gate=self.name, status=Status.FAILED if violations else Status.PASSED,
                          summary=f"{len(self.slow)} slow tests (max {allowed})", violations=violations,
                          measured={"slow": len(self.slow)}, threshold={"max_slow": allowed})


def pytest_backend_gates_register_gates(config):
    return [SlowTestsGate]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a slow test")


def pytest_backend_gates_result(config, result):
    print(f"[hook] {result.gate} -> {result.status.value}")
'''

SLOW_TESTS = '''
import pytest

@pytest.mark.slow
def test_a(): pass

@pytest.mark.slow
def test_b(): pass

def test_c(): pass
'''


def slow_project(pytester: pytest.Pytester, table: str) -> None:
    pytester.makepyprojecttoml(f'[tool.backend-gates]\nreport = "gates.json"\n[tool.backend-gates.slowtests]\n{table}')
    pytester.makepyfile(slowgate=SLOW_GATE_PLUGIN, test_things=SLOW_TESTS)
    pytester.syspathinsert()


def test_failed_gate_turns_passing_run_into_exit_1(pytester: pytest.Pytester) -> None:
    slow_project(pytester, "max_slow = 1")
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates")
    result.assert_outcomes(passed=3)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*= backend gates =*",
        "slowtests  FAILED  2 slow tests (max 1) | worst: test_things.py::test_a: marked slow (max 1 allowed)",
        "",
        "--- slowtests: 2 violations ---",
        "test_things.py::test_a [[]slow-test[]]: marked slow (max 1 allowed)",
        "    reproduce: curl *",
        "test_things.py::test_b [[]slow-test[]]: marked slow (max 1 allowed)",
        "*",
        "backend gates FAILED: slowtests failed; report: *gates.json",
    ])
    report = read_report(pytester)
    assert report["version"] == 1 and report["passed"] is False and report["interrupted"] is False
    slow = gate(report, "slowtests")
    assert slow["status"] == "failed"
    assert [v["where"] for v in slow["violations"]] == ["test_things.py::test_a", "test_things.py::test_b"]
    assert set(slow) == {"gate", "status", "summary", "violations", "warnings", "measured", "threshold", "duration_s"}
    assert "[hook] slowtests -> failed" in result.stdout.str()


def test_passing_gate_keeps_exit_0(pytester: pytest.Pytester) -> None:
    slow_project(pytester, "max_slow = 2")
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates")
    assert result.ret == 0
    assert read_report(pytester)["passed"] is True
    result.stdout.fnmatch_lines(["backend gates passed: 1 gate; report: *gates.json"])


def test_failing_test_is_not_masked_and_gate_still_reported(pytester: pytest.Pytester) -> None:
    slow_project(pytester, "max_slow = 5")
    pytester.makepyfile(test_broken="def test_broken(): assert 1 == 2")
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates")
    assert result.ret == 1
    result.assert_outcomes(passed=3, failed=1)
    assert gate(read_report(pytester), "slowtests")["status"] == "passed"


def test_failed_gate_with_no_tests_collected_is_exit_1(pytester: pytest.Pytester) -> None:
    slow_project(pytester, "max_slow = 0\ncrash = true")
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates", "-k", "nothing_matches")
    assert result.ret == 1


def test_gate_crash_is_error_with_reason_and_report_is_complete(pytester: pytest.Pytester) -> None:
    slow_project(pytester, "crash = true")
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates")
    assert result.ret == 1
    slow = gate(read_report(pytester), "slowtests")
    assert slow["status"] == "error"
    assert "the gate crashed: RuntimeError: slow-test bookkeeping went wrong (at slowgate.py:" in slow["summary"]
    assert "Traceback" in slow["warnings"][0]  # in the report, for a bug report
    assert "Traceback" not in result.stdout.str()  # on the terminal only with -v
    result.stdout.fnmatch_lines(["slowtests  ERROR   the gate crashed: RuntimeError*"])


def test_report_option_overrides_config(pytester: pytest.Pytester) -> None:
    slow_project(pytester, "max_slow = 2")
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates", "--backend-gates-report=out/r.json")
    assert result.ret == 0
    assert read_report(pytester, "out/r.json")["passed"] is True
    assert not (pytester.path / "gates.json").exists()
    assert not list((pytester.path / "out").glob(".*tmp")), "no temporary file left behind"


def test_unknown_key_of_third_party_gate(pytester: pytest.Pytester) -> None:
    slow_project(pytester, "max_slw = 2")
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*[[]tool.backend-gates.slowtests[]] max_slw: unknown key; did you mean 'max_slow'?*"])


def test_secret_from_env_never_printed_or_reported(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "tok-9f8e7d6c5b4a"
    monkeypatch.setenv("SLOW_API_TOKEN", secret)
    slow_project(pytester, 'max_slow = 0\ntoken = "${SLOW_API_TOKEN}"')
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates", "-v")
    assert result.ret == 1
    output = result.stdout.str() + result.stderr.str()
    report_text = (pytester.path / "gates.json").read_text()
    assert "Bearer ${SLOW_API_TOKEN}" in output and "Bearer ${SLOW_API_TOKEN}" in report_text
    assert secret not in output
    assert secret not in report_text


def test_secret_in_report_path_is_redacted_on_terminal(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORT_DIR", "private-dir-4f3e")
    pytester.makepyprojecttoml('[tool.backend-gates]\nreport = "${REPORT_DIR}/gates.json"')
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_inprocess("--backend-gates")
    assert result.ret == 0
    assert (pytester.path / "private-dir-4f3e" / "gates.json").exists()
    assert "private-dir-4f3e" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*report: */${REPORT_DIR}/gates.json"])


def test_third_party_gate_cannot_take_a_builtin_name(pytester: pytest.Pytester) -> None:
    slow_project(pytester, "max_slow = 1")
    pytester.makepyfile(clash="from slowgate import SlowTestsGate\n"
                        "class Clash(SlowTestsGate):\n    name = 'coverage'\n"
                        "def pytest_backend_gates_register_gates(config):\n    return [Clash]\n")
    result = pytester.runpytest_inprocess("-p", "slowgate", "-p", "clash", "--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*clash.Clash registers a gate named 'coverage', which is already taken*"])


def test_interrupted_run_leaves_complete_report(pytester: pytest.Pytester) -> None:
    make_app(pytester, COVERAGE_SOURCE_ONLY, tests=TESTS_FULL + "\n\ndef test_zz_ctrl_c():\n    raise KeyboardInterrupt\n")
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    report = read_report(pytester)  # parses: complete, not half a file
    assert report["interrupted"] is True
    # The last test never ran: coverage of a run that did not finish is not a pass (issue 12).
    coverage = gate(report, "coverage")
    assert coverage["status"] == "error", coverage
    assert coverage["summary"].startswith("the run was interrupted before this gate finished (until then: ")
    assert report["passed"] is False
    result.stdout.fnmatch_lines(["*backend gates (run interrupted)*",
                                 "backend gates INTERRUPTED: the run did not finish; coverage error; report: *"])


def test_gate_not_in_this_version_is_error_not_pass(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from pytest_backend_gates.gates import registry

    # every gate is built in now: pretend one is not
    monkeypatch.setattr(registry, "BUILTIN", tuple(replace(spec, gate="not_installed_here:QueriesGate")
                                                   if spec.name == "queries" else spec for spec in registry.BUILTIN))
    pytester.makepyprojecttoml('[tool.backend-gates]\nreport = "gates.json"\n[tool.backend-gates.queries]\nmax_repeats = 3')
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_inprocess("--backend-gates")
    assert result.ret == 1
    queries = gate(read_report(pytester), "queries")
    assert queries["status"] == "error"
    assert "not available in this version" in queries["summary"]


def test_nothing_configured_says_so(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_inprocess("--backend-gates", "--backend-gates-report=r.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["backend gates: no gate enabled (add a [[]tool.backend-gates.<gate>[]] table*"])
    assert json.loads((pytester.path / "r.json").read_text()) == {
        "version": 1, "passed": True, "gates": [], "interrupted": False}


@pytest.mark.parametrize("max_slow, expected_ret", [(1, 1), (2, 0)])
def test_xdist_verdict_once_on_controller(pytester: pytest.Pytester, max_slow: int, expected_ret: int) -> None:
    slow_project(pytester, f"max_slow = {max_slow}")
    result = pytester.runpytest_subprocess("-p", "slowgate", "--backend-gates", "-n", "2")
    assert result.ret == expected_ret
    report = read_report(pytester)
    slow = gate(report, "slowtests")
    assert slow["measured"] == {"slow": 2}  # one count per test, gathered from both workers
    assert report["xdist_workers"] == 2
    assert result.stdout.str().count("[hook] slowtests") == 1


def test_a_gate_registered_as_a_spec_row_works_like_a_class(pytester: pytest.Pytester) -> None:
    """Third-party gates may register the same GateSpec row the built-in gates use (registry.py):
    its parser and settings class describe its table, its markers are not needed here."""
    slow_project(pytester, "max_slow = 1")
    plugin = SLOW_GATE_PLUGIN.replace('''def pytest_backend_gates_register_gates(config):
    return [SlowTestsGate]''', '''from pytest_backend_gates.gates.registry import GateSpec


def pytest_backend_gates_register_gates(config):
    return [GateSpec("slowtests", SlowTestsGate, settings=None, parse=SlowTestsGate.settings_parser)]''')
    assert plugin != SLOW_GATE_PLUGIN
    pytester.makepyfile(slowgate=plugin)
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates")
    assert result.ret == 1
    slow = gate(read_report(pytester), "slowtests")
    assert slow["status"] == "failed" and slow["threshold"] == {"max_slow": 1}
    pytester.makepyprojecttoml('[tool.backend-gates]\n[tool.backend-gates.slowtests]\nmax_slwo = 1')
    result = pytester.runpytest_inprocess("-p", "slowgate", "--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*[[]tool.backend-gates.slowtests[]] max_slwo: unknown key; did you mean 'max_slow'?*"])


def test_only_a_traceback_is_hidden_among_the_warnings() -> None:
    # A finding below its rule's severity is a warning of two lines (message, reproduction): shown
    # whole, as a violation is; a crashed gate's traceback only with -v.
    from pytest_backend_gates.report.terminal import terminal_lines
    from pytest_backend_gates.result import GateResult, Status

    finding = "GET /orders [header-missing]: no X-Content-Type-Options header\n    reproduce: curl http://127.0.0.1:8000/orders"
    crash = 'Traceback (most recent call last):\n  File "gate.py", line 1, in evaluate\nRuntimeError: boom'
    result = GateResult(gate="security", status=Status.PASSED, summary="ok", warnings=[finding, crash])
    quiet = [text for text, _ in terminal_lines([result])]
    assert f"warning: {finding}" in quiet
    assert "warning: (traceback hidden; run with -v to see it)" in quiet
    assert not any("RuntimeError" in text for text in quiet)
    assert f"warning: {crash}" in [text for text, _ in terminal_lines([result], verbose=1)]
