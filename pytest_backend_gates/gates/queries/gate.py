"""Queries gate: SQL statement budgets and N+1 detection.

- `@pytest.mark.query_budget(max=None, repeats=None)`: the statements of the test's call phase
  (every thread) stay within the budget; defaults from [tool.backend-gates.queries].
- `query_counter` fixture: a failed test that used it is a violation (TestAttributedGate).
- Per HTTP request: with `max_per_request` or `max_repeats` configured, every request sent
  to the in-process app is counted and judged, one violation per operation (per_request.py).

Statements are counted where they run (an xdist worker under xdist) and merged on the controller.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Any

import pytest

from pytest_backend_gates.early_imports import (
    early_connections_reason,
    open_sqlite_connections,
    project_modules,
)
from pytest_backend_gates.gates.queries.budget import (
    Problem,
    QueryBudget,
    QueryBudgetExceeded,
    QueryUsageError,
    failure_message,
    judge,
    log_summary,
    marker_budget,
)
from pytest_backend_gates.gates.queries.capture import (
    add_request_listener,
    counting,
    hold_hooks,
    release_hooks,
    remove_request_listener,
)
from pytest_backend_gates.gates.queries.per_request import (
    PerRequestCounts,
    _check,
    _merge,
)
from pytest_backend_gates.gates.queries.statements import QueryLog
from pytest_backend_gates.gates.test_attributed import TestAttributedGate
from pytest_backend_gates.result import GateResult, Status, Violation
from pytest_backend_gates.service.exchange import Exchange
from pytest_backend_gates.settings import ContractSettings, QueriesSettings

budget_key = pytest.StashKey[QueryBudget]()
problems_key = pytest.StashKey[list[Problem]]()


class QueriesGate(TestAttributedGate, PerRequestCounts):
    name = "queries"
    fixture_names = ("query_counter",)
    marker_names = ("query_budget",)
    noun = "query test"
    settings: QueriesSettings | None

    def __init__(self, settings: QueriesSettings | None, context: Any) -> None:
        super().__init__(settings, context)
        self.queries_settings = settings or QueriesSettings()
        self.defaults = QueryBudget(max=self.queries_settings.max_per_request,
                                    repeats=self.queries_settings.max_repeats)
        self.project_root = str(context.rootpath)
        self.usage_errors: list[str] = []
        self._lock = threading.Lock()
        self._listening = False
        self._holding = False
        self.requests = 0
        self.request_statements = 0
        self.worst_request: dict[str, Any] | None = None
        self._pending: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.request_violations: dict[str, dict[str, Any]] = {}  # operation -> its chosen request + counts
        # "GET /pets/{pet_id}" -> a regex of the requests it serves ("GET /api/pets/[^/]+", matched
        # whole against "METHOD path"): learnt from the contract's exchanges, to name requests by
        # their operation
        self.templates: dict[str, str] = {}
        self.early_connections: list[str] = []  # `module.NAME` of sqlite3 connections opened before start

    @property
    def per_request(self) -> bool:
        return self.defaults.max is not None or self.defaults.repeats is not None

    # -- set-up ---------------------------------------------------------------------
    def start(self) -> None:
        # For the whole session: sqlite3 connections opened at import (an app's module-level
        # connection) are counted too; outside a window the hooks do nothing.
        hold_hooks()
        self._holding = True
        self.early_connections = open_sqlite_connections(project_modules(self.context.rootpath))
        if self.per_request:
            add_request_listener(self._on_request, self.project_root)
            self._listening = True
            # Only then do exchanges matter (they name the operation): without a listener for
            # them, the api fixture does not build exchanges at all.
            self.context.pytest_config.pluginmanager.register(ExchangeListener(self), "backend-gates-queries-exchange")

    def stop(self) -> None:
        if self._listening:
            remove_request_listener(self._on_request)
            self._listening = False
        if self._holding:
            release_hooks()
            self._holding = False

    # -- the marker ---------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        marker = item.get_closest_marker("query_budget")
        if marker is None:
            return
        try:
            item.stash[budget_key] = marker_budget(marker, self.defaults)
            return
        except QueryUsageError as exc:
            problem = str(exc)
        self.usage_errors.append(problem)
        pytest.fail(problem, pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
        budget = pyfuncitem.stash.get(budget_key, None)
        if budget is None:
            return (yield)
        log = QueryLog(self.project_root)
        with counting(log):
            result = yield
        self.record_detail("test", {"test": pyfuncitem.nodeid, **log_summary(log)})
        problems = judge(log, budget)
        if problems:
            __tracebackhide__ = True
            pyfuncitem.stash[problems_key] = problems
            pytest.fail(failure_message(f"query budget exceeded ({budget.describe()}):", problems, log),
                        pytrace=False)
        return result

    def on_block(self, item: pytest.Item) -> Any:
        """The query_counter fixture's report of each counted block."""
        def record(log: QueryLog) -> None:
            self.record_detail("block", {"test": item.nodeid, **log_summary(log)})
        return record

    def violation_for(self, item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo[None]) -> Violation:
        problems = item.stash.get(problems_key, None)
        details = {"budget": item.stash[budget_key].describe()} if problems else {}
        if not problems and call.excinfo is not None and isinstance(call.excinfo.value, QueryBudgetExceeded):
            problems = call.excinfo.value.problems  # query_counter.assert_max
            details = {"source": "query_counter.assert_max"}
        if not problems or report.when != "call":
            return super().violation_for(item, report, call)
        return Violation(where=item.nodeid, check=_check(problems), message="; ".join(p.text for p in problems), details=details)

    # -- xdist --------------------------------------------------------------------------
    def worker_output(self) -> Any:
        self._flush_pending()
        data = super().worker_output()
        data.update(usage_errors=self.usage_errors, requests=self.requests,
                    request_statements=self.request_statements, worst_request=self.worst_request,
                    request_violations=list(self.request_violations.values()), templates=self.templates,
                    early_connections=self.early_connections)
        return data

    def absorb_worker_output(self, data: Any) -> None:
        super().absorb_worker_output(data)
        self.usage_errors.extend(data["usage_errors"])
        self.requests += data["requests"]
        self.request_statements += data["request_statements"]
        worst = data["worst_request"]
        if worst is not None and (self.worst_request is None or worst["statements"] > self.worst_request["statements"]):
            self.worst_request = worst
        self.early_connections += [c for c in data.get("early_connections", ()) if c not in self.early_connections]
        for operation, pattern in data["templates"].items():
            self.templates.setdefault(operation, pattern)
        for entry in data["request_violations"]:
            key = entry["where"]
            known = self.request_violations.get(key)
            self.request_violations[key] = entry if known is None else _merge(known, entry)

    # -- deciding ----------------------------------------------------------------------------
    @property
    def unused(self) -> bool:
        return super().unused and not self.requests and not self.usage_errors

    def evaluate(self) -> GateResult:
        if self.early_connections:  # their statements were not counted: no verdict on partial counts
            return GateResult.error(self.name, early_connections_reason(
                self.early_connections, self.context.pytest_config.invocation_params.args))
        self._flush_pending()
        self._name_by_operation()
        windows = self.details.get("test", []) + self.details.get("block", [])
        worst = max(windows, key=lambda w: w["statements"], default=None)
        tests = len(self.tests_used)
        measured: dict[str, Any] = {
            "tests": tests,
            "statements": sum(w["statements"] for w in windows),
            "worst_test": {"where": worst["test"], "statements": worst["statements"],
                           "top_shape": worst["top_shape"], "top_repeats": worst["top_repeats"]} if worst else None,
        }
        if self.per_request:
            measured.update(requests=self.requests, request_statements=self.request_statements,
                            worst_request=self.worst_request)
        threshold = {"max_per_request": self.defaults.max, "max_repeats": self.defaults.repeats}
        violations = list(self.test_failures) + [self._request_violation(e) for e in self.request_violations.values()]
        warnings: list[str] = []
        if self.usage_errors:
            return GateResult(self.name, Status.ERROR, f"bad query_budget marker: {self.usage_errors[0]}",
                              violations=violations, warnings=self.usage_errors[1:], measured=measured,
                              threshold=threshold)
        if self.per_request and not self.requests:
            warnings.append(self._no_request_reason())
        # A budget met with nothing counted may mean a driver without a hook: say so, do not fail
        silent = sorted({w["test"] for w in self.details.get("test", []) if not w["statements"]})
        if silent:
            shown = ", ".join(silent[:3]) + (f" and {len(silent) - 3} more" if len(silent) > 3 else "")
            warnings.append(f"no SQL statement was counted in {shown}: if the test does reach a database, its "
                            f"driver is not hooked (asyncpg, aiosqlite...) or its connection was opened before "
                            f"counting (query_counter.watch(conn)); see docs/queries.md")
        if self.requests and not self.request_statements:
            warnings.append(f"{self.requests} in-process requests were counted and none ran a SQL statement: if the "
                            f"app uses a database, its driver is not hooked; see docs/queries.md")
        if not tests and not self.requests:
            contract = self.context.config.get(ContractSettings)
            if self.per_request and contract is not None and contract.base_url is not None:
                return GateResult(self.name, Status.ERROR, f"could not count: {warnings[0]}", measured=measured,
                                  threshold=threshold)
            return GateResult(self.name, Status.SKIPPED, "no test used the query_counter fixture or "
                              "@pytest.mark.query_budget, and no in-process HTTP request was counted",
                              warnings=warnings, measured=measured, threshold=threshold)
        parts = []
        if tests:
            parts.append(f"{tests} query test{'s' if tests != 1 else ''}")
        if self.requests:
            parts.append(f"{self.requests} request{'s' if self.requests != 1 else ''} "
                         f"({self.request_statements} statements)")
        done = ", ".join(parts)
        if violations:
            plural = "s" if len(violations) != 1 else ""
            return GateResult(self.name, Status.FAILED, f"{len(violations)} query budget violation{plural} in {done}",
                              violations=violations, warnings=warnings, measured=measured, threshold=threshold)
        return GateResult(self.name, Status.PASSED, f"within budget: {done}", warnings=warnings,
                          measured=measured, threshold=threshold)


class ExchangeListener:
    """Gives the gate each exchange, to name the operation of a request over budget."""

    def __init__(self, gate: QueriesGate) -> None:
        self.gate = gate

    @pytest.hookimpl
    def pytest_backend_gates_exchange(self, config: pytest.Config, exchange: Exchange) -> None:
        self.gate.on_exchange(exchange)
