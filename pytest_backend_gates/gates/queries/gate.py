"""Queries gate: SQL statement budgets and N+1 detection.

- `@pytest.mark.query_budget(max=None, repeats=None)`: the statements of the test's call phase
  (every thread) stay within the budget; defaults from [tool.backend-gates.queries].
- `query_counter` fixture: a failed test that used it is a violation (TestAttributedGate).
- Per HTTP request: with `max_per_request` or `max_repeats` configured, every request sent
  to the in-process app is counted (sql_capture's request scope, opened by the app wrappers
  in serving.py) and judged; where = the operation, named from the published exchanges
  (contract cases, the `api` fixture, probes). One violation per operation, reproduced by its
  most telling request: a valid one that answered 2xx, with the most statements.

Statements are counted where they run (an xdist worker under xdist) and merged on the controller.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Generator
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest

from pytest_backend_gates.gates.queries.budget import (
    Problem,
    QueryBudget,
    QueryBudgetExceeded,
    QueryUsageError,
    describe_statements,
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
from pytest_backend_gates.gates.queries.statements import QueryLog
from pytest_backend_gates.gates.test_attributed import TestAttributedGate
from pytest_backend_gates.result import GateResult, Status, Violation
from pytest_backend_gates.service.exchange import Exchange
from pytest_backend_gates.settings import ContractSettings, QueriesSettings

budget_key = pytest.StashKey[QueryBudget]()
problems_key = pytest.StashKey[list[Problem]]()
REQUEST_STATEMENTS_SHOWN = 8
PENDING_LIMIT = 512  # judged requests waiting for their exchange (to learn the operation's name)
TEMPLATE_LIMIT = 2000  # operations remembered to name requests that were not published
# How far a request of each source is known to be valid (what its reproduction is worth):
# the api fixture's requests are the test's own; the contract gate's are valid unless
# schemathesis generated them to be invalid; probes and input validation send invalid ones on purpose.
KNOWN_VALID, UNKNOWN, KNOWN_INVALID = 2, 1, 0
BODYLESS_METHODS = ("GET", "HEAD", "DELETE", "OPTIONS")


def request_key(method: str, target: str) -> tuple[str, str]:
    return method.upper(), unquote(target)


class QueriesGate(TestAttributedGate):
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
        from pytest_backend_gates.early_imports import (
            open_sqlite_connections,
            project_modules,
        )

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

    # -- per request ----------------------------------------------------------------------
    def _on_request(self, method: str, target: str, log: QueryLog) -> None:
        problems = judge(log, self.defaults)
        summary = log_summary(log)
        with self._lock:
            self.requests += 1
            self.request_statements += log.count
            if self.worst_request is None or log.count > self.worst_request["statements"]:
                self.worst_request = {"where": f"{method} {target.split('?')[0]}", **summary}
            if not problems:
                return
            pending = self._pending.setdefault(request_key(method, target), [])
            if sum(len(p) for p in self._pending.values()) < PENDING_LIMIT:
                pending.append({"method": method, "target": target, "check": _check(problems),
                                "text": "; ".join(p.text for p in problems),
                                "listing": describe_statements(log, REQUEST_STATEMENTS_SHOWN), **summary})

    def on_exchange(self, exchange: Exchange) -> None:
        parts = urlsplit(exchange.url)
        if exchange.source == "contract" and exchange.operation not in self.templates:
            self._learn_template(exchange.operation, unquote(parts.path))
        if not self._pending:
            return
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        with self._lock:
            waiting = self._pending.get(request_key(exchange.method, target))
            if not waiting:
                return
            record = waiting.pop(0)
        self._add_request_violation(exchange.operation, {
            **record, "status": exchange.status, "validity": _validity(exchange),
            "reproduce": exchange.reproduce() if callable(exchange.reproduce) else exchange.reproduce})

    def _learn_template(self, operation: str, path: str) -> None:
        """Remember which paths `operation` ("GET /pets/{pet_id}") serves, with the base path the
        requests carried (`servers: [{url: /api}]`: "/api/pets/3")."""
        method, _, template = operation.partition(" ")
        if not template.startswith("/") or len(self.templates) >= TEMPLATE_LIMIT:
            return
        pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part)
                          for part in re.split(r"(\{[^}/]*\})", template))
        found = re.fullmatch(f"(.*?){pattern}", path)
        prefix = found.group(1) if found is not None else ""
        self.templates[operation] = f"{re.escape(method)} {re.escape(prefix)}{pattern}"

    def _operation_of(self, method: str, path: str) -> str:
        """The operation a request of `path` belongs to, when the contract's exchanges named one;
        the most literal template wins (`/pets/mine` over `/pets/{pet_id}`)."""
        label = f"{method} {path}"
        matching = [operation for operation, pattern in self.templates.items() if re.fullmatch(pattern, label)]
        if not matching:
            return label
        return max(matching, key=lambda op: (len(re.sub(r"\{[^}/]*\}", "", op)), -len(op), op))

    def _reproduce_from_request_line(self, method: str, target: str) -> str | None:
        """For a request nobody published (a latency sample): the request line and the configured
        headers are the whole request when it has no body."""
        if method.upper() not in BODYLESS_METHODS:
            return None
        from pytest_backend_gates.service.exchange import curl_command
        from pytest_backend_gates.service.target import REPLAY_BASE_URL

        contract = self.context.config.get(ContractSettings)
        headers = list(contract.headers.items()) if contract is not None else []
        path, _, query = target.partition("?")
        url = REPLAY_BASE_URL + quote(path, safe="/:@!$&'()*+,;=-._~%") + (f"?{query}" if query else "")
        return curl_command(method.upper(), url, headers, None)

    def _add_request_violation(self, where: str, record: dict[str, Any]) -> None:
        """One violation per operation: its most telling request (see `_rank`), how many requests
        went over budget, and the most statements one of them ran."""
        record = {**record, "where": where, "requests": 1, "worst": record["statements"]}
        with self._lock:
            known = self.request_violations.get(where)
            self.request_violations[where] = record if known is None else _merge(known, record)

    def _flush_pending(self) -> None:
        """Requests whose exchange never came (not published): named by their operation when the
        contract named one, else by method and path; reproduced from the request line."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for records in pending.values():
            for record in records:
                method, path = record["method"], record["target"].split("?")[0]
                self._add_request_violation(self._operation_of(method, path), {
                    **record, "status": None, "validity": UNKNOWN,
                    "reproduce": self._reproduce_from_request_line(method, record["target"])})

    def _name_by_operation(self) -> None:
        """Requests named by their path ("GET /api/pets/3", from the api fixture or another worker)
        joined to their operation's violation once the contract's templates are known."""
        named: dict[str, dict[str, Any]] = {}
        for where, entry in self.request_violations.items():
            method, _, path = where.partition(" ")
            operation = where if where in self.templates else self._operation_of(method, path)
            entry = {**entry, "where": operation}
            named[operation] = entry if operation not in named else _merge(named[operation], entry)
        self.request_violations = named

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
            from pytest_backend_gates.early_imports import early_connections_reason

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

    def _request_violation(self, entry: dict[str, Any]) -> Violation:
        requests, worst = entry["requests"], entry["worst"]
        more = ""
        if worst > entry["statements"]:
            more = f" ({requests} requests over budget, the worst with {worst} statements"
            more += "; shown: the valid request answered 2xx that ran the most)" if _rank(entry)[0] else ")"
        elif requests > 1:
            more = f" (worst of {requests} requests over budget)"
        message = "\n".join([f"{entry['text']}{more}", *entry["listing"]])
        details: dict[str, Any] = {"statements": entry["statements"], "requests_over_budget": requests}
        if worst > entry["statements"]:
            details["worst_statements"] = worst
        if entry.get("status") is not None:
            details["status"] = entry["status"]
        return Violation(where=entry["where"], check=entry["check"], message=message, reproduce=entry["reproduce"],
                         details=details)

    def _no_request_reason(self) -> str:
        contract = self.context.config.get(ContractSettings)
        if contract is not None and contract.base_url is not None:
            return ("max_per_request / max_repeats apply to requests to an in-process app (contract app = ...); "
                    "with base_url the server runs in another process, whose statements are not seen")
        return ("no in-process HTTP request was counted (the contract gate and the api fixture count the requests "
                "they send to [tool.backend-gates.contract] app)")



class ExchangeListener:
    """Gives the gate each exchange, to name the operation of a request over budget."""

    def __init__(self, gate: QueriesGate) -> None:
        self.gate = gate

    @pytest.hookimpl
    def pytest_backend_gates_exchange(self, config: pytest.Config, exchange: Exchange) -> None:
        self.gate.on_exchange(exchange)


def _validity(exchange: Exchange) -> int:
    if exchange.source == "api fixture":
        return KNOWN_VALID
    if exchange.source == "contract":
        return KNOWN_INVALID if exchange.negative else KNOWN_VALID
    if exchange.source in ("security probe", "input_validation"):
        return KNOWN_INVALID
    return UNKNOWN


def _rank(entry: dict[str, Any]) -> tuple[int, ...]:
    """Which over-budget request reproduces an operation's violation best: a valid request that
    answered 2xx (a developer can replay it and see the N+1 in a normal answer), then one with a
    reproduction at all, the more surely valid the better; among equals, the most statements."""
    status = entry.get("status")
    answered_2xx = status is not None and 200 <= status < 300
    validity = entry.get("validity", UNKNOWN)
    return (int(answered_2xx and validity == KNOWN_VALID), int(entry.get("reproduce") is not None), validity,
            entry["statements"])


def _merge(known: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Two records of one operation's over-budget requests: the better-ranked one, with the counts of both."""
    chosen = other if _rank(other) > _rank(known) else known
    return {**chosen, "where": known["where"], "requests": known["requests"] + other["requests"],
            "worst": max(known["worst"], other["worst"])}


def _check(problems: list[Problem]) -> str:
    """An N+1 is the more telling finding when a request or test is both."""
    return "n-plus-one" if any(p.check == "n-plus-one" for p in problems) else "query-count"
