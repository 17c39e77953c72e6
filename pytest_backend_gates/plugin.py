"""pytest hooks and wiring only: everything else lives in its own module.

Passive (no `--backend-gates`): markers are registered, nothing else happens.
Active: the configuration is read and the gates are started before conftest.py
files are imported; each process measures; the controller (the only process
without xdist) evaluates the gates once, sets the exit status and reports.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from . import hookspecs

if TYPE_CHECKING:
    from .config import GatesConfig
    from .session import GateRun  # noqa: F401 - used in a string annotation

# A passive run imports nothing but this module and hookspecs: configuration,
# gates and reporting are imported when --backend-gates is given.
gate_run_key = pytest.StashKey["GateRun"]()
gates_config_key = pytest.StashKey["GatesConfig"]()  # read on demand by fixtures in passive runs
WORKER_OUTPUT_KEY = "backend_gates"

MARKERS = (
    "latency_budget(*budgets): the test's timings must meet every budget, e.g. 'p95 < 20ms' (backend-gates)",
    "race_probe(threads=8, rounds=20): run the test body in `threads` threads released together, "
    "`rounds` times (backend-gates)",
    "query_budget(max=None, repeats=None): limit the SQL statements the test executes (backend-gates)",
)


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
    from .session import GateRun  # noqa: F401 - used in a string annotation

    run = GateRun.build(config, selection)
    # Before any gate starts or test runs: a report that cannot be written is a usage error now,
    # not a traceback at the end that loses the summary.
    run.check_report_path(getattr(config.known_args_namespace, "backend_gates_report", None))
    config.stash[gate_run_key] = run
    config.pluginmanager.register(run, "backend-gates-run")  # it counts the time of gate items
    run.start()
    for gate in run.gates.values():
        config.pluginmanager.register(gate, f"backend-gates-{gate.name}")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # First: before conftest.py files are imported and before pytest-django's django.setup()
    # imports the project's settings and models (they were measured as 0% covered).
    selection = getattr(early_config.known_args_namespace, "backend_gates", None)
    if selection is not None:
        _start_gates(early_config, selection)


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    selection = config.getoption("backend_gates")
    if selection is not None and gate_run_key not in config.stash:
        _start_gates(config, selection)  # plugin loaded too late for the early hook


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    run = node.config.stash.get(gate_run_key, None)
    output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    if run is not None and output is not None:
        run.absorb_worker_output(output, worker=str(getattr(node.gateway, "id", id(node))))


@pytest.hookimpl(trylast=True)
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
    from .report import report_data, write_json_report

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
                from .files import unwritable_reason

                run.report_problem = unwritable_reason(report_path) or exc.strerror or str(exc)
    for result in results:
        config.hook.pytest_backend_gates_result(config=config, result=result)
    # Like pytest's own --max-warnings: only turn a success into a failure,
    # never mask a real test failure or usage error.
    # A report that was asked for and not written fails the run too: CI must not go on without it.
    if (not run.passed or run.report_problem) and \
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
    from .report import terminal_lines, verdict_line

    terminalreporter.ensure_newline()  # else the first line after the header comes out blank
    terminalreporter.section("backend gates (run interrupted)" if run.interrupted else "backend gates",
                             **({"red": True, "bold": True} if run.interrupted else {}))
    for warning in run.gates_config.redactor.warnings:  # secrets too short to redact: named, never shown
        terminalreporter.write_line(f"warning: {warning}", yellow=True)
    for text, markup in terminal_lines(run.results, verbose=config.get_verbosity()):
        terminalreporter.write_line(text, **markup)
    shown_path = run.shown_report_path(config.getoption("backend_gates_report"))
    text, markup = verdict_line(run.results, None if run.report_problem else shown_path, interrupted=run.interrupted)
    terminalreporter.write_line(text, **markup)
    if run.report_problem:
        redact = run.gates_config.redactor.redact
        terminalreporter.write_line(f"backend gates: the JSON report was NOT written to {shown_path}: "
                                    f"{redact(run.report_problem)}", red=True, bold=True)


def _gates_config(config: pytest.Config) -> GatesConfig:
    """The validated configuration: the active run's, or read once for a passive run's fixtures."""
    run = config.stash.get(gate_run_key, None)
    if run is not None:
        return run.gates_config
    if gates_config_key not in config.stash:
        from .session import load_gates_config

        config.stash[gates_config_key] = load_gates_config(config)
    return config.stash[gates_config_key]


@pytest.fixture(scope="session")
def api(pytestconfig: pytest.Config) -> Iterator[Any]:
    """An httpx-style client bound to [tool.backend-gates.contract]'s app or base_url."""
    from .api_client import open_client
    from .exchange import publisher
    from .targets import TargetError

    try:
        settings = _gates_config(pytestconfig).settings("contract")
    except pytest.UsageError as exc:
        pytest.fail(str(exc), pytrace=False)
    if settings is None:
        pytest.fail("the api fixture needs a [tool.backend-gates.contract] table with app or base_url "
                    "in pyproject.toml", pytrace=False)
    problem = None
    try:
        with open_client(settings, publisher(pytestconfig), pytestconfig.rootpath) as client:
            yield client
    except TargetError as exc:
        problem = str(exc)
    if problem is not None:  # outside the handler: the message alone, not "During handling of ..."
        pytest.fail(f"api fixture: [tool.backend-gates.contract] {problem}", pytrace=False)


@pytest.fixture
def input_validation(request: pytest.FixtureRequest) -> Any:
    """`input_validation.check(fn, accepts=..., rejects=(ValueError,))`: valid inputs must be accepted,
    invalid and hostile ones must raise one of `rejects`; `check_endpoint("POST /items")` for an API
    operation. See docs/validation.md."""
    from .config import ValidationSettings
    from .gates.validation import InputValidation

    try:
        settings = _gates_config(request.config).settings("validation")
    except pytest.UsageError as exc:
        pytest.fail(str(exc), pytrace=False)
    gate = request.config.pluginmanager.get_plugin("backend-gates-validation")
    return InputValidation(request, settings or ValidationSettings(), gate)


@pytest.fixture
def race(request: pytest.FixtureRequest) -> Any:
    """`race.run(fn, *args, threads=8, rounds=20, **kwargs)`: `fn` in many threads at once, many times."""
    from .race_probe import race_for_item

    try:
        settings = _gates_config(request.config).settings("race")
    except pytest.UsageError as exc:
        pytest.fail(str(exc), pytrace=False)
    gate = request.config.pluginmanager.get_plugin("backend-gates-race")
    item = request.node
    assert isinstance(item, pytest.Item)
    return race_for_item(item, settings, gate.on_probe(item) if gate is not None else None, gated=gate is not None)


@pytest.fixture
def query_counter(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Counts SQL statements (SQLAlchemy engines, sqlite3, watched DB-API connections) inside
    `with query_counter:` or `with query_counter() as q:`: `.count`, `.statements`,
    `.assert_max(n, repeats=None)`, `.watch(conn)`. See docs/queries.md."""
    from .query_budget import QueryCounter

    gate = request.config.pluginmanager.get_plugin("backend-gates-queries")
    item = request.node
    counter = QueryCounter(str(request.config.rootpath), gate.on_block(item) if gate is not None else None)
    try:
        yield counter
    finally:
        counter.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(gate_run_key, None)
    if run is not None:
        run.stop()
        if config.pluginmanager.is_registered(run):
            config.pluginmanager.unregister(run)
        del config.stash[gate_run_key]
