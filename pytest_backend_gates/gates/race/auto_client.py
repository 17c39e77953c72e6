"""The automatic race probe's HTTP side: what a request got (`Answer`), a create that answered
2xx (`Created`), and `AutoProbeClient`: the probe's state, its client, one request sent without
ever raising, and the curl command that reproduces a request."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_backend_gates.gates.race.results import describe_exception
from pytest_backend_gates.gates.race.session import session_seed
from pytest_backend_gates.gates.race.tracing import OwnCode
from pytest_backend_gates.result import Violation
from pytest_backend_gates.service import serving
from pytest_backend_gates.service.client import open_client
from pytest_backend_gates.service.exchange import curl_command, publisher
from pytest_backend_gates.service.identities import identity_session
from pytest_backend_gates.service.target import (
    IN_PROCESS_BASE_URL,
    REPLAY_BASE_URL,
    Target,
)
from pytest_backend_gates.settings import ContractSettings

AUTH_REFUSED = (401, 403)
# Headers every client adds say nothing about the request: left out of reproductions.
NOISE_HEADERS = frozenset({"host", "accept", "accept-encoding", "connection", "user-agent", "content-length"})

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


class AutoProbeClient:
    """The state of the automatic probe (its settings, seed, schema and target) and its HTTP client."""

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

    def client(self) -> Any:
        if self._client is None:
            self._client_cm = open_client(self.contract, publisher(self.config), self.config.rootpath,
                                          identity_session(self.config, self.gate.context.config))
            self._client = self._client_cm.__enter__()
        return self._client

    def close(self) -> None:
        if self._client_cm is not None:
            self._client_cm.__exit__(None, None, None)
            self._client_cm = self._client = None

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


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
