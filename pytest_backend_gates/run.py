"""The gates of one pytest process: built once, started early, evaluated once.

`GateRun` is created when `--backend-gates` is given and stored in
`config.stash`; `plugin.py` forwards pytest's hooks to it.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from pytest_backend_gates.acceptance.baseline import (
    Baseline,
    baseline_for,
    write_baseline,
)
from pytest_backend_gates.acceptance.judge import acceptance_of, judge
from pytest_backend_gates.config import (
    GATES_CONFIG_KEY,
    ConfigError,
    GatesConfig,
    find_pyproject,
    load_config,
)
from pytest_backend_gates.files import unwritable_reason
from pytest_backend_gates.gates import registry
from pytest_backend_gates.gates.base import Gate, GateContext
from pytest_backend_gates.gates.registry import GATE_NAMES, GateSpec
from pytest_backend_gates.interruption import after_interruption
from pytest_backend_gates.location import with_source_lines
from pytest_backend_gates.report import write_progress
from pytest_backend_gates.result import GateResult, redact_result
from pytest_backend_gates.run_shape import RunShape
from pytest_backend_gates.text import did_you_mean

RUN_OUTPUT = "__run__"  # a worker's data of the run itself (what it deselected), beside the gates'


class GateRun:
    def __init__(self, pytest_config: pytest.Config, gates_config: GatesConfig, gates: dict[str, Gate]) -> None:
        self.pytest_config = pytest_config
        self.gates_config = gates_config
        self.gates = gates
        self.failed_to_start: dict[str, str] = {}  # gate name -> reason
        self.results: list[GateResult] | None = None
        self.workers_reported = 0
        self.selection: tuple[str, ...] = ()
        self.order: list[str] = list(GATE_NAMES)  # built-in gates in registry order, then third-party ones
        self._item_seconds: dict[str, float] = {}  # gate -> time of its items (backend-gates::race[...])
        self.report_problem: str | None = None  # why the JSON report asked for was not written
        self.output_problems: list[str] = []  # other outputs asked for and not written (baseline, SARIF, ...)
        # Ctrl-C (or pytest.exit, or an xdist worker's Ctrl-C): a gate that did not finish never passes.
        self.interrupted = False
        self._selected: list[str] | None = None  # node ids left to run after collection and deselection
        self._finished_items: set[str] = set()  # node ids whose teardown reported
        self._workers_absorbed: set[str] = set()
        self._workers_lost: dict[str, str] = {}  # xdist worker id -> why it went down without its output
        self.shape = RunShape(pytest_config)  # a partial run cannot tell that a baseline entry is gone
        self.baseline: Baseline | None = None  # SPEC section 7
        self.update_baseline = False
        self.notes: list[str] = []  # run-level lines for the summary (the baseline written, or missing)
        self._judged: Any = None

    # -- building ----------------------------------------------------------
    @classmethod
    def build(cls, pytest_config: pytest.Config, selection: tuple[str, ...]) -> GateRun:
        """Read the config and create the enabled gates; bad configuration is a UsageError."""
        specs: dict[str, GateSpec] = {spec.name: spec for spec in registry.BUILTIN}
        for registered in pytest_config.hook.pytest_backend_gates_register_gates(config=pytest_config):
            for entry in registered or ():
                spec = entry if isinstance(entry, GateSpec) else registry.spec_of(entry)
                if spec.name in specs:
                    where = entry.name if isinstance(entry, GateSpec) else f"{entry.__module__}.{entry.__qualname__}"
                    raise pytest.UsageError(
                        f"backend-gates: {where} registers a gate named {spec.name!r}, which is already taken; "
                        "gate names must be unique"
                    )
                specs[spec.name] = spec
        path = find_pyproject(pytest_config.inipath, pytest_config.rootpath)
        try:
            gates_config = load_config(path, registry.table_parsers(specs.values()))
        except ConfigError as exc:
            raise pytest.UsageError(_usage_text(exc.messages)) from None
        pytest_config.stash[GATES_CONFIG_KEY] = gates_config
        update = bool(getattr(pytest_config.known_args_namespace, "backend_gates_update_baseline", False))
        try:
            baseline = baseline_for(gates_config.acceptance.baseline, path, update)
        except ConfigError as exc:
            raise pytest.UsageError(_usage_text(exc.messages)) from None

        enabled = _enabled_gates(selection, gates_config, specs)
        run_state: dict[str, GateRun] = {}
        context = GateContext(pytest_config=pytest_config, config=gates_config,
                              write_progress=lambda gate, text: write_progress(pytest_config, gate, text),
                              run_interrupted=lambda: bool("run" in run_state and run_state["run"].interrupted),
                              accepted=acceptance_of(gates_config.acceptance, baseline, update=update))
        gates: dict[str, Gate] = {}
        unavailable: dict[str, str] = {}
        for name in enabled:
            spec = specs[name]
            try:
                gate_class = spec.gate_class()
            except (ImportError, AttributeError):
                unavailable[name] = f"the {name} gate is not available in this version of pytest-backend-gates"
                continue
            if spec.requires_table and gates_config.settings(name) is None:
                raise pytest.UsageError(
                    f"--backend-gates={name}: the {name} gate needs a [tool.backend-gates.{name}] table "
                    f"in {path or 'pyproject.toml'} (see docs/configuration.md)"
                )
            gates[name] = gate_class(gates_config.settings(name), context)
        run = run_state["run"] = cls(pytest_config, gates_config, gates)
        run.selection = selection
        run.baseline, run.update_baseline = baseline, update
        run.order = list(specs)
        run.failed_to_start.update(unavailable)
        return run

    # -- lifecycle ---------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            self._finished_items.add(report.nodeid)
        # Items gates add are the gate's time (under xdist the controller sees every report).
        prefix, _, rest = report.nodeid.partition("::")
        if prefix == "backend-gates" and "[" in rest:
            gate = rest.split("[", 1)[0]
            self._item_seconds[gate] = self._item_seconds.get(gate, 0.0) + report.duration

    @pytest.hookimpl(tryfirst=True)  # before the terminal's: a second Ctrl-C in that one loses the exit status
    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._selected = [item.nodeid for item in session.items]

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # The controller collects nothing itself: every worker sends the same selected ids.
        if self._selected is None:
            self._selected = list(ids)

    def _finished(self, name: str) -> bool:
        """On an interrupted run: whether the gate's work was done before the interruption."""
        if self._selected is None:  # interrupted before collection ended
            return False
        own = [nodeid for nodeid in self._selected if nodeid.startswith(f"backend-gates::{name}[")]
        return self.gates[name].finished_before_interruption(
            all_items_ran=all(nodeid in self._finished_items for nodeid in self._selected),
            own_items_ran=all(nodeid in self._finished_items for nodeid in own))

    def pytest_report_collectionfinish(self, config: pytest.Config, items: list[pytest.Item]) -> str | None:
        # Gates add their items after pytest counted "collected N items": said once, so that the
        # count at the end (passed + failed + ...) adds up.
        added = [item.nodeid for item in items if item.nodeid.startswith("backend-gates::")]
        if not added:
            return None
        kinds = dict.fromkeys(nodeid.split("::", 1)[1].split("[", 1)[0] for nodeid in added)
        return (f"backend gates: +{len(added)} gate item{'s' * (len(added) != 1)} ({', '.join(kinds)}), "
                "not in the count above")

    def start(self) -> None:
        for name, gate in list(self.gates.items()):
            try:
                gate.start()
            except pytest.UsageError:
                raise
            except Exception as exc:  # a gate that cannot start is `error`, the others go on
                self.failed_to_start[name] = f"could not start: {_describe(exc)}"
                del self.gates[name]

    def worker_output(self) -> dict[str, Any]:
        output: dict[str, Any] = {RUN_OUTPUT: {"deselected": self.shape.deselected}}
        for name, gate in self.gates.items():
            try:
                gate.stop()
                data = gate.worker_output()
            except Exception as exc:
                output[name] = {"__error__": f"failed on worker: {_describe(exc)}"}
                continue
            if data is not None:
                # Credentials obtained at run time (a login's token) are known to this worker's
                # redactor only: what leaves it is redacted here.
                output[name] = self.gates_config.redactor.redact_data(data)
        return output

    def absorb_worker_output(self, output: dict[str, Any], worker: str | None = None) -> None:
        # xdist calls pytest_testnodedown twice for a worker that was interrupted (finished, then down)
        if worker is not None:
            if worker in self._workers_absorbed:
                return
            self._workers_absorbed.add(worker)
        self.workers_reported += 1
        for name, data in output.items():
            if name == RUN_OUTPUT:
                self.shape.absorb_worker_deselected(int(data.get("deselected", 0)))
                continue
            gate = self.gates.get(name)
            if gate is None:
                continue
            if isinstance(data, dict) and "__error__" in data:
                self.failed_to_start.setdefault(name, data["__error__"])
                continue
            try:
                gate.absorb_worker_output(data)
            except Exception as exc:
                self.failed_to_start.setdefault(name, f"could not merge worker data: {_describe(exc)}")

    def worker_lost(self, worker: str, error: Any) -> None:
        """An xdist worker went down without handing over its measurements (it crashed).

        What it measured is gone, so no gate can judge the whole run: each becomes `error`
        (an interrupted run says so itself), never a verdict on the part that survived."""
        if worker not in self._workers_absorbed:
            reason = str(error).strip().splitlines()[-1] if error else "no measurements received"
            self._workers_lost.setdefault(worker, reason)

    def evaluate(self) -> list[GateResult]:
        """Evaluate every gate once; a crash or Ctrl-C makes that gate `error`, never a pass."""
        results: list[GateResult] = []
        names = sorted(set(self.gates) | set(self.failed_to_start), key=_gate_order)
        names = [name for name in names if not self._unused(name)]
        if self._workers_lost and not self.interrupted:
            lost = "; ".join(f"{worker}: {why}" for worker, why in sorted(self._workers_lost.items()))
            for name in self.gates:
                self.failed_to_start.setdefault(
                    name, f"an xdist worker crashed and its measurements are lost ({lost}); "
                          "the gate cannot judge a run it saw only part of: rerun, and fix the crash")
        try:
            for name in names:
                if name in self.failed_to_start:
                    results.append(GateResult.error(name, self.failed_to_start[name]))
                    continue
                started = time.perf_counter()
                try:
                    self.gates[name].stop()
                    result = self.gates[name].evaluate()
                except Exception as exc:
                    result = GateResult.error(name, f"the gate crashed: {_describe(exc)}")
                    result.warnings.append("".join(traceback.format_exception(exc)).rstrip())
                result.duration_s = max(result.duration_s, time.perf_counter() - started,
                                        self._item_seconds.get(name, 0.0))
                if self.interrupted:
                    result = after_interruption(result, self._finished(name))
                results.append(result)
        finally:
            # Ctrl-C during evaluation: the gates not reached are errors, and
            # the report is still complete.
            for name in names[len(results):]:
                results.append(GateResult.error(name, "the run was interrupted before this gate was evaluated"))
            redactor = self.gates_config.redactor
            self.results = self._accept([redact_result(r, redactor.redact, redactor.redact_data) for r in results])
        return self.results

    def _accept(self, results: list[GateResult]) -> list[GateResult]:
        """Mark what the baseline and the ignore entries accept (SPEC section 7)."""
        complete = not (self.interrupted or self._workers_lost or self.shape.partial_reasons())
        results = [with_source_lines(r, self.pytest_config.rootpath) for r in results]
        self._judged = judge(results, self.gates_config.acceptance, self.baseline,
                             update=self.update_baseline and not self.interrupted, complete=complete)
        if self.baseline is not None and not self.baseline.exists and not self.update_baseline:
            self.notes.append(f"baseline {self.baseline.path} does not exist yet: every violation is new; "
                              "accept the current ones with --backend-gates-update-baseline")
        return list(self._judged.results)

    def write_baseline(self) -> None:
        """--backend-gates-update-baseline: rewrite the baseline from this run (not when interrupted)."""
        judged = self._judged
        if self.baseline is None or judged is None or judged.new_entries is None:
            if self.update_baseline and self.interrupted:
                self.notes.append("baseline NOT updated: the run was interrupted")
            return
        write_baseline(self.baseline.path, judged.new_entries, judged.new_figures)
        count = len({e.fingerprint for e in judged.new_entries})
        self.notes.append(f"baseline written to {self.baseline.path}: {count} accepted violation"
                          f"{'s' * (count != 1)}; review its diff and commit it")

    def _unused(self, name: str) -> bool:
        """A marker/fixture-driven gate that nobody used, has no table and was not named on the command line."""
        gate = self.gates.get(name)
        return (gate is not None and name not in self.selection and name not in self.failed_to_start
                and bool(getattr(gate, "unused", False)))

    def stop(self) -> None:
        for gate in self.gates.values():
            try:
                gate.stop()
            except Exception:  # noqa: S110 - at unconfigure there is nobody left to tell
                pass

    @property
    def passed(self) -> bool:
        return self.results is not None and not any(r.status.fails_run for r in self.results)

    def report_path(self, option: str | None) -> Path | None:
        if option:
            return Path(option).expanduser().absolute()
        return self.gates_config.report

    def check_report_path(self, option: str | None) -> None:
        """A report path that cannot be written is a usage error before any test runs, naming the
        flag or key it came from (the path shown redacted: it may come from ${ENV})."""

        if option is not None and not option.strip():
            raise pytest.UsageError("--backend-gates-report: '' is empty; expected a file path, e.g. "
                                    "--backend-gates-report=backend-gates.json")
        path = self.report_path(option)
        reason = None if path is None else unwritable_reason(path)
        if path is not None and reason is not None:
            source = f"--backend-gates-report={option}" if option else "[tool.backend-gates] report"
            shown = self.gates_config.redactor.redact(str(path))
            raise pytest.UsageError(f"{self.gates_config.redactor.redact(source)}: the JSON report cannot be "
                                    f"written to {shown}: {self.gates_config.redactor.redact(reason)}")

    def shown_report_path(self, option: str | None) -> str | None:
        """The report path for display: it may come from ${ENV}, so redacted."""
        path = self.report_path(option)
        return None if path is None else self.gates_config.redactor.redact(str(path))


def load_gates_config(pytest_config: pytest.Config) -> GatesConfig:
    """The configuration alone (no gates): for fixtures in a passive run. Errors are usage errors."""
    try:
        return load_config(find_pyproject(pytest_config.inipath, pytest_config.rootpath), registry.table_parsers())
    except ConfigError as exc:
        raise pytest.UsageError(_usage_text(exc.messages)) from None


def _enabled_gates(selection: tuple[str, ...], gates_config: GatesConfig, specs: dict[str, GateSpec]) -> list[str]:
    known = list(specs)
    if not selection:
        # Gates fed by markers/fixtures are on even without a table (every gate marker is
        # enforced); unused, they are left out of the report.
        return [name for name in known if name in gates_config.tables or specs[name].fed_by_tests]
    unknown = [name for name in dict.fromkeys(selection) if name not in known]
    hints = {name: _unknown_gate_hint(name, known) for name in unknown}
    if len(unknown) == 1:
        name = unknown[0]
        raise pytest.UsageError(f"--backend-gates={','.join(selection)}: unknown gate {name!r}; {hints[name]}"
                                f"valid gates: {', '.join(known)}")
    if unknown:  # every one, each with its own hint, not only the first
        shown = ", ".join(f"{name!r}" + (f" ({hints[name].strip().rstrip(';')})" if hints[name] else "")
                          for name in unknown)
        raise pytest.UsageError(f"--backend-gates={','.join(selection)}: unknown gates {shown}; "
                                f"valid gates: {', '.join(known)}")
    return list(dict.fromkeys(selection))


def _unknown_gate_hint(name: str, known: list[str]) -> str:
    hint = did_you_mean(name, known)
    if not hint and Path(name.split("::")[0]).exists():
        # `pytest --backend-gates tests/`: the flag's optional value swallowed the path
        hint = (f"{name!r} is a path that the flag took as its value: write "
                f"`pytest {name} --backend-gates` or `pytest --backend-gates=all {name}`; ")
    return hint


def _gate_order(name: str) -> tuple[int, str]:
    return (GATE_NAMES.index(name) if name in GATE_NAMES else len(GATE_NAMES), name)


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _usage_text(messages: Iterable[str]) -> str:
    lines = list(messages)
    if len(lines) == 1:
        return f"backend-gates configuration: {lines[0]}"
    return "backend-gates configuration has {} problems:\n  {}".format(len(lines), "\n  ".join(lines))
