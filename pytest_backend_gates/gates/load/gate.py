"""Load gate: locust, headless, in its own process, with declarative thresholds.

When: once, on the controller (never on an xdist worker), BEFORE any test or
gate item runs (a `pytest_runtestloop` wrapper): the contract fuzzer, the
security probes and the race items call DELETE, PATCH and logout, and a load
run after them measures 401s and 404s of the run's own making. The verdict is
still decided in `evaluate()`, with the other gates. The contract app (or
base_url) of `[tool.backend-gates.contract]` is the target; an app is served on
a free 127.0.0.1 port for the run (server.py) and stopped after it.

How: runner.py runs in a new process group (gevent never patches the
pytest process); the gate reads its progress lines, shows them, and kills
the whole group when the run overruns `duration + margin` (locust_process.py).
Without a locustfile the default user's plan is made and tried first
(default_plan.py). Thresholds (`thresholds`, `thresholds_per_endpoint`, the
budget grammar) are checked against locust's statistics (verdict.py,
stats.py), which the runner ships as data: counts and locust's response-time
histogram per endpoint.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
import time
import traceback
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pytest_backend_gates.gates.base import Gate
from pytest_backend_gates.gates.load.default_plan import prepare_default_user
from pytest_backend_gates.gates.load.locust_process import INSTALL_HINT, run_locust
from pytest_backend_gates.gates.load.server import ServedApp, check_reachable
from pytest_backend_gates.gates.load.verdict import judge
from pytest_backend_gates.result import GateResult, Status
from pytest_backend_gates.service.django_db import database_outside_tests
from pytest_backend_gates.service.identities import identity_session
from pytest_backend_gates.service.target import (
    TargetError,
    check_loopback,
    load_target,
)
from pytest_backend_gates.settings import (
    ContractSettings,
    LoadSettings,
    is_loopback_url,
)

# The default identity's headers, as JSON, for a locustfile of the user's (docs/auth.md).
HEADERS_VARIABLE = "BACKEND_GATES_HEADERS"


class LoadGate(Gate):
    name = "load"
    settings: LoadSettings

    def __init__(self, settings: LoadSettings, context: Any) -> None:
        super().__init__(settings, context)
        self._interrupted = False
        self._interrupt_pending = False  # Ctrl-C during the run under xdist: raised again at the test loop
        self._notes: list[str] = []
        self._target_text = ""
        self._result: GateResult | None = None  # decided from the run that went before the tests
        self._left_out: dict[str, int] = {}  # "GET /url" -> the status it answered before the run (left out)

    # -- set-up: cheap checks, before any test runs ----------------------------
    def start(self) -> None:
        if self.context.is_xdist_worker:
            return
        contract = self.contract
        if contract is None:
            raise pytest.UsageError(
                "[tool.backend-gates.load] needs a target: set app = 'module:app' or base_url in "
                "[tool.backend-gates.contract] (the load gate serves that app, or loads that server)")
        if contract.base_url is not None:
            try:
                check_loopback(contract.base_url, contract.allow_remote)
            except TargetError as exc:
                raise pytest.UsageError(f"[tool.backend-gates.load] {exc}") from None
        if self.settings.remote_workers and contract.base_url is None:
            # The master hands its own target URL to every worker: an app served on this
            # machine's loopback for the run is out of reach of workers on other machines.
            raise pytest.UsageError(
                f"[tool.backend-gates.load] remote_workers: {self.settings.remote_workers} needs a target that "
                f"workers on other machines can reach, but [tool.backend-gates.contract] app = {contract.app!r} "
                "is served on 127.0.0.1 of this machine for the run, which only this machine reaches: start the "
                "service and set base_url in [tool.backend-gates.contract] to an address the workers reach "
                "(with allow_remote = true beyond loopback), or use workers = N for worker processes on this "
                "machine")
        if self.settings.locustfile is not None and not self.locustfile_path.is_file():
            raise pytest.UsageError(
                f"[tool.backend-gates.load] locustfile: {self.settings.locustfile!r} does not exist "
                f"(looked for {self.locustfile_path}); expected a path relative to the rootdir")

    @property
    def contract(self) -> ContractSettings | None:
        settings = self.context.config.get(ContractSettings)
        return settings if isinstance(settings, ContractSettings) else None

    @property
    def locustfile_path(self) -> Path:
        assert self.settings.locustfile is not None
        path = Path(self.settings.locustfile)
        return path if path.is_absolute() else self.context.rootpath / path

    # -- the run: before any test --------------------------------------------------
    # The contract fuzzer, the security probes and the race items call DELETE, PATCH and logout:
    # a load run after them measures 401s and 404s of the run's own making. So it goes first,
    # on the controller only (never on an xdist worker). These hooks are not tryfirst, unlike
    # the latency gate's: among implementations of the same priority pluggy calls the
    # later-registered first, and the latency gate should time operations on a quiet app,
    # before the load; a plain implementation still runs before xdist's node start-up and
    # before pytest's test loop.
    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_setupnodes(self, config: pytest.Config, specs: Any) -> None:
        """Under xdist: before any worker process exists, so no worker runs a test meanwhile, and
        none competes for the CPU while it starts and collects."""
        self._run_before_tests(config, defer_interrupt=True)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        """Without xdist: after collection, before the first test (the loop is what runs them).
        Not when collection failed: pytest then stops without running anything."""
        config = session.config
        if not (session.testsfailed and not config.option.continue_on_collection_errors):
            self._run_before_tests(config)
        if self._interrupt_pending:
            # pytest ends an interrupted session properly (report, summary, exit status 2) only
            # from here, not from xdist's node set-up, where the run took place.
            self._interrupt_pending = False
            raise KeyboardInterrupt("interrupted during the load run")
        return (yield)

    def _run_before_tests(self, config: pytest.Config, defer_interrupt: bool = False) -> None:
        if self._result is not None or self.context.is_xdist_worker or config.option.collectonly:
            return
        started = time.perf_counter()
        self.progress("the load run goes first, before the tests (they may change data and credentials)")
        try:
            with database_outside_tests(config):
                result = self._run()
        except Exception as exc:  # noqa: BLE001 - the gate's own failure: the session goes on, the gate is `error`
            frames = traceback.extract_tb(exc.__traceback__)
            where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
            result = GateResult.error(self.name, f"the load run crashed: {type(exc).__name__}: {exc}{where}")
            result.warnings.append("".join(traceback.format_exception(exc)).rstrip())
        except KeyboardInterrupt:
            # Ctrl-C while locust ran (its process group is already killed): no verdict, and the
            # session stops as on any Ctrl-C.
            self._interrupted = True
            self._result = GateResult.error(
                self.name, f"the run was interrupted during the load run (after {time.perf_counter() - started:.1f}s): "
                           "no verdict on the load", duration_s=time.perf_counter() - started)
            if not defer_interrupt:
                raise
            self._interrupt_pending = True
            return
        result.duration_s = time.perf_counter() - started
        self._result = result

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self._interrupted = True

    def finished_before_interruption(self, *, all_items_ran: bool, own_items_ran: bool) -> bool:
        # The load run goes before the tests: its verdict stands once the run is over.
        return self._result is not None and "interrupted" not in self._result.summary

    def evaluate(self) -> GateResult:
        if self._result is not None:
            return self._result
        if self.context.pytest_config.getoption("collectonly", False):
            return GateResult(self.name, Status.SKIPPED, "--collect-only: no load run")
        if self._interrupted:
            return GateResult.error(self.name, "the run was interrupted before the load run took place")
        return GateResult.error(self.name, "the load run did not take place: the session ended before its tests "
                                           "ran (collection errors?)")

    def _run(self) -> GateResult:
        if importlib.util.find_spec("locust") is None:
            return GateResult.error(self.name, f"locust is not installed: {INSTALL_HINT}")
        contract = self.contract
        if self.settings.remote_workers and contract is not None and contract.base_url is not None \
                and is_loopback_url(contract.base_url):
            self._notes.append(
                f"base_url = {contract.base_url!r} is a loopback address and remote_workers = "
                f"{self.settings.remote_workers}: every worker sends its requests to that URL as it is, so a "
                "worker on another machine loads its own loopback, not this service; fine only when the "
                "workers run on this machine")
        with tempfile.TemporaryDirectory(prefix="backend-gates-load-") as folder:
            try:
                with self._target() as base_url:
                    environment = dict(os.environ)
                    locustfile = self._prepare_locustfile(base_url, Path(folder), environment)
                    outcome = run_locust(self.settings, base_url, locustfile, Path(folder), environment,
                                         rootpath=self.context.rootpath, target_text=self._target_text,
                                         progress=self.progress)
            except TargetError as exc:
                return GateResult.error(self.name, str(exc))
        return judge(self.name, self.settings, outcome, notes=self._notes, left_out=self._left_out,
                     target_text=self._target_text, progress=self.progress)

    @contextmanager
    def _target(self) -> Iterator[str]:
        contract = self.contract
        assert contract is not None  # start() made sure
        if contract.base_url is not None:
            base_url = contract.base_url.rstrip("/")
            check_reachable(base_url)
            self._target_text = base_url
            yield base_url
            return
        assert contract.app is not None
        # The one in-process wrapper every gate uses (serving.py): the app's lifespan runs once
        # for the whole session, not again (and shut down) by this server.
        target = load_target(contract)
        served = ServedApp(target.app, target.kind, contract.app)
        with served as base_url:
            self._target_text = f"{contract.app} served by {served.server_name} at {base_url}"
            yield base_url

    def _prepare_locustfile(self, base_url: str, folder: Path, environment: dict[str, str]) -> str:
        contract = self.contract
        identities = identity_session(self.context.pytest_config, self.context.config)
        # Logged in once, here (the served app is this process's): every locust user reuses the
        # default identity's credentials. A locustfile of the user's reads them from this variable.
        headers = identities.headers() if identities is not None else dict(contract.headers) if contract else {}
        environment[HEADERS_VARIABLE] = json.dumps(headers)
        if self.settings.locustfile is not None:
            return str(self.locustfile_path)
        assert contract is not None
        return prepare_default_user(contract, base_url, folder, environment, rootpath=self.context.rootpath,
                                    notes=self._notes, left_out=self._left_out, headers=headers)
