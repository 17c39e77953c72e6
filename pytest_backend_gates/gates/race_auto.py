"""The race gate's automatic probe: concurrent identical creates against the contract app.

For each create operation of the schema (POST, and PUT), a body the API accepts
is generated (schemathesis' `operation.as_strategy()`, tried one by one until
one answers 2xx); then `threads` clients send that same request at once,
`rounds` times, through the `api` fixture's client, and:

- no answer may be a 5xx (or an exception of the in-process app);
- the creates answered 2xx must yield distinct identifiers (an id-like field of
  the JSON answer, else the Location header);
- each created resource must read back (GET on the item path or Location) with
  the data that was sent.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import urlsplit

import pytest

from ..api_client import open_client
from ..exchange import curl_command, publisher
from ..race_probe import Race, RaceError, session_seed
from ..result import Violation
from ..targets import IN_PROCESS_BASE_URL, REPLAY_BASE_URL, TargetError, load_target
from .items import GateItem, GateItemFailure, gate_suite, problem_lines

CANDIDATES = 25  # generated bodies tried before giving up on finding one the API accepts
READ_BACK_LIMIT = 40  # created resources read back per operation
ID_KEYS = ("id", "uuid", "pk", "key")


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
            raise GateItemFailure("\n".join([f"race probe of {self.label} ({outcome['requests']} requests, "
                                              f"seed {self.probe.seed}):", *problems]))


class AutoProbe:
    def __init__(self, gate: Any, session: pytest.Session) -> None:
        self.gate = gate
        self.session = session
        self.config = session.config
        self.contract = gate.context.config.settings("contract")
        self.settings = gate.race_settings
        self.seed = session_seed(self.config)
        self.schema: Any = None
        self.load_error: str | None = None
        self._client_cm: Any = None
        self._client: Any = None

    # -- collection --------------------------------------------------------------------
    def collect(self) -> list[pytest.Item]:
        from .schemathesis_engine import UNIT_PHASES, engine_config, load_schema, short_error

        labels: list[str] = []
        try:
            target = load_target(self.contract)
            self.schema = load_schema(self.contract, target, self.gate.context.rootpath,
                                      engine_config(self.contract, self.seed, UNIT_PHASES, target))
            labels = [op.label for op in self._operations() if self._is_create(op)]
        except TargetError as exc:
            self.load_error = self.gate.context.config.redactor.redact(str(exc))
        except Exception as exc:
            self.load_error = short_error(exc)
        if self.load_error is not None:
            labels = ["load schema"]
        elif not labels:
            labels = ["no create operation"]
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
            self._client_cm = open_client(self.contract, publisher(self.config))
            self._client = self._client_cm.__enter__()
        return self._client

    def close(self) -> None:
        if self._client_cm is not None:
            self._client_cm.__exit__(None, None, None)
            self._client_cm = self._client = None

    def run(self, label: str) -> dict[str, Any]:
        outcome: dict[str, Any] = {"operation": label, "requests": 0, "violations": [], "errors": [], "warnings": []}
        try:
            if self.load_error is not None:
                outcome["errors"].append(self.load_error)
            elif label == "no create operation":
                outcome["skipped"] = "the schema has no POST or PUT operation to probe"
                outcome["warnings"].append("auto: the schema has no POST or PUT operation to probe")
            else:
                self._probe(label, outcome)
        except TargetError as exc:
            outcome["errors"].append(f"[tool.backend-gates.contract] {exc}")
        finally:
            self.gate.record_auto(outcome)
        return outcome

    def _probe(self, label: str, outcome: dict[str, Any]) -> None:
        operation = next(op for op in self._operations() if op.label == label)
        client = self.client()
        storm, first = self._requests(operation, client, outcome)
        if not storm:
            return
        threads, rounds = self.settings.threads, self.settings.rounds
        race = Race(rootdir=self.config.rootpath, seed=self.seed, threads=threads, rounds=rounds,
                    schedule=self.settings.schedule)
        # Round r sends storm[r] from every thread at once: a body the API accepts, not sent
        # before (a create that was already made would only meet "already exists").
        per_thread = threading.local()

        def request_of_round(r: int) -> dict[str, Any]:
            return storm[r % len(storm)]

        def send() -> tuple[int, Any, str | None, str]:
            r = getattr(per_thread, "round", 0)
            per_thread.round = r + 1
            response = client.request(**request_of_round(r))
            return response.status_code, _json(response), response.headers.get("location"), response.text[:300]

        try:
            results: list[Any] = race.run(send)
        except RaceError:
            results = [None] * (threads * rounds)
            for failure in race.probes[-1].failures:  # the in-process app raised: what a server answers with 500
                if failure.round:
                    results[(failure.round - 1) * threads + failure.thread - 1] = \
                        (500, None, None, f"the app raised {failure.text}")
        outcome["requests"] += len(results)

        def where(index: int) -> str:
            return f"round {index // threads + 1}, thread {index % threads + 1}"

        def replay(index: int) -> str:
            return self._curl(request_of_round(index // threads))

        errors = [(i, r) for i, r in enumerate(results) if r is None or r[0] >= 500]
        if errors:
            index, (status, _, _, text) = errors[0]
            outcome["violations"].append(_violation(
                label, "race-server-error",
                f"{len(errors)} of {len(results)} identical requests sent {threads} at a time answered 5xx "
                f"(first: {where(index)}: {status} {' '.join(text.split())[:200]}); a request like it answered "
                f"{first} when sent alone", replay(index)))
        created = [(i, r) for i, r in enumerate(results) if r is not None and 200 <= r[0] < 300]
        item_path = self._item_operation(operation)
        ids: dict[str, list[int]] = {}
        for index, (_, body, location, _) in created:
            identifier = _identifier(body, location, item_path)
            if identifier is not None:
                ids.setdefault(identifier, []).append(index)
        if created and not ids:
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
        self._read_back(label, {k: request_of_round(v[0] // threads) for k, v in ids.items()}, item_path, outcome,
                        {k: replay(v[0]) for k, v in ids.items()})

    def _requests(self, operation: Any, client: Any, outcome: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        """Requests for the rounds: generated ones, after the first the API answered 2xx when sent alone."""
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import seed as hypothesis_seed

        from .schemathesis_engine import operation_strategy

        strategy = operation_strategy(operation)  # plain schema-valid bodies are enough here
        requests: dict[str, dict[str, Any]] = {}

        @settings(max_examples=CANDIDATES + self.settings.rounds, database=None,
                  phases=[Phase.explicit, Phase.generate], deadline=None, suppress_health_check=list(HealthCheck))
        @hypothesis_seed(self.seed)
        @given(strategy)
        def collect(case: Any) -> None:
            request = _request_of(case)
            requests.setdefault(json.dumps(request, sort_keys=True, default=str), request)

        collect()
        candidates = list(requests.values())
        statuses: list[int] = []
        for index, request in enumerate(candidates[:CANDIDATES]):
            response = client.request(**request)
            outcome["requests"] += 1
            if 200 <= response.status_code < 300:
                fresh = candidates[index + 1:][: self.settings.rounds]
                return fresh or [request], response.status_code
            statuses.append(response.status_code)
            if response.status_code >= 500:
                outcome["warnings"].append(f"{operation.label}: a generated request answered "
                                           f"{response.status_code} even when sent alone (the contract gate reports it)")
        got = ", ".join(f"{s} x{statuses.count(s)}" for s in sorted(set(statuses))) or "no request"
        outcome["skipped"] = (f"none of {len(statuses)} generated requests was answered 2xx when sent alone ({got}): "
                              "nothing to race")
        outcome["warnings"].append(f"{operation.label}: {outcome['skipped']}")
        return [], 0

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

    def _read_back(self, label: str, sent_by_id: dict[str, dict[str, Any]], item_path: str | None,
                   outcome: dict[str, Any], replays: dict[str, str]) -> None:
        client = self.client()
        checked = 0
        for identifier in list(sent_by_id)[:READ_BACK_LIMIT]:
            request = sent_by_id[identifier]
            sent = request.get("json") if isinstance(request.get("json"), dict) else None
            if identifier.startswith("/") or identifier.startswith("http"):
                url = identifier
            elif item_path is not None:
                url = re.sub(r"\{[^/{}]+\}", identifier, item_path, count=1)
            else:
                continue
            response = client.get(url)
            outcome["requests"] += 1
            checked += 1
            if not 200 <= response.status_code < 300:
                outcome["violations"].append(_violation(
                    label, "race-read-back", f"GET {url} answered {response.status_code} after a concurrent create "
                    f"answered 2xx with this resource: the created resource was lost", replays[identifier]))
                continue
            body = _json(response)
            if sent and isinstance(body, dict):
                wrong = {k: (v, body[k]) for k, v in sent.items()
                         if k in body and not isinstance(v, (dict, list)) and body[k] != v}
                if wrong:
                    key, (was, now) = next(iter(wrong.items()))
                    outcome["violations"].append(_violation(
                        label, "race-read-back", f"GET {url} reads back {key}={now!r}, but the create sent {key}={was!r}: "
                        "another request's data landed on this resource", replays[identifier]))
        if sent_by_id and not checked:
            outcome["warnings"].append(f"{label}: no GET operation for the created items (and no Location): "
                                       "read-back not checked")

    def _curl(self, request: dict[str, Any]) -> str:
        url = request["url"]
        base = str(self.client().base_url).rstrip("/")
        full = (REPLAY_BASE_URL if base.startswith(IN_PROCESS_BASE_URL) else base) + url
        body = json.dumps(request["json"]).encode() if "json" in request else request.get("content")
        headers = [("Content-Type", "application/json")] if "json" in request else []
        command = curl_command(request["method"], full, headers, body)
        return f"{command}  # sent by {self.settings.threads} clients at once"


def _violation(where: str, check: str, message: str, reproduce: str) -> dict[str, Any]:
    return Violation(where=where, check=check, message=message, reproduce=reproduce).to_json()


def _request_of(case: Any) -> dict[str, Any]:
    from schemathesis.core import NOT_SET

    request: dict[str, Any] = {"method": case.method.upper(), "url": case.formatted_path}
    if case.query:
        request["params"] = case.query
    headers = {k: v for k, v in (case.headers or {}).items() if isinstance(v, str)}
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
        keys = [*ID_KEYS, *([param.group(1)] if param else [])]
        for key in keys:
            value = body.get(key)
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                return str(value)
    if location:
        return urlsplit(location).path or None
    return None
