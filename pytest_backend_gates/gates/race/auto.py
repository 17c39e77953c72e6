"""The race gate's automatic probe: concurrent identical creates against the contract app.

For each create operation of the schema (POST, and PUT), a body the API accepts
is generated (schemathesis' `operation.as_strategy()`, tried one by one until
one answers 2xx); then `threads` clients send the same request at once,
`rounds` times (a fresh accepted-shaped body per round), through the `api`
fixture's client, at the path the API serves (the schema's `servers[0].url`
base path included), and:

- no answer may be a 5xx (or an exception of the in-process app) that the same
  request does not also get when sent alone: a round with a 5xx is re-sent
  alone after the storm, and only a 5xx that does not come back alone is a race;
- the creates answered 2xx must yield distinct identifiers (an id-like field of
  the JSON answer, else the Location header);
- each created resource must read back (GET on the item path or Location) with
  the data that was sent.

An operation that was not exercised (no request answered 2xx, requests refused
for credentials included), an exception of the HTTP client itself, or a crash
of the probe is an error of the item, never a pass and never a race.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

import pytest

from pytest_backend_gates.gates.items import (
    GateItem,
    GateItemFailure,
    accepted_line,
    gate_suite,
    problem_lines,
    split_accepted,
)
from pytest_backend_gates.gates.race.auto_client import (
    Answer,
    Created,
    _statuses,
    _violation,
)
from pytest_backend_gates.gates.race.auto_read_back import ReadBack, _identifier
from pytest_backend_gates.gates.race.auto_requests import ProbeRequests, _hint
from pytest_backend_gates.gates.race.probe import Race, RaceError
from pytest_backend_gates.gates.race.results import describe_exception
from pytest_backend_gates.result import Violation
from pytest_backend_gates.service.django_db import django_database_in_use
from pytest_backend_gates.service.identities import identity_session
from pytest_backend_gates.service.openapi import (
    UNIT_PHASES,
    engine_config,
    load_schema,
    schema_fetched_over_the_network,
    short_error,
)
from pytest_backend_gates.service.target import TargetError, load_target

NO_CREATE = "no create operation"
NO_CREATE_REASON = ("auto = true, but the schema has no create operation to probe (a POST documenting 201 or "
                    "whose items have a GET, or a PUT on a readable item path)")


class RaceAutoItem(GateItem):
    kind_name = "race"

    def __init__(self, *, probe: AutoProbe, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.probe = probe

    def runtest(self) -> None:
        outcome = self.probe.run(self.label)
        if outcome.get("skipped"):
            pytest.skip(outcome["skipped"])
        new, accepted = split_accepted(self.probe.gate.context, self.probe.gate.name, outcome["violations"], lambda v: Violation(**v))
        problems = problem_lines(new, outcome["errors"]) + accepted_line(accepted if new or outcome["errors"] else 0)
        if problems:
            # Reproductions carry the configured headers: their ${VAR} secrets must not reach the terminal.
            head = (f"race probe of {self.label} ({outcome['requests']} requests, {outcome['answered_2xx']} "
                    f"answered 2xx, seed {self.probe.seed}):")
            raise GateItemFailure(self.probe.redact("\n".join([head, *problems])))


class AutoProbe(ReadBack, ProbeRequests):
    """The automatic probe of a run: an item per create operation (collect), each run as a storm of
    identical creates (run), judged on its answers, its ids and what reads back.
    The HTTP side is AutoProbeClient (auto_client.py), the requests ProbeRequests
    (auto_requests.py), the read-back ReadBack (auto_read_back.py)."""

    # -- collection --------------------------------------------------------------------
    def collect(self) -> list[pytest.Item]:
        if self.config.option.collectonly and schema_fetched_over_the_network(self.contract,
                                                                               self.gate.context.rootpath):
            return []  # listing the create operations would send a request to the server
        labels: list[str] = []
        try:
            self.target = load_target(self.contract)
            anonymous = self.target.in_process and django_database_in_use(self.config)
            identities = identity_session(self.config, self.gate.context.config)
            self.schema = load_schema(self.contract, self.target, self.gate.context.rootpath,
                                      engine_config(self.contract, self.seed, UNIT_PHASES, self.target,
                                                    rootpath=self.gate.context.rootpath),
                                      anonymous=anonymous,
                                      headers=identities.headers() if identities and not anonymous else None)
            labels = [op.label for op in self._operations() if self._is_create(op)]
        except TargetError as exc:
            self.load_error = self.redact(str(exc))
        except Exception as exc:
            self.load_error = short_error(exc)
        if self.load_error is not None:
            labels = ["load schema"]
        elif not labels:
            labels = [NO_CREATE]
        suite = gate_suite(self.session)
        return [RaceAutoItem.from_parent(suite, name=f"race[{label}]", nodeid=f"backend-gates::race[{label}]",
                                         probe=self, label=label) for label in labels]

    def _is_create(self, operation: Any) -> bool:
        """POST on a collection (it documents 201, or its items have a GET), PUT on a readable item.
        Actions such as POST /accounts/{id}/withdraw are not creates."""
        method = operation.method.upper()
        if method == "POST":
            responses = (getattr(operation.definition, "raw", None) or {}).get("responses") or {}
            return "201" in {str(code) for code in responses} or self._item_operation(operation) is not None
        return method == "PUT" and self._item_operation(operation) is not None

    def _operations(self) -> list[Any]:
        # schemathesis (heavy) is imported only once the auto probe has a schema.
        from schemathesis.core.result import Ok

        return [result.ok() for result in self.schema.get_all_operations() if isinstance(result, Ok)]

    def _item_operation(self, operation: Any) -> str | None:
        """The GET path of the created item: '/items/{item_id}' for POST /items; the same path for PUT."""
        paths = {op.path for op in self._operations() if op.method.upper() == "GET"}
        if operation.method.upper() == "PUT" and operation.path in paths:
            return str(operation.path)
        base = operation.path.rstrip("/")
        for path in sorted(paths):
            if re.fullmatch(re.escape(base) + r"/\{[^/{}]+\}", path):
                return str(path)
        return None

    # -- running -----------------------------------------------------------------------
    def run(self, label: str) -> dict[str, Any]:
        outcome: dict[str, Any] = {"operation": label, "requests": 0, "answered_2xx": 0, "refused_auth": 0,
                                   "raced": False, "violations": [], "errors": [], "warnings": []}
        try:
            if self.load_error is not None:
                outcome["errors"].append(self.load_error)
            elif label == NO_CREATE:
                outcome["skipped"] = NO_CREATE_REASON
            else:
                self._probe(label, outcome)
        except TargetError as exc:
            outcome["errors"].append(f"[tool.backend-gates.contract] {exc}")
        except Exception as exc:  # a crashed probe tested nothing: the gate must say so, not pass
            hint = f" (a missing dependency: pip install {exc.name})" \
                if isinstance(exc, ModuleNotFoundError) and exc.name else ""
            outcome["errors"].append(f"the probe crashed: {describe_exception(exc, self.own)}{hint}")
        finally:
            self.gate.record_auto(outcome)
        return outcome

    def _probe(self, label: str, outcome: dict[str, Any]) -> None:
        operation = next(op for op in self._operations() if op.label == label)
        client = self.client()
        storm, control = self._requests(operation, client, outcome)
        if not storm or control is None:
            return
        threads, rounds = self.settings.threads, self.settings.rounds
        race = Race(rootdir=self.config.rootpath, seed=self.seed, threads=threads, rounds=rounds,
                    schedule=self.settings.schedule)
        # Round r sends storm[r] from every thread at once: a body the API accepts, not sent
        # before (a create that was already made would only meet "already exists").
        per_thread = threading.local()

        def request_of_round(r: int) -> dict[str, Any]:
            return storm[r % len(storm)]

        def send() -> Answer:
            # Never raises: a raising call would make race.run drop the answers of the calls that
            # did not (that lost every 2xx of a round, and crashed the probe under -n 2).
            r = getattr(per_thread, "round", 0)
            per_thread.round = r + 1
            return self._answer(client, request_of_round(r))

        try:
            results: list[Answer] = list(race.run(send))
        except RaceError:  # only the probe's own failures are left: threads that never finished
            outcome["requests"] += threads * rounds
            failure = race.probes[-1].failures[0] if race.probes[-1].failures else None
            outcome["errors"].append(f"the concurrent requests did not finish: {failure.text if failure else 'unknown'}")
            return
        outcome["requests"] += len(results)
        self._count(results, outcome)

        def where(index: int) -> str:
            return f"round {index // threads + 1}, thread {index % threads + 1}"

        def replay(index: int, concurrent: bool = True) -> str:
            return self._curl(request_of_round(index // threads), concurrent)

        transport = [(i, a) for i, a in enumerate(results) if a.transport]
        if transport:
            index, answer = transport[0]
            outcome["errors"].append(
                f"the HTTP client failed before the app answered, on {len(transport)} of {len(results)} concurrent "
                f"requests (first: {where(index)}: {answer.text}): no answer, so nothing to judge; this is not a "
                "finding about the app (is the server up, and does it accept this many connections at once?)")

        alone = self._alone(results, threads, request_of_round, client, outcome)
        failed = [(i, a) for i, a in enumerate(results) if a.status >= 500]
        racy = [(i, a) for i, a in failed if i // threads in alone and not alone[i // threads].status >= 500]
        repeated = [(i, a) for i, a in failed if i // threads in alone and alone[i // threads].status >= 500]
        if racy:
            index, answer = racy[0]
            again = alone[index // threads]
            outcome["violations"].append(_violation(
                label, "race-server-error",
                f"{len(racy)} of {len(results)} identical requests sent {threads} at a time answered 5xx "
                f"(first: {where(index)}: {answer.status} {answer.text[:200]}); the same request answered "
                f"{again.status} when sent alone afterwards: the server error comes from the concurrency",
                replay(index)))
        if repeated:
            index, answer = repeated[0]
            again = alone[index // threads]
            outcome["warnings"].append(
                f"{label}: not a race: {len(repeated)} of {len(results)} concurrent requests answered 5xx (first: "
                f"{where(index)}: {answer.status} {answer.text[:200]}), and the same request answered "
                f"{again.status} when sent alone too" + ("" if again.text == answer.text else f" ({again.text[:200]})")
                + ": a server error of the request itself, or of repeating it (a repeated create should be refused "
                "with a 4xx such as 409); "
                f"reproduce: {replay(index, concurrent=False)}")
        created = [(i, a) for i, a in enumerate(results) if a.ok]
        outcome["raced"] = bool(created)
        if not created and not racy and not transport:
            got = _statuses(a.status for a in results)
            outcome["errors"].append(
                f"no concurrent request answered 2xx ({got}), though a request like them did when sent alone: "
                f"nothing was raced; {_hint(Counter(a.status for a in results), label)}")
        item_path = self._item_operation(operation)
        ids: dict[str, list[int]] = {}
        for index, answer in created:
            identifier = _identifier(answer.body, answer.location, item_path)
            if identifier is not None:
                ids.setdefault(identifier, []).append(index)
        if created and not ids and operation.method.upper() == "POST":
            outcome["warnings"].append(f"{label}: the 2xx answers carry no id-like field and no Location header: "
                                       "distinct identifiers not checked")
        if operation.method.upper() == "POST":
            duplicated = {k: v for k, v in ids.items() if len(v) > 1}
            if duplicated:
                shown = "; ".join(f"id {k} went to {len(v)} requests ({', '.join(where(i) for i in v[:3])})"
                                  for k, v in list(duplicated.items())[:3])
                outcome["violations"].append(_violation(
                    label, "race-duplicate-id",
                    f"{sum(len(v) - 1 for v in duplicated.values())} of {len(created)} concurrent creates answered 2xx "
                    f"with an id another create also got: {shown}", replay(next(iter(duplicated.values()))[0])))
        # Each created resource read back once: a POST's by its id or Location, a PUT's at its own path.
        to_read: dict[str, Created] = {}
        made = [Created(index // threads, request_of_round(index // threads), answer, replay(index))
                for index, answer in created]
        for creation in made:
            path = self._created_path(operation, creation.request, creation.answer, item_path)
            # A POST's first create of an id (a later one with the same id is the race); a PUT's last
            # write to its path (rounds run one after the other: the last one's data is what stays).
            if path is not None and (path not in to_read or operation.method.upper() == "PUT"):
                to_read[path] = creation
        self._read_back(label, operation.method.upper(), to_read, made,
                        self._created_path(operation, *control, item_path), outcome)

    def _alone(self, results: list[Answer], threads: int, request_of_round: Any, client: Any,
               outcome: dict[str, Any]) -> dict[int, Answer]:
        """Each round that got a 5xx, its request sent once more, alone: a 5xx that comes back
        without concurrency is the request's own, not a race. At most one request per round."""
        rounds = sorted({i // threads for i, a in enumerate(results) if a.status >= 500})
        answers: dict[int, Answer] = {}
        for r in rounds:
            answer = answers[r] = self._send(client, request_of_round(r), outcome)
            self._count([answer], outcome)
            if answer.transport:
                outcome["errors"].append(f"the HTTP client failed before the app answered the request of round "
                                         f"{r + 1} sent alone: {answer.text}")
                del answers[r]
        return answers
