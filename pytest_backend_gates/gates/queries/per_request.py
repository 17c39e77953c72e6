"""The queries gate's count per HTTP request (`PerRequestCounts`, a part of QueriesGate).

With `max_per_request` or `max_repeats` configured, every request sent to the in-process app
is counted (capture.py's request scope, opened by the app wrappers in serving.py) and judged;
where = the operation, named from the published exchanges (contract cases, the `api` fixture,
probes) or the contract's path templates. One violation per operation, reproduced by its most
telling request: a valid one that answered 2xx, with the most statements.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from pytest_backend_gates.gates.base import GateContext
from pytest_backend_gates.gates.queries.budget import (
    Problem,
    QueryBudget,
    describe_statements,
    judge,
    log_summary,
)
from pytest_backend_gates.gates.queries.statements import QueryLog
from pytest_backend_gates.result import Violation
from pytest_backend_gates.service.exchange import Exchange, curl_command
from pytest_backend_gates.service.target import REPLAY_BASE_URL
from pytest_backend_gates.settings import ContractSettings

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


class PerRequestCounts:
    """Counting, naming and judging the requests (the state is set in QueriesGate.__init__)."""

    context: GateContext
    defaults: QueryBudget
    requests: int
    request_statements: int
    worst_request: dict[str, Any] | None
    request_violations: dict[str, dict[str, Any]]
    templates: dict[str, str]
    _lock: threading.Lock
    _pending: dict[tuple[str, str], list[dict[str, Any]]]

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
