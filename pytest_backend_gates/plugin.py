"""pytest hooks and wiring only: everything else lives in its own module.

Passive (no `--backend-gates`): markers are registered, nothing else happens.
Active: the configuration is read and the gates are started before conftest.py
files are imported; each process measures; the controller (the only process
without xdist) evaluates the gates once, sets the exit status and reports.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

import pytest

from pytest_backend_gates import __version__, hookspecs
from pytest_backend_gates.config import GATES_CONFIG_LOADER_KEY
from pytest_backend_gates.files import unwritable_reason
from pytest_backend_gates.gates import registry
from pytest_backend_gates.report import (
    report_data,
    terminal_lines,
    verdict_line,
    write_json_report,
)
from pytest_backend_gates.report.github import annotation_lines
from pytest_backend_gates.report.junit import add_gate_cases
from pytest_backend_gates.report.outputs import (
    FILE_OUTPUTS,
    check_output_paths,
    write_outputs,
)
from pytest_backend_gates.report.view import RunView
from pytest_backend_gates.run import GateRun, load_gates_config

if TYPE_CHECKING:
    from pytest_backend_gates.config import GatesConfig

# A passive run imports this module, the run, the registry and reporting, all light: the gate
# packages (and schemathesis, coverage.py, hypothesis behind them) are imported by the registry
# only for the gates --backend-gates enables.
gate_run_key = pytest.StashKey["GateRun"]()
WORKER_OUTPUT_KEY = "backend_gates"



ALL = "all"


def parse_selection(value: str) -> tuple[str, ...]:
    """`--backend-gates=contract,coverage` -> ('contract', 'coverage'); () means all configured gates.
    Names are checked once third-party gates are known (GateRun.build)."""
    if value == ALL:
        return ()
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"{value!r}: expected gate names separated by commas, e.g. contract,coverage")
    return names


def parse_seed(value: str) -> int:
    try:
        seed = int(value)
    except ValueError:
        seed = -1
    if seed < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a seed; expected a non-negative integer, e.g. 12345")
    return seed


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("backend-gates", "backend gates (pytest-backend-gates)")
    group.addoption(
        "--backend-gates",
        dest="backend_gates",
        nargs="?",
        const=ALL,
        default=None,
        type=parse_selection,
        metavar="GATES",
        help="enforce the gates configured in [tool.backend-gates]; or only the named ones, "
        "e.g. --backend-gates=contract,coverage",
    )
    group.addoption(
        "--backend-gates-report",
        dest="backend_gates_report",
        default=None,
        metavar="PATH",
        help="also write the gates' JSON report to PATH (overrides `report` in the config)",
    )
    group.addoption(
        "--backend-gates-seed",
        dest="backend_gates_seed",
        default=None,
        type=int,
        metavar="N",
        help="seed for the contract gate's generated cases (printed in the header of every run), to replay a failure",
    )
    group.addoption(
        "--backend-gates-update-baseline",
        dest="backend_gates_update_baseline",
        action="store_true",
        default=False,
        help="accept every violation of this run: rewrite the `baseline` file from it (sorted, reviewable) "
        "and pass; later runs fail only on violations not in it",
    )
    for flag, what in (("sarif", "SARIF 2.1.0 of every violation (code scanning)"),
                       ("codeclimate", "a GitLab code-quality report of every violation"),
                       ("html", "one self-contained HTML report (no network)")):
        group.addoption(f"--backend-gates-{flag}", dest=f"backend_gates_{flag}", default=None, metavar="PATH",
                        help=f"also write {what} to PATH")
    group.addoption(
        "--backend-gates-init",
        dest="backend_gates_init",
        action="store_true",
        default=False,
        help="print a commented [tool.backend-gates] configuration found from this project, and exit; "
        "writes nothing",
    )
    group.addoption(
        "--backend-gates-race-seed",
        dest="backend_gates_race_seed",
        default=None,
        type=parse_seed,
        metavar="N",
        help="seed of the race probes' schedule perturbation (printed when a probe fails), to replay a failure",
    )


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def _start_gates(config: pytest.Config, selection: tuple[str, ...]) -> None:
    run = GateRun.build(config, selection)
    # Before any gate starts or test runs: a report that cannot be written is a usage error now,
    # not a traceback at the end that loses the summary.
    run.check_report_path(getattr(config.known_args_namespace, "backend_gates_report", None))
    problems = check_output_paths(_output_paths(config.known_args_namespace))
    if problems:
        raise pytest.UsageError("\n".join(problems))
    config.stash[gate_run_key] = run
    config.pluginmanager.register(run, "backend-gates-run")  # it counts the time of gate items
    config.pluginmanager.register(run.shape, "backend-gates-run-whole")
    run.start()
    for gate in run.gates.values():
        config.pluginmanager.register(gate, f"backend-gates-{gate.name}")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # First: before conftest.py files are imported and before pytest-django's django.setup()
    # imports the project's settings and models (they were measured as 0% covered).
    namespace = early_config.known_args_namespace
    if getattr(namespace, "backend_gates_init", False):
        # --backend-gates-init reads the project, it never runs it: the project's conftest.py
        # files are not imported (pytest's own hook, which imports them, runs after this one).
        namespace.noconftest = True
        return
    selection = getattr(namespace, "backend_gates", None)
    if selection is not None:
        _start_gates(early_config, selection)


def pytest_configure(config: pytest.Config) -> None:
    for spec in registry.BUILTIN:
        for marker in spec.markers:
            config.addinivalue_line("markers", marker)
    for module in (*registry.SHARED_FIXTURES, *(spec.fixtures for spec in registry.BUILTIN if spec.fixtures)):
        if not config.pluginmanager.has_plugin(module):
            config.pluginmanager.import_plugin(module)
    config.stash[GATES_CONFIG_LOADER_KEY] = lambda: _load_gates_config(config)
    selection = config.getoption("backend_gates")
    if selection is not None and gate_run_key not in config.stash and not config.getoption("backend_gates_init"):
        _start_gates(config, selection)  # plugin loaded too late for the early hook


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    run = node.config.stash.get(gate_run_key, None)
    output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    if run is None:
        return
    worker = str(getattr(node.gateway, "id", id(node)))
    if output is not None:
        run.absorb_worker_output(output, worker=worker)
    else:  # crashed (os._exit, segfault, killed): its measurements never arrived
        run.worker_lost(worker, error)


# First: the gates' verdicts must be known before junitxml writes its file in its own
# pytest_sessionfinish (a gate is a test case there). xdist has handed over every worker's
# measurements before this hook (pytest_testnodedown runs inside its test loop).
@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    run = config.stash.get(gate_run_key, None)
    if run is None:
        return
    if hasattr(config, "workerinput"):  # xdist worker: hand measurements to the controller
        config.workeroutput[WORKER_OUTPUT_KEY] = run.worker_output()  # type: ignore[attr-defined]
        return
    if config.option.collectonly or exitstatus == pytest.ExitCode.USAGE_ERROR:
        return  # nothing ran (or the command line is wrong): nothing to judge, no measurement, no request

    interrupted = run.interrupted = run.interrupted or exitstatus == pytest.ExitCode.INTERRUPTED
    report_path = run.report_path(config.getoption("backend_gates_report"))
    try:
        results = run.evaluate()
    finally:
        if report_path is not None and run.results is not None:
            try:
                write_json_report(report_path, report_data(run.results, interrupted=interrupted,
                                                           workers=run.workers_reported))
            except OSError as exc:  # said in one line under the summary, which is kept

                run.report_problem = unwritable_reason(report_path) or exc.strerror or str(exc)
    try:
        run.write_baseline()
    except OSError as exc:
        run.output_problems.append(f"the baseline was NOT written to "
                                   f"{run.baseline.path if run.baseline else '?'}: {exc.strerror or exc}")
    # the results are redacted already; the run's notes name paths that may come from ${ENV}
    notes = [run.gates_config.redactor.redact(note) for note in run.notes]
    view = RunView(results=results, root=config.rootpath, interrupted=interrupted, notes=notes,
                   version=__version__, config_file=run.gates_config.path)
    add_gate_cases(config, results)
    run.output_problems += write_outputs(view, _output_paths(config.option), os.environ)
    for result in results:
        config.hook.pytest_backend_gates_result(config=config, result=result)
    # Like pytest's own --max-warnings: only turn a success into a failure,
    # never mask a real test failure or usage error.
    # A report that was asked for and not written fails the run too: CI must not go on without it.
    if (not run.passed or run.report_problem or run.output_problems) and \
            session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(gate_run_key, None)
    if run is not None and config.option.collectonly:
        terminalreporter.write_line("backend gates: not evaluated under --collect-only (no test ran)")
        return
    if run is not None and exitstatus == pytest.ExitCode.USAGE_ERROR:
        return
    if run is None or run.results is None:
        return

    terminalreporter.ensure_newline()  # else the first line after the header comes out blank
    terminalreporter.section("backend gates (run interrupted)" if run.interrupted else "backend gates",
                             **({"red": True, "bold": True} if run.interrupted else {}))
    for warning in run.gates_config.redactor.warnings:  # secrets too short to redact: named, never shown
        terminalreporter.write_line(f"warning: {warning}", yellow=True)
    for text, markup in terminal_lines(run.results, verbose=config.get_verbosity()):
        terminalreporter.write_line(text, **markup)
    redact = run.gates_config.redactor.redact
    for note in run.notes:
        terminalreporter.write_line(f"backend gates: {redact(note)}")
    shown_path = run.shown_report_path(config.getoption("backend_gates_report"))
    text, markup = verdict_line(run.results, None if run.report_problem else shown_path, interrupted=run.interrupted)
    terminalreporter.write_line(text, **markup)
    for problem in run.output_problems:
        terminalreporter.write_line(f"backend gates: {redact(problem)}", red=True, bold=True)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in annotation_lines(RunView(results=run.results, root=config.rootpath)):
            terminalreporter.write_line(line)
    if run.report_problem:
        terminalreporter.write_line(f"backend gates: the JSON report was NOT written to {shown_path}: "
                                    f"{redact(run.report_problem)}", red=True, bold=True)


def _output_paths(namespace: Any) -> dict[str, str | None]:
    return {name: getattr(namespace, f"backend_gates_{name}", None) for name in FILE_OUTPUTS}


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.getoption("backend_gates_init", False):
        return None
    from pytest_backend_gates.scaffold import (
        scaffold_text,  # only for --backend-gates-init
    )

    sys.stdout.write(scaffold_text(config.rootpath))
    return 0


def _load_gates_config(config: pytest.Config) -> GatesConfig:

    return load_gates_config(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(gate_run_key, None)
    if run is not None:
        run.stop()
        for plugin in (run, run.shape):
            if config.pluginmanager.is_registered(plugin):
                config.pluginmanager.unregister(plugin)
        del config.stash[gate_run_key]
