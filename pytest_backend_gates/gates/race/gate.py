"""Race gate: concurrency probes from tests (`race` fixture, `race_probe` marker) and, with
`auto = true`, an automatic probe of the contract app's create operations.

A failed test that used the fixture or the marker is a violation (TestAttributedGate),
with the seed that replays its schedule. The probes themselves (how many, rounds,
time) are recorded where they ran and merged on the controller. The automatic
probe adds one pytest item per create operation (auto.py).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

from pytest_backend_gates.gates.race.arguments import RaceUsageError, marker_arguments
from pytest_backend_gates.gates.race.auto import AutoProbe, RaceAutoItem
from pytest_backend_gates.gates.race.probe import RaceError
from pytest_backend_gates.gates.race.results import Probe
from pytest_backend_gates.gates.race.session import (
    race_for_item,
    replay_key,
    session_seed,
)
from pytest_backend_gates.gates.test_attributed import TestAttributedGate, failure_text
from pytest_backend_gates.result import GateResult, Status, Violation
from pytest_backend_gates.settings import ContractSettings, RaceSettings


class RaceGate(TestAttributedGate):
    name = "race"
    fixture_names = ("race",)
    marker_names = ("race_probe",)
    noun = "race test"
    settings: RaceSettings

    def __init__(self, settings: RaceSettings | None, context: Any) -> None:
        super().__init__(settings, context)
        self.race_settings = settings or RaceSettings()
        self.auto_outcomes: list[dict[str, Any]] = []
        self._auto: Any = None
        self._seed_shown = False

    # -- set-up ------------------------------------------------------------------------
    def start(self) -> None:
        if self.race_settings.auto and self.context.config.get(ContractSettings) is None:
            path = self.context.config.path or "pyproject.toml"
            raise pytest.UsageError(
                f"backend-gates configuration: [tool.backend-gates.race] auto: true needs the contract gate's "
                f"target: add a [tool.backend-gates.contract] table with app or base_url to {path}, "
                "or set auto = false")

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        # Every xdist worker probes with the controller's seed (the one in the header).
        node.workerinput["backend_gates_race_seed"] = session_seed(node.config)

    def pytest_report_header(self, config: pytest.Config) -> str | None:
        # In the header only where races are expected (a race table, `race` named, a seed given);
        # otherwise once a race test ran (the terminal summary): not in projects with none.
        selection = config.getoption("backend_gates", None) or ()
        if self.settings is None and "race" not in selection and config.getoption("backend_gates_race_seed") is None:
            return None
        self._seed_shown = True
        return self._seed_line(config)

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if not self._seed_shown and (self.tests_used or self.details.get("probe")):
            terminalreporter.write_line(self._seed_line(config))

    @staticmethod
    def _seed_line(config: pytest.Config) -> str:
        seed = session_seed(config)
        return f"backend-gates race: seed {seed} (replay with --backend-gates-race-seed={seed})"

    def on_probe(self, item: pytest.Item) -> Any:
        def record(probe: Probe) -> None:
            self.record_detail("probe", {"test": item.nodeid, **probe.to_data()})
        return record

    # -- the marker ----------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        marker = pyfuncitem.get_closest_marker("race_probe")
        if marker is None:
            return None
        __tracebackhide__ = True
        try:
            threads, rounds, schedule = marker_arguments(marker, self.race_settings)
        except RaceUsageError as exc:
            pytest.fail(str(exc), pytrace=False)
        parameters = inspect.signature(pyfuncitem.obj).parameters
        arguments = {name: pyfuncitem.funcargs[name] for name in parameters if name in pyfuncitem.funcargs}
        race = race_for_item(pyfuncitem, self.race_settings, self.on_probe(pyfuncitem), gated=True)
        race.schedule = schedule
        race.run(functools.partial(pyfuncitem.obj, **arguments), threads=threads, rounds=rounds)
        return True

    # -- the automatic probe ---------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if not self.race_settings.auto:
            return
        self._auto = AutoProbe(self, session)
        items.extend(self._auto.collect())

    def record_auto(self, outcome: dict[str, Any]) -> None:
        self.auto_outcomes.append(outcome)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._auto is not None:
            self._auto.close()

    # -- violations ----------------------------------------------------------------------
    def uses_gate(self, item: pytest.Item) -> bool:
        return not isinstance(item, RaceAutoItem) and super().uses_gate(item)

    def violation_for(self, item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo[None]) -> Violation:
        phase = "" if report.when == "call" else f" (in {report.when})"
        text = failure_text(report, 900).replace(f"{RaceError.__module__}.RaceError: ", "")
        text = "\n".join(line for line in text.splitlines() if not line.startswith("replay: "))
        return Violation(where=item.nodeid, check="race-test", message=f"test failed{phase}: {text}",
                         reproduce=item.stash.get(replay_key, None))

    # -- xdist ---------------------------------------------------------------------------
    def worker_output(self) -> Any:
        data = super().worker_output()
        data["auto"] = self.auto_outcomes
        return data

    def absorb_worker_output(self, data: Any) -> None:
        super().absorb_worker_output(data)
        self.auto_outcomes.extend(data.get("auto", []))

    @property
    def unused(self) -> bool:
        return super().unused and not self.auto_outcomes

    # -- deciding ------------------------------------------------------------------------
    def evaluate(self) -> GateResult:
        probes = self.details.get("probe", [])
        auto = self.auto_outcomes
        tests = len(self.tests_used)
        threshold = {"threads": self.race_settings.threads, "rounds": self.race_settings.rounds,
                     "auto": self.race_settings.auto, "schedule": self.race_settings.schedule}
        measured: dict[str, Any] = {
            "tests": tests,
            "probes": len(probes),
            "rounds": sum(p["rounds"] for p in probes),
            "calls": sum(p["calls"] for p in probes),
            "probe_seconds_max": round(max((p["seconds"] for p in probes), default=0.0), 4),
            "seeds": sorted({p["seed"] for p in probes})[:10],
        }
        violations = list(self.test_failures)
        warnings: list[str] = []
        errors: list[str] = []
        ran = [o for o in auto if not o.get("skipped")]
        skipped = [o["skipped"] for o in auto if o.get("skipped")]
        if auto:
            # What was exercised: a request refused for credentials (401/403) or answered with an
            # error is sent, not exercised; an operation is raced once a concurrent create got a 2xx.
            measured["auto_operations"] = len(ran)
            measured["auto_raced"] = sum(1 for o in ran if o.get("raced"))
            measured["auto_requests"] = sum(o.get("requests", 0) for o in auto)
            measured["auto_2xx"] = sum(o.get("answered_2xx", 0) for o in auto)
            measured["auto_refused_auth"] = sum(o.get("refused_auth", 0) for o in auto)
            for outcome in auto:
                violations.extend(Violation(**v) for v in outcome.get("violations", []))
                warnings.extend(outcome.get("warnings", []))
                errors.extend(f"{outcome['operation']}: {e}" for e in outcome.get("errors", []))
        if self.race_settings.auto and not auto and not errors:
            warnings.append("auto = true, but no automatic race item ran ("
                            + ("the run was interrupted before them)" if self.context.interrupted else "deselected?)"))
        if skipped and (tests or probes or ran):
            warnings.extend(skipped)
        if not tests and not probes and not ran and not errors:
            reason = skipped[0] if skipped else "no test used the race fixture or @pytest.mark.race_probe"
            return GateResult(self.name, Status.SKIPPED, reason, warnings=warnings, measured=measured,
                              threshold=threshold)
        parts = []
        if tests:
            parts.append(f"{tests} race test{'s' if tests != 1 else ''} ({len(probes)} probes, "
                         f"{measured['rounds']} rounds)")
        elif probes:  # the test was interrupted in the middle of its probe
            parts.append(f"{len(probes)} probe{'s' if len(probes) != 1 else ''} ({measured['rounds']} rounds) of a test "
                         "that did not finish")
        if ran:
            parts.append(f"{len(ran)} create operation{'s' if len(ran) != 1 else ''} probed automatically "
                         f"({measured['auto_requests']} requests, {measured['auto_2xx']} answered 2xx)")
        done = ", ".join(parts)
        found = f"{len(violations)} race{'s' if len(violations) != 1 else ''} found in {done}"
        if errors:
            # A probe that crashed or exercised nothing: never a pass. The races found elsewhere stay listed.
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            return GateResult(self.name, Status.ERROR, f"could not probe: {errors[0]}{more}"
                              + (f"; {found}" if violations else ""), violations=violations,
                              warnings=errors[1:] + warnings, measured=measured, threshold=threshold)
        if violations:
            return GateResult(self.name, Status.FAILED, found, violations=violations, warnings=warnings,
                              measured=measured, threshold=threshold)
        return GateResult(self.name, Status.PASSED, f"no race found in {done}", warnings=warnings, measured=measured,
                          threshold=threshold)
