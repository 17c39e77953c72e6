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

import json
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from pytest_backend_gates.gates.items import (
    GateItem,
    GateItemFailure,
    gate_suite,
    problem_lines,
)
from pytest_backend_gates.gates.race.probe import (
    Race,
    RaceError,
    describe_exception,
    session_seed,
)
from pytest_backend_gates.gates.race.scheduler import OwnCode
from pytest_backend_gates.result import Violation
from pytest_backend_gates.service import serving
from pytest_backend_gates.service.client import open_client
from pytest_backend_gates.service.django_db import django_database_in_use
from pytest_backend_gates.service.exchange import curl_command, publisher
from pytest_backend_gates.service.target import (
    IN_PROCESS_BASE_URL,
    REPLAY_BASE_URL,
    Target,
    TargetError,
    load_target,
)
from pytest_backend_gates.settings import ContractSettings

CANDIDATES = 25  # generated bodies tried before giving up on finding one the API accepts
READ_BACK_LIMIT = 40  # created resources read back per operation
ID_KEYS = ("id", "uuid", "pk", "key")
AUTH_REFUSED = (401, 403)
# Headers every client adds say nothing about the request: left out of reproductions.
NOISE_HEADERS = frozenset({"host", "accept", "accept-encoding", "connection", "user-agent", "content-length"})
NO_CREATE = "no create operation"
NO_CREATE_REASON = ("auto = true, but the schema has no create operation to probe (a POST documenting 201 or "
                    "whose items have a GET, or a PUT on a readable item path)")

_SERVING_FILE = os.path.realpath(serving.__file__)


@dataclass
class Answer:
    """What one request got: a status, or an exception (of the in-process app: a 500, as a
    server would answer; of the HTTP client itself: `transport`, no answer at all)."""

    status: int  # 0 when the HTTP client raised before any answer
    body: Any = None
    location: str | None = None
    text: str = ""
    transport: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Created:
    """A create of the storm that answered 2xx."""

    round: int  # 0-based
    request: dict[str, Any]
    answer: Answer
    replay: str

    def expected(self) -> dict[str, Any]:
        """The scalar fields sent, as the create's own answer states them (a server may normalise
        what it stores, e.g. a lower-cased email: the answer says so, the request does not)."""
        sent = self.request.get("json")
        if not isinstance(sent, dict):
            return {}
        answered = self.answer.body if isinstance(self.answer.body, dict) else {}
        return {k: answered.get(k, v) for k, v in sent.items() if not isinstance(v, (dict, list))}


class RaceAutoItem(GateItem):
    kind_name = "race"

    def __init__(self, *, probe: AutoProbe, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.probe = probe

    def runtest(self) -> None:
        outcome = self.probe.run(self.label)
        if outcome.get("skipped"):
            pytest.skip(outcome["skipped"])
        problems = problem_lines(outcome["violations"], outcome["errors"])
        if problems:
            # Reproductions carry the configured headers: their ${VAR} secrets must not reach the terminal.
            head = (f"race probe of {self.label} ({outcome['requests']} requests, {outcome['answered_2xx']} "
                    f"answered 2xx, seed {self.probe.seed}):")
            raise GateItemFailure(self.probe.redact("\n".join([head, *problems])))


class AutoProbe:
    def __init__(self, gate: Any, session: pytest.Session) -> None:
        self.gate = gate
        self.session = session
        self.config = session.config
        self.contract = gate.context.config.get(ContractSettings)
        self.settings = gate.race_settings
        self.seed = session_seed(self.config)
        self.own = OwnCode(self.config.rootpath)
        self.schema: Any = None
        self.target: Target | None = None
        self.load_error: str | None = None
        self._known: Any = None  # existing_ids.ExistingIds, made with the first client
        self._client_cm: Any = None
        self._client: Any = None

    def redact(self, text: str) -> str:
        return str(self.gate.context.config.redactor.redact(text))

    # -- collection --------------------------------------------------------------------
    def collect(self) -> list[pytest.Item]:
        from pytest_backend_gates.service.openapi import (
            UNIT_PHASES,
            engine_config,
            load_schema,
            schema_fetched_over_the_network,
            short_error,
        )

        if self.config.option.collectonly and schema_fetched_over_the_network(self.contract,
                                                                               self.gate.context.rootpath):
            return []  # listing the create operations would send a request to the server
        labels: list[str] = []
        try:
            self.target = load_target(self.contract)
            self.schema = load_schema(self.contract, self.target, self.gate.context.rootpath,
                                      engine_config(self.contract, self.seed, UNIT_PHASES, self.target),
                                      anonymous=self.target.in_process and django_database_in_use(self.config))
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
        from schemathesis.core.result import Ok

        return [result.ok() for result in self.schema.get_all_operations() if isinstance(result, Ok)]

    # -- running -----------------------------------------------------------------------
    def client(self) -> Any:
        if self._client is None:
            self._client_cm = open_client(self.contract, publisher(self.config), self.config.rootpath)
            self._client = self._client_cm.__enter__()
        return self._client

    def close(self) -> None:
        if self._client_cm is not None:
            self._client_cm.__exit__(None, None, None)
            self._client_cm = self._client = None

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

    def _send(self, client: Any, request: dict[str, Any], outcome: dict[str, Any]) -> Answer:
        """One request; never raises for what the app or the client did (see Answer)."""
        outcome["requests"] += 1  # += on a dict entry is not atomic: the storm counts its own
        return self._answer(client, request)

    def _answer(self, client: Any, request: dict[str, Any]) -> Answer:
        try:
            response = client.request(**request)
        except Exception as exc:
            text = describe_exception(exc, self.own)
            if _raised_in_app(exc):  # the in-process app raised: what a server answers with a 500
                return Answer(500, text=f"the app raised {text}")
            return Answer(0, text=text, transport=True)
        answer = Answer(response.status_code, _json(response), response.headers.get("location"),
                        " ".join(response.text[:300].split()))
        raised = serving.raised_of(response)  # the exception behind this very 5xx, by request id
        if raised is not None:
            answer.text = f"the app raised {raised.text()}"
        return answer

    def _count(self, answers: list[Answer], outcome: dict[str, Any]) -> None:
        outcome["answered_2xx"] += sum(1 for a in answers if a.ok)
        outcome["refused_auth"] += sum(1 for a in answers if a.status in AUTH_REFUSED)

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

    def _existing(self, client: Any) -> Any:
        from pytest_backend_gates.service.existing_ids import ExistingIds

        if self._known is None:
            self._known = ExistingIds(self.schema.raw_schema, client, self.schema.get_full_path("/").rstrip("/"))
        return self._known

    def _requests(self, operation: Any, client: Any, outcome: dict[str, Any]
                  ) -> tuple[list[dict[str, Any]], tuple[dict[str, Any], Answer] | None]:
        """Requests for the rounds: generated ones, after the first the API answered 2xx when sent
        alone; and that first request with its answer (the control: what a create without
        concurrency gives). Empty, with the error recorded, when none was (nothing can be raced)."""
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import seed as hypothesis_seed

        from pytest_backend_gates.service.openapi import operation_strategy

        strategy = operation_strategy(operation)  # plain schema-valid bodies are enough here
        requests: dict[str, dict[str, Any]] = {}
        # Generated ids name nothing that exists: POST /items/{item_id}/tags/{tag_id}, or a body's
        # author_id, answer 404/400 to every candidate. Existing ids are used where known.
        known = self._existing(client)
        found = known.find(operation.path)
        references: dict[str, list[Any]] = {}

        @settings(max_examples=CANDIDATES + self.settings.rounds, database=None,
                  phases=[Phase.explicit, Phase.generate], deadline=None, suppress_health_check=list(HealthCheck))
        @hypothesis_seed(self.seed)
        @given(strategy)
        def collect(case: Any) -> None:
            turn = len(requests)
            if found.assignments:
                case.path_parameters = {**(case.path_parameters or {}),
                                        **found.assignments[turn % len(found.assignments)]}
            if isinstance(case.body, dict):
                for name in [n for n in case.body if n == "id" or n.endswith(("_id", "Id")) or
                             isinstance(case.body[n], int) and not isinstance(case.body[n], bool)]:
                    if name != "id":
                        values = references.setdefault(name, known.for_field(name))
                        if values:
                            case.body[name] = values[turn % len(values)]
            request = _request_of(case)
            requests.setdefault(json.dumps(request, sort_keys=True, default=str), request)

        collect()
        candidates = list(requests.values())
        for request in candidates:
            request["url"] = _on(client, request["url"])
        statuses: Counter[int] = Counter()
        server_errors: list[tuple[Answer, dict[str, Any]]] = []
        for index, request in enumerate(candidates[:CANDIDATES]):
            answer = self._send(client, request, outcome)
            self._count([answer], outcome)
            if answer.transport:
                outcome["errors"].append(f"the HTTP client failed before the app answered a request sent alone: "
                                         f"{answer.text}; this is not a finding about the app (is the server up?)")
                return [], None
            if answer.ok:
                self._warn_server_errors(operation.label, server_errors, outcome)
                fresh = [_fresh_like(request, other) for other in candidates[index + 1:][: self.settings.rounds]]
                return fresh or [request], (request, answer)
            statuses[answer.status] += 1
            if answer.status >= 500:
                server_errors.append((answer, request))
        self._warn_server_errors(operation.label, server_errors, outcome)
        outcome["errors"].append(
            f"none of {sum(statuses.values())} generated requests was answered 2xx when sent alone "
            f"({_statuses(statuses.elements())}): nothing to race; {_hint(statuses, operation.label)}")
        return [], None

    def _warn_server_errors(self, label: str, server_errors: list[tuple[Answer, dict[str, Any]]],
                            outcome: dict[str, Any]) -> None:
        if server_errors:
            answer, request = server_errors[0]
            outcome["warnings"].append(
                f"{label}: {len(server_errors)} generated request{'s' if len(server_errors) != 1 else ''} answered "
                f"5xx even when sent alone (first: {answer.status} {answer.text[:200]}): not a race, the contract "
                f"gate reports server errors; reproduce: {self._curl(request, concurrent=False)}")

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

    def _created_path(self, operation: Any, request: dict[str, Any], answer: Answer,
                      item_path: str | None) -> str | None:
        """Where the resource a create answered 2xx for is read (served path, from the root)."""
        if operation.method.upper() == "PUT":  # PUT on the item path: it is read where it was put
            return urlsplit(str(request["url"])).path or None
        identifier = _identifier(answer.body, answer.location, item_path)
        if identifier is None:
            return None
        if identifier.startswith("/"):  # a Location: the path as the server serves it
            return identifier
        if identifier.startswith(("http://", "https://")):  # never follow a URL to another host
            return urlsplit(identifier).path or "/"
        if item_path is None:
            return None
        return str(self.schema.get_full_path(re.sub(r"\{[^/{}]+\}", quote(identifier, safe=""), item_path, count=1)))

    def _read_back(self, label: str, method: str, to_read: dict[str, Created], made: list[Created],
                   control: str | None, outcome: dict[str, Any]) -> None:
        """GET each created resource: it must be there, with the fields its create answered. A read
        that fails is only a race if the resource created alone (`control`) reads back."""
        client = self.client()
        checked = 0
        refused: Counter[int] = Counter()
        failed: list[tuple[str, Answer, Created]] = []
        for path, creation in list(to_read.items())[:READ_BACK_LIMIT]:
            answer = self._read(client, path, outcome)
            if answer.transport:
                outcome["errors"].append(f"the HTTP client failed before the app answered GET {path}: {answer.text}")
                continue
            if answer.status in AUTH_REFUSED:  # not readable with these credentials: says nothing of a loss
                refused[answer.status] += 1
                continue
            checked += 1
            if not answer.ok:
                failed.append((path, answer, creation))
                continue
            body = answer.body if isinstance(answer.body, dict) else {}
            expected = creation.expected()
            wrong = {k: (v, body[k]) for k, v in expected.items() if k in body and body[k] != v}
            if not wrong:
                continue
            # Whose data is it? Rounds run one after the other: another round's data on a PUT's own
            # path means the server maps two paths to one resource, which no concurrency caused.
            owner = next((c for c in made if c.round != creation.round and expected.keys() & c.expected().keys()
                          and all(body.get(k) == v for k, v in c.expected().items() if k in body)), None)
            key, (was, now) = next(iter(wrong.items()))
            if method == "PUT" and owner is not None:
                outcome["warnings"].append(
                    f"{label}: not a race: GET {path} reads back {key}={now!r}, what round {owner.round + 1} put at "
                    f"another path ({urlsplit(str(owner.request['url'])).path}): the server maps both paths to one "
                    "resource")
                continue
            outcome["violations"].append(_violation(
                label, "race-read-back", f"GET {path} reads back {key}={now!r}, but its create answered {key}={was!r}"
                + (f": the data of round {owner.round + 1}'s create landed on this resource" if owner is not None
                   else ": another request's data landed on this resource"), creation.replay))
        if failed:
            self._judge_failed_reads(label, failed, control, outcome)
        if refused:
            outcome["warnings"].append(f"{label}: reading the created items back was refused ({_statuses(refused.elements())}): "
                                       "read-back not checked; do the configured headers allow GET on them?")
        elif outcome["raced"] and not checked:
            outcome["warnings"].append(f"{label}: no GET operation for the created items (and no Location): "
                                       "read-back not checked")

    def _read(self, client: Any, path: str, outcome: dict[str, Any]) -> Answer:
        answer = self._send(client, {"method": "GET", "url": _on(client, path)}, outcome)
        self._count([answer], outcome)
        return answer

    def _judge_failed_reads(self, label: str, failed: list[tuple[str, Answer, Created]], control: str | None,
                            outcome: dict[str, Any]) -> None:
        """Created concurrently, then not readable: a race only if the resource created alone reads back."""
        alone = self._read(self.client(), control, outcome) if control is not None else None
        for path, answer, creation in failed:
            what = (f"GET {path} answered {answer.status} {answer.text[:200]}".rstrip()
                    + " after a concurrent create answered 2xx with this resource")
            if alone is not None and alone.ok:
                consequence = "the created resource was lost" if answer.status < 500 else \
                    "the concurrent creates left it unreadable"
                outcome["violations"].append(_violation(
                    label, "race-read-back", f"{what}, while the one created alone reads back {alone.status} "
                    f"(GET {control}): {consequence}", creation.replay))
            elif alone is None:
                outcome["warnings"].append(
                    f"{label}: {what}; not reported as a race: whether a resource created alone reads back could "
                    "not be checked (its answer carries no id)")
                return
            else:
                outcome["warnings"].append(
                    f"{label}: not a race: {what}, and the resource created alone does not read back either "
                    f"(GET {control}: {alone.status or 'no answer'} {alone.text[:200]}): reading created items "
                    "fails without concurrency too")
                return

    def _curl(self, request: dict[str, Any], concurrent: bool = True) -> str:
        """The request as sent, headers (the configured ones too: redacted to ${VAR} on output) and
        body included, to where a developer would serve the app."""
        built = self.client().build_request(**request)
        url = str(built.url)
        if url.startswith(IN_PROCESS_BASE_URL):
            url = REPLAY_BASE_URL + url[len(IN_PROCESS_BASE_URL):]
        # `raw` keeps the names as configured and sent ('Authorization', 'Content-Type').
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in built.headers.raw
                   if name.decode("latin-1").lower() not in NOISE_HEADERS]
        command = curl_command(built.method, url, headers, built.content or None)
        return f"{command}  # sent by {self.settings.threads} clients at once" if concurrent else command


def _violation(where: str, check: str, message: str, reproduce: str) -> dict[str, Any]:
    return Violation(where=where, check=check, message=message, reproduce=reproduce).to_json()


def _raised_in_app(exc: BaseException) -> bool:
    """Did the exception come out of the in-process app? serving's wrappers call the app (and turn
    what it raises into a 500), so an exception that still passed through their frames is the app's;
    one without such a frame is the HTTP client's or the transport's own."""
    tb = exc.__traceback__
    while tb is not None:
        if os.path.realpath(tb.tb_frame.f_code.co_filename) == _SERVING_FILE:
            return True
        tb = tb.tb_next
    return False


def _on(client: Any, path: str) -> str:
    """`path` (from the server's root, base path included) on the client's origin. Joined rather
    than appended: a base_url's own path is already part of the schema's full paths."""
    return str(client.base_url.join(path))


def _statuses(statuses: Any) -> str:
    counts = Counter(statuses)
    return ", ".join(f"{s or 'no answer'} x{counts[s]}" for s in sorted(counts)) or "no request"


def _hint(statuses: Counter[int], label: str) -> str:
    """What to do when nothing was answered 2xx: the causes of the statuses seen, most frequent first."""
    causes = {
        401: "the credentials: the API refused the requests (set headers in [tool.backend-gates.contract], "
             "e.g. Authorization = \"Bearer ${API_TOKEN}\", and check they are still valid)",
        403: "the credentials: the API refused them for this operation (do the configured headers grant it?)",
        404: "the ids in the path (they must exist) and the base path (the schema's servers url; with base_url, "
             "base_url must include it)",
        405: "the base path (the schema's servers url; with base_url, base_url must include it)",
        409: "unique fields already taken by earlier requests",
        400: "required fields or formats the schema does not declare",
        422: "required fields or formats the schema does not declare",
    }
    seen = [causes[s] for s, _ in statuses.most_common() if s in causes]
    if not seen:  # e.g. only 5xx: the contract gate names those; say what usually hides a 2xx
        seen = [causes[401], causes[404], causes[422]]
    return (f"check {'; '.join(dict.fromkeys(seen))}; or, if this operation cannot be exercised, leave it out: "
            f"exclude_operations = [\"{label}\"] in [tool.backend-gates.contract]")


def _fresh_like(accepted: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """A request for one round: the accepted request's path, query and references, with the other
    generated request's text values. Unique fields (names, slugs, e-mails) are text and must be new
    each round; what a body refers to (owner_id: 3, tag_ids) and the path's parent must exist,
    and only the accepted request is known to name things that do (POST /projects/1/tasks, a pet
    of owner 3: other generated values are 404s and 409s, and nothing is raced)."""
    fresh = {**accepted}
    if "json" in accepted and "json" in other:
        fresh["json"] = _merge_text(accepted["json"], other["json"])
    elif not any(key in accepted for key in ("json", "content", "data")) and other["url"] != accepted["url"]:
        # Nothing in a body to make new (PUT /items/{id}/tags/{tag_id}): the path is what is new, and
        # the other request's path names existing things too (existing_ids) or nothing is known anyway.
        fresh["url"] = other["url"]
    return fresh


def _merge_text(kept: Any, text_from: Any, key: str = "") -> Any:
    reference = key == "id" or key.endswith(("_id", "Id", "_ids", "Ids"))
    if isinstance(kept, dict) and isinstance(text_from, dict):
        return {name: _merge_text(value, text_from[name], name) if name in text_from else value
                for name, value in kept.items()}
    if isinstance(kept, str) and isinstance(text_from, str) and not reference:
        return text_from
    return kept


def _request_of(case: Any) -> dict[str, Any]:
    from schemathesis.core import NOT_SET

    # The served path: the schema's base path (servers[0].url, e.g. Connexion's /api) included.
    path = case.operation.schema.get_full_path(case.formatted_path)
    request: dict[str, Any] = {"method": case.method.upper(), "url": path}
    if case.query:
        request["params"] = case.query
    # Generated credentials ("Authorization: Bearer x") would replace the configured ones.
    headers = {k: v for k, v in (case.headers or {}).items()
               if isinstance(v, str) and k.lower() not in ("authorization", "cookie")}
    if headers:
        request["headers"] = headers
    if case.body is not NOT_SET:
        if case.media_type is None or "json" in case.media_type:
            request["json"] = case.body
        elif isinstance(case.body, (bytes, str)):
            request["content"] = case.body
            request.setdefault("headers", {})["Content-Type"] = case.media_type
        else:
            request["data"] = case.body
    return request


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _identifier(body: Any, location: str | None, item_path: str | None) -> str | None:
    if isinstance(body, dict):
        param = re.search(r"\{([^/{}]+)\}$", item_path or "")
        # The item path's own parameter first: a body with both `id` and `slug` is read at /items/{slug}.
        keys = [*([param.group(1)] if param else []), *ID_KEYS]
        for key in keys:
            value = body.get(key)
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                return str(value)
    if location:
        return urlsplit(location).path or None
    return None
