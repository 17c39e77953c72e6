"""Reading back what the automatic race probe's creates made: each created resource must be
there, with the data its create answered (`ReadBack`, a part of AutoProbe)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import quote, urlsplit

from pytest_backend_gates.gates.race.auto_client import (
    AUTH_REFUSED,
    Answer,
    AutoProbeClient,
    Created,
    _on,
    _statuses,
    _violation,
)
from pytest_backend_gates.service.created import created_identifier as _identifier

READ_BACK_LIMIT = 40  # created resources read back per operation


class ReadBack(AutoProbeClient):
    """Where a created resource is read, and whether it reads back as created."""

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
