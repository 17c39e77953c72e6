"""Load gate: locust, headless, in its own process, with declarative thresholds.

When: once, on the controller (never on an xdist worker), BEFORE any test or
gate item runs (a `pytest_runtestloop` wrapper): the contract fuzzer, the
security probes and the race items call DELETE, PATCH and logout, and a load
run after them measures 401s and 404s of the run's own making. The verdict is
still decided in `evaluate()`, with the other gates. The contract app (or
base_url) of `[tool.backend-gates.contract]` is the target; an app is served on
a free 127.0.0.1 port for the run (load_server.py) and stopped after it.

How: load_runner.py runs in a new process group (gevent never patches the
pytest process); the gate reads its progress lines, shows them, and kills
the whole group when the run overruns `duration + margin`. Thresholds
(`thresholds`, `thresholds_per_endpoint`, the budget grammar) are checked
here against locust's statistics, which the runner ships as data: counts
and locust's response-time histogram per endpoint.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import pytest

from pytest_backend_gates.budget import Budget, format_duration
from pytest_backend_gates.gates.base import Gate
from pytest_backend_gates.result import GateResult, Status, Violation
from pytest_backend_gates.service.django_db import database_outside_tests
from pytest_backend_gates.service.target import (
    TargetError,
    check_loopback,
    schema_location,
)
from pytest_backend_gates.settings import ContractSettings, LoadSettings

INSTALL_HINT = "pip install pytest-backend-gates[load]"
STARTUP_TIMEOUT_S = 45.0  # locust imported, locustfile loaded, workers connected (the runner gives them 30 s)
PROGRESS_EVERY_S = 3.0
EVENT_PREFIX = "@@backend-gates-load "  # as in load_runner.py
ALL = "all requests"
RUNNER = Path(__file__).with_name("runner.py")
DEFAULT_USER = Path(__file__).with_name("default_user.py")
PLAN_VARIABLE = "BACKEND_GATES_LOAD_PLAN"


# --------------------------------------------------------------------------
# Statistics: locust's serialised StatsEntry, and metrics from it
# --------------------------------------------------------------------------


@dataclass
class EndpointStats:
    """Counts and response times (milliseconds, locust's rounded histogram) of one endpoint or of all."""

    requests: int = 0
    failures: int = 0
    total_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float = 0.0
    histogram: dict[float, int] = field(default_factory=dict)  # rounded response time (ms) -> count

    @classmethod
    def from_locust(cls, entry: Mapping[str, Any]) -> EndpointStats:
        return cls(requests=int(entry["num_requests"]), failures=int(entry["num_failures"]),
                   total_ms=float(entry["total_response_time"]), min_ms=entry.get("min_response_time"),
                   max_ms=float(entry.get("max_response_time") or 0),
                   histogram=parse_histogram(entry.get("response_times") or {}))

    def merge(self, other: EndpointStats) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.total_ms += other.total_ms
        if other.min_ms is not None:
            self.min_ms = other.min_ms if self.min_ms is None else min(self.min_ms, other.min_ms)
        self.max_ms = max(self.max_ms, other.max_ms)
        for bucket, count in other.histogram.items():
            self.histogram[bucket] = self.histogram.get(bucket, 0) + count

    def percentile_ms(self, percent: float) -> float:
        """Locust's own rule (stats.calculate_response_time_percentile), on its histogram."""
        answered = sum(self.histogram.values())
        if not answered:
            return 0.0
        wanted = int(answered * percent / 100)
        seen = 0
        for bucket in sorted(self.histogram, reverse=True):
            seen += self.histogram[bucket]
            if answered - seen <= wanted:
                return float(bucket)
        return 0.0

    def metric(self, budget: Budget, seconds: float) -> float:
        """The budget's metric in its base unit: seconds, percent or requests per second."""
        if budget.metric == "rps":
            return self.requests / seconds if seconds > 0 else 0.0
        if budget.metric == "failures":
            return self.failures / self.requests * 100 if self.requests else 0.0
        if budget.metric == "mean":
            return self.total_ms / self.requests / 1000 if self.requests else 0.0
        if budget.metric == "min":
            return (self.min_ms or 0.0) / 1000
        if budget.metric == "max":
            return self.max_ms / 1000
        assert budget.percentile is not None
        return self.percentile_ms(budget.percentile) / 1000

    def summary(self, seconds: float) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "failure_pct": round(self.failures / self.requests * 100, 3) if self.requests else 0.0,
            "rps": round(self.requests / seconds, 2) if seconds > 0 else 0.0,
            "p50_ms": self.percentile_ms(50), "p95_ms": self.percentile_ms(95), "p99_ms": self.percentile_ms(99),
            "mean_ms": round(self.total_ms / self.requests, 2) if self.requests else 0.0,
            "max_ms": self.max_ms,
        }


def parse_histogram(raw: Mapping[Any, Any]) -> dict[float, int]:
    """Locust's response-time histogram with its keys as numbers: JSON made them strings, and a
    bucketing that rounds floats (older locust, or a custom `bucket_response_time`) gives '120.0'."""
    histogram: dict[float, int] = {}
    for key, count in raw.items():
        bucket = float(key)
        histogram[bucket] = histogram.get(bucket, 0) + int(count)
    return histogram


def template_pattern(path: str) -> re.Pattern[str]:
    """'/items/{item_id}' -> a regex matching '/items/7' (and the template itself)."""
    parts = re.split(r"(\{[^}/]+\})", path)
    return re.compile("".join("[^/]+" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in parts))


def endpoint_path(name: str) -> str:
    """A locust request name without scheme, host and query: what an operation's path template matches."""
    return urlsplit(name).path if "://" in name else name.split("?", 1)[0]


def match_endpoint(operation: str, endpoints: Mapping[str, EndpointStats]) -> EndpointStats | None:
    """The stats of every endpoint ('METHOD name') an operation ('GET /items/{id}') covers, merged."""
    method, _, path = operation.partition(" ")
    pattern = template_pattern(path)
    merged: EndpointStats | None = None
    for label, stats in endpoints.items():
        their_method, _, name = label.partition(" ")
        if their_method.upper() == method.upper() and (name == path or pattern.fullmatch(endpoint_path(name))):
            merged = merged or EndpointStats()
            merged.merge(stats)
    return merged


# --------------------------------------------------------------------------
# The gate
# --------------------------------------------------------------------------


@dataclass
class RunOutcome:
    data: dict[str, Any] | None = None
    error: str | None = None
    log_tail: str = ""


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
        with tempfile.TemporaryDirectory(prefix="backend-gates-load-") as folder:
            try:
                with self._target() as base_url:
                    environment = dict(os.environ)
                    locustfile = self._prepare_locustfile(base_url, Path(folder), environment)
                    outcome = self._run_locust(base_url, locustfile, Path(folder), environment)
            except TargetError as exc:
                return GateResult.error(self.name, str(exc))
        return self._judge(outcome)

    @contextmanager
    def _target(self) -> Iterator[str]:
        from pytest_backend_gates.gates.load.server import ServedApp, check_reachable
        from pytest_backend_gates.service.target import load_target

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
        if self.settings.locustfile is not None:
            return str(self.locustfile_path)
        import httpx

        from pytest_backend_gates.gates.load.plan import (
            base_path,
            build_plan,
            parse_schema_text,
        )
        from pytest_backend_gates.service.existing_ids import ExistingIds
        from pytest_backend_gates.service.openapi import operation_matches

        contract = self.contract
        assert contract is not None
        schema = self._read_schema(contract, base_url, parse_schema_text)
        # The schema's base path ('/api'), less what base_url already ends with: locust and httpx
        # put the host's path before every URL, so 'http://h/api' + '/api/items' would double it.
        prefix = base_path(schema)
        served = urlsplit(base_url).path.rstrip("/")
        if served and (prefix == served or prefix.startswith(served + "/")):
            prefix = prefix[len(served):]
        with httpx.Client(base_url=base_url, headers=dict(contract.headers), timeout=10.0) as client:
            finder = ExistingIds(schema, client, prefix)
            globs = contract.exclude_operations
            plan = build_plan(schema, finder.find, prefix, excluded=lambda method, path: any(
                operation_matches(glob, method, p) for glob in globs for p in (path, base_path(schema) + path)))
            self._try_plan(plan, schema, prefix, finder, client)
        self._notes.extend(f"default user: left out {why}" for why in plan.skipped)
        if not plan.operations:
            raise TargetError(
                "the default load user found no GET/HEAD operation it can call in the schema "
                f"({contract.schema}; {len(plan.skipped)} left out, {plan.unsafe} not safe): "
                "give the operations examples, or set locustfile")
        plan_file = folder / "plan.json"
        plan_file.touch(mode=0o600)  # it may hold the contract's headers (secrets from ${ENV})
        plan_file.write_text(plan.to_json(dict(contract.headers)), encoding="utf-8")
        environment[PLAN_VARIABLE] = str(plan_file)
        return str(DEFAULT_USER)

    def _try_plan(self, plan: Any, schema: dict[str, Any], prefix: str, finder: Any, client: Any) -> None:
        """Send every URL of the plan once before the run (a few requests per operation), and leave
        out what would only measure the run's own mistakes, each said in a warning:

        - a URL naming ids that answers 404: ids the gate made up (or took from the schema's
          examples) that do not exist here; example ids that all answer 404 give way to ids from
          the collection's list answer, where there is one;
        - a URL answering 401/403: the configured credentials may not call it (another role's
          operation). Unless every URL is refused: then the credentials are wrong altogether, and
          the run goes ahead to say so loudly (no 2xx answer is the gate's error).
        A 404 on a URL without ids, a 5xx or a connection error stays in: the run shows them."""
        from pytest_backend_gates.gates.load.plan import Unsupported, plan_entry

        tried = [(entry, {url: _status(client, entry["method"], url) for url in entry["urls"]})
                 for entry in plan.operations]
        answered = [status for _, statuses in tried for status in statuses.values() if status is not None]
        refused_everywhere = bool(answered) and all(status in (401, 403) for status in answered)
        kept = []
        for entry, statuses in tried:
            label = f"{entry['method']} {entry['path']}"
            has_ids = "{" in entry["path"]
            out = {url: status for url, status in statuses.items()
                   if (status == 404 and has_ids) or (status in (401, 403) and not refused_everywhere)}
            urls = [url for url in entry["urls"] if url not in out]
            if not urls and entry["examples"] and set(out.values()) == {404}:
                try:
                    retry = plan_entry(schema, prefix, entry["path"], entry["method"].lower(),
                                       finder.find(entry["path"], use_examples=False))
                except Unsupported:
                    retry = None
                if retry is not None and not retry["invented"]:
                    self._notes.append(f"default user: {label}: the schema's example ids answered 404 "
                                       f"({', '.join(out)}); used {retry['sources']} instead")
                    kept.append(retry)
                    continue
            self._left_out.update({f"{entry['method']} {url}": status for url, status in out.items()})
            if urls:
                kept.append({**entry, "urls": urls})
                continue
            shown = ", ".join(f"{url}: {status}" for url, status in out.items())
            if 404 in out.values():
                made_up = ", ".join(entry["invented"]) or "its path parameters"
                plan.skipped.append(
                    f"{label}: every URL tried answered 404 ({shown}); no id known to exist was found for {made_up} "
                    "(no example in the schema, none in a list answer of its collection), and a 404 on an id the "
                    "gate chose is not a load failure: give the parameter an `example` of an id that exists, or "
                    "write a locustfile")
            else:
                plan.skipped.append(
                    f"{label}: the configured credentials may not call it ({shown}): another role's operation? "
                    "Give the gates credentials that may ([tool.backend-gates.contract] headers), or call it from "
                    "a locustfile")
        plan.operations = kept

    def _read_schema(self, contract: ContractSettings, base_url: str, parse: Any) -> dict[str, Any]:
        import urllib.request

        kind, location = schema_location(contract.schema, self.context.rootpath)
        if kind == "file":
            return parse(Path(location).read_text(encoding="utf-8"), location)  # type: ignore[no-any-return]
        url = base_url + location if kind == "path" else location
        if kind == "url":
            check_loopback(url, contract.allow_remote)
        request = urllib.request.Request(url, headers=dict(contract.headers))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http(s) only
                text = response.read().decode("utf-8")
        except Exception as exc:
            raise TargetError(f"schema = {contract.schema!r}: fetching {url} for the default load user failed: "
                              f"{type(exc).__name__}: {exc}") from None
        try:
            return parse(text, url)  # type: ignore[no-any-return]
        except ValueError as exc:
            raise TargetError(str(exc)) from None

    def _run_locust(self, base_url: str, locustfile: str, folder: Path, environment: dict[str, str]) -> RunOutcome:
        settings = self.settings
        output = folder / "result.json"
        bind_host, _, bind_port = (settings.master_bind or "").partition(":")
        run = {
            "locustfile": locustfile, "host": base_url, "users": settings.users, "spawn_rate": settings.spawn_rate,
            "duration": settings.duration, "workers": settings.workers, "remote_workers": settings.remote_workers,
            "master_bind_host": bind_host or None, "master_port": int(bind_port) if bind_port else None,
            "progress_every": PROGRESS_EVERY_S, "drain": drain_seconds(settings.margin), "output": str(output), "cwd": str(self.context.rootpath),
        }
        (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
        workers = settings.workers + settings.remote_workers
        self.progress(f"locust: {settings.users} users (spawn rate {settings.spawn_rate:g}/s) for "
                      f"{format_duration(settings.duration)} against {self._target_text}"
                      + (f", {workers} workers" if workers else "")
                      + (f", {Path(locustfile).name}" if settings.locustfile else ", default user"))
        stderr_path = folder / "runner.log"
        environment["PYTHONUNBUFFERED"] = "1"
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, str(RUNNER), str(folder / "run.json")], stdout=subprocess.PIPE, stderr=stderr,
                stdin=subprocess.DEVNULL, cwd=self.context.rootpath, env=environment, start_new_session=True)
        try:
            timed_out = self._follow(process)
        finally:
            if process.poll() is None:
                _kill_group(process)
        log_tail = _tail(stderr_path) + _tail(output.with_suffix(".workers.log"))
        if timed_out is not None:
            return RunOutcome(error=timed_out, log_tail=log_tail)
        if not output.is_file():
            return RunOutcome(error=f"the locust process exited with status {process.returncode} without a result",
                              log_tail=log_tail)
        data = json.loads(output.read_text(encoding="utf-8"))
        if "error" in data:
            message = data["message"]
            if data["error"] == "locust-missing":
                message = f"locust cannot be imported ({message}): {INSTALL_HINT}"
            elif data["error"] == "crash":
                log_tail, message = message, "the locust process crashed"
            return RunOutcome(error=message, log_tail=log_tail)
        return RunOutcome(data=data, log_tail=log_tail)

    def _follow(self, process: subprocess.Popen[bytes]) -> str | None:
        """Show the runner's progress until it exits; the reason when it overran and was killed."""
        lines: queue.Queue[bytes | None] = queue.Queue()
        assert process.stdout is not None
        reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
        reader.start()
        settings = self.settings
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        phase = f"did not start within {STARTUP_TIMEOUT_S:g}s"
        while True:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if time.monotonic() > deadline:
                    _kill_group(process)
                    return f"the load run {phase}: locust was stopped (process group killed)"
                continue
            if line is None:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    _kill_group(process)
                    return f"the load run {phase}: locust was stopped (process group killed)"
                return None
            text = line.decode("utf-8", "replace").strip()
            if not text.startswith(EVENT_PREFIX):
                continue
            event = json.loads(text[len(EVENT_PREFIX):])
            if event["event"] == "waiting":
                self.progress(f"waiting for {event['workers']} locust workers (master at {event['master']})")
            elif event["event"] == "started":
                deadline = time.monotonic() + settings.duration + settings.margin
                phase = (f"did not finish within duration + margin ({format_duration(settings.duration)} + "
                         f"{format_duration(settings.margin)}): a hung target or locustfile?")
            elif event["event"] == "progress":
                p95 = "-" if event["p95_ms"] is None else format_duration(event["p95_ms"] / 1000)
                self.progress(f"{event['elapsed']:.0f}s/{settings.duration:g}s  {event['users']} users  "
                              f"{event['requests']} requests  {event['failures']} failures  "
                              f"{event['rps']:g} req/s  p95 {p95}")

    # -- deciding ----------------------------------------------------------
    def _judge(self, outcome: RunOutcome) -> GateResult:
        settings = self.settings
        threshold = {
            "thresholds": [b.render() for b in settings.thresholds],
            "thresholds_per_endpoint": {k: [b.render() for b in v] for k, v in settings.thresholds_per_endpoint.items()},
            "users": settings.users, "spawn_rate": settings.spawn_rate, "duration_s": settings.duration,
            "workers": settings.workers + settings.remote_workers,
        }
        notes = list(self._notes)
        if outcome.error is not None or outcome.data is None:
            if outcome.log_tail:
                notes.append("locust's output (last lines):\n" + outcome.log_tail)
            return GateResult(self.name, Status.ERROR, outcome.error or "no result", warnings=notes,
                              threshold=threshold)
        data = outcome.data
        seconds = float(data["elapsed"])
        total = EndpointStats.from_locust(data["total"])
        endpoints = {f"{e['method']} {e['name']}": EndpointStats.from_locust(e) for e in data["entries"]}
        errors = sorted(data["errors"], key=lambda e: -e["occurrences"])
        if data.get("late_workers"):
            notes.append(f"{data['late_workers']} locust worker(s) sent no final report in time: the last "
                         "seconds of their requests are missing from the figures")
        for exception in data["exceptions"]:
            notes.append(f"a locust task raised {exception['count']}x: {exception['msg']}")
        measured: dict[str, Any] = {**total.summary(seconds), "duration_s": round(seconds, 2), "users": settings.users,
                                    "workers": data["workers"], "target": self._target_text,
                                    "endpoints": {label: s.summary(seconds) for label, s in sorted(endpoints.items())}}
        failing = failing_endpoints(errors)
        measured["failing"] = {label: dict(counts) for label, counts in failing.items()}
        default_user = self.settings.locustfile is None
        ok_word = "answered 2xx" if default_user else "succeeded"
        measured["succeeded"] = total.requests - total.failures
        if self._left_out:
            shown = ", ".join(f"{url}: {status}" for url, status in list(self._left_out.items())[:5])
            more = f" and {len(self._left_out) - 5} more" if len(self._left_out) > 5 else ""
            notes.append(f"{len(self._left_out)} URL(s) of the default user were left out of the run (not counted as "
                         f"load failures): tried once before it, they answered 404 on ids not known to exist, or "
                         f"401/403 to the configured credentials: {shown}{more}")
            measured["left_out"] = dict(self._left_out)
        if total.requests == 0:
            why = f"; {errors[0]['method']} {errors[0]['name']}: {errors[0]['error']}" if errors else ""
            return GateResult(self.name, Status.ERROR,
                              f"no request was answered in the {format_duration(settings.duration)} run against "
                              f"{self._target_text} (target hung or down?){why}",
                              warnings=notes, measured=measured, threshold=threshold)
        if total.requests == total.failures and errors and all(_is_connection_error(e["error"]) for e in errors):
            return GateResult(self.name, Status.ERROR,
                              f"every request failed to connect to {self._target_text}: {errors[0]['error']}",
                              warnings=notes, measured=measured, threshold=threshold)
        if total.failures >= total.requests:
            # Whatever the thresholds say: a run in which nothing succeeded measured nothing but errors,
            # most often of its own making (credentials, ids that do not exist).
            return GateResult(self.name, Status.ERROR,
                              f"none of the {total.requests} requests {ok_word}, so the run measured errors only: "
                              f"{failing_text(failing)}{failure_hint(failing)}",
                              warnings=notes, measured=measured, threshold=threshold)

        violations = [self._check(ALL, budget, total, seconds, errors) for budget in settings.thresholds]
        for operation, budgets in settings.thresholds_per_endpoint.items():
            stats = match_endpoint(operation, endpoints)
            if stats is None or stats.requests == 0:
                shown = ", ".join(sorted(endpoints)[:8])
                violations.append(Violation(
                    where=operation, check="load-endpoint-missing",
                    message=f"no request to {operation} was made, so its thresholds could not be checked "
                            f"(endpoints seen: {shown})"))
                continue
            relevant = [e for e in errors if match_endpoint(operation, {f"{e['method']} {e['name']}": stats})]
            violations.extend(self._check(operation, budget, stats, seconds, relevant) for budget in budgets)
        failed = [v for v in violations if v is not None]
        if errors and not any(v.check == "load-failures" for v in failed):
            notes.append(f"{total.failures} of {total.requests} requests failed: {failing_text(failing)}"
                         f"{failure_hint(failing)}")
        if not settings.thresholds and not settings.thresholds_per_endpoint:
            notes.append("no thresholds are set: the load run is reported, nothing is enforced")
        for line in _table(endpoints, total, seconds):
            self.progress(line)
        figures = (f"{total.requests} requests sent, {measured['succeeded']} {ok_word}, {measured['rps']:g} req/s, "
                   f"{measured['failure_pct']:.3g}% failures, "
                   f"p95 {format_duration(total.percentile_ms(95) / 1000)} ({settings.users} users, "
                   f"{format_duration(seconds)}{', ' + str(data['workers']) + ' workers' if data['workers'] else ''})")
        count = len(settings.thresholds) + sum(len(b) for b in settings.thresholds_per_endpoint.values())
        if failed:
            summary = f"{len(failed)} of {count} thresholds violated: {figures}"
            status = Status.FAILED
        else:
            summary = f"{count} thresholds met: {figures}" if count else figures
            status = Status.PASSED
        return GateResult(self.name, status, summary, violations=failed, warnings=notes, measured=measured,
                          threshold=threshold)

    def _check(self, where: str, budget: Budget, stats: EndpointStats, seconds: float,
               errors: list[dict[str, Any]]) -> Violation | None:
        check = budget.check(stats.metric(budget, seconds))
        if check.ok:
            return None
        message = f"{check.describe()} over {stats.requests} requests"
        if budget.metric == "failures" and errors:
            failing = failing_endpoints(errors)
            message += f"; failing: {failing_text(failing)}{failure_hint(failing)}"
        return Violation(where=where, check=f"load-{budget.metric}", message=message,
                         details={"budget": budget.render(), "measured": check.measured, "requests": stats.requests})


_STATUS_PATTERNS = (
    re.compile(r"\bHTTP (\d{3})\b"),  # the default user's own failure text
    re.compile(r"\bcode=(\d{3})\b"),  # FastHttpUser: LocustBadStatusCode(code=404)
    re.compile(r"'(\d{3}) (?:Client|Server) Error"),  # HttpUser: HTTPError('404 Client Error: ...')
    re.compile(r"\bstatus(?: code)?[ =:]+(\d{3})\b", re.IGNORECASE),
)


def error_kind(error: str) -> str:
    """The status code a locust error text names ('401'), else the error itself, shortened."""
    for pattern in _STATUS_PATTERNS:
        match = pattern.search(error)
        if match:
            return match.group(1)
    text = " ".join(error.split())
    return text if len(text) <= 80 else text[:77] + "..."


def failing_endpoints(errors: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """locust's error table as endpoint -> status (or error) -> count, the most failing endpoint first."""
    table: dict[str, dict[str, int]] = {}
    for error in errors:
        counts = table.setdefault(f"{error['method']} {error['name']}", {})
        kind = error_kind(str(error["error"]))
        counts[kind] = counts.get(kind, 0) + int(error["occurrences"])
    ordered = sorted(table.items(), key=lambda item: -sum(item[1].values()))
    return {label: dict(sorted(counts.items(), key=lambda kv: -kv[1])) for label, counts in ordered}


def failing_text(failing: Mapping[str, Mapping[str, int]], limit: int = 5) -> str:
    """'GET /items/{id}: 401 x120; GET /tags: 500 x3, ConnectionResetError(...) x1'."""
    parts = [f"{label}: " + ", ".join(f"{kind} x{n}" for kind, n in counts.items())
             for label, counts in list(failing.items())[:limit]]
    more = len(failing) - limit
    return "; ".join(parts) + (f"; {more} more endpoint(s)" if more > 0 else "")


def failure_hint(failing: Mapping[str, Mapping[str, int]]) -> str:
    """' (401 means the credentials ...)': what the commonest status says to do, for the endpoint failing
    most; nothing when no status is known (connection errors)."""
    from pytest_backend_gates.service.existing_ids import status_hint

    statuses: dict[int, int] = {}
    for counts in failing.values():
        for kind, n in counts.items():
            if kind.isdigit():
                statuses[int(kind)] = statuses.get(int(kind), 0) + n
    if not statuses:
        return ""
    top = max(statuses, key=lambda code: statuses[code])
    label = next(label for label, counts in failing.items() if str(top) in counts)
    return f" ({status_hint(statuses, label)})"


def _status(client: Any, method: str, url: str) -> int | None:
    """The status `url` answers now; None when it gives no answer (the run will show why)."""
    try:
        response = client.request(method, url)
    except Exception:  # noqa: BLE001 - a connection error is the run's to report, with its figures
        return None
    return int(response.status_code)


def drain_seconds(margin: float) -> float:
    """How long users may finish the request they are in after `duration`: half the margin, at most 5 s."""
    return round(min(5.0, margin / 2), 3)


def _table(endpoints: Mapping[str, EndpointStats], total: EndpointStats, seconds: float) -> list[str]:
    rows = [(label, s) for label, s in sorted(endpoints.items())] + [(ALL, total)]
    width = max(len(label) for label, _ in rows)

    def ms(value: float) -> str:
        return format_duration(value / 1000)

    lines = [f"{'endpoint'.ljust(width)}  {'requests':>8} {'failures':>8} {'req/s':>7} {'p50':>7} {'p95':>7} {'p99':>7}"]
    for label, s in rows:
        rps = s.requests / seconds if seconds > 0 else 0.0
        lines.append(f"{label.ljust(width)}  {s.requests:>8} {s.failures:>8} {rps:>7.1f} {ms(s.percentile_ms(50)):>7} "
                     f"{ms(s.percentile_ms(95)):>7} {ms(s.percentile_ms(99)):>7}")
    return lines


_CONNECTION_ERRORS = ("ConnectionRefused", "ConnectionReset", "ConnectionError", "Errno 111", "Connection refused",
                      "NewConnectionError", "timed out", "Timeout")


def _is_connection_error(text: str) -> bool:
    return any(marker in text for marker in _CONNECTION_ERRORS)


def _pump(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
    try:
        for line in stream:
            lines.put(line)
    finally:
        lines.put(None)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """The runner and every locust worker it started (they share its process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        process.kill()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _tail(path: Path, lines: int = 15) -> str:
    if not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    return "\n".join(text.splitlines()[-lines:])


