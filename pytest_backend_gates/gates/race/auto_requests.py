"""How the automatic race probe makes its requests: bodies generated from the schema
(schemathesis' strategy, ids that exist where they are known), sent alone until one is answered
2xx (the control); then, for each round, a fresh request like it (`ProbeRequests`, a part of
AutoProbe)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from pytest_backend_gates.gates.race.auto_client import (
    Answer,
    AutoProbeClient,
    _on,
    _statuses,
)
from pytest_backend_gates.service.existing_ids import ExistingIds
from pytest_backend_gates.service.openapi import operation_strategy

CANDIDATES = 25  # generated bodies tried before giving up on finding one the API accepts


class ProbeRequests(AutoProbeClient):
    """The requests the probe sends concurrently, and the control sent alone."""

    def _existing(self, client: Any) -> Any:
        if self._known is None:
            self._known = ExistingIds(self.schema.raw_schema, client, self.schema.get_full_path("/").rstrip("/"))
        return self._known

    def _requests(self, operation: Any, client: Any, outcome: dict[str, Any]
                  ) -> tuple[list[dict[str, Any]], tuple[dict[str, Any], Answer] | None]:
        """Requests for the rounds: generated ones, after the first the API answered 2xx when sent
        alone; and that first request with its answer (the control: what a create without
        concurrency gives). Empty, with the error recorded, when none was (nothing can be raced)."""
        # hypothesis (schemathesis' engine) is imported only when a create operation is probed.
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import seed as hypothesis_seed

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
    # schemathesis (heavy) is imported only once the auto probe generates requests.
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
