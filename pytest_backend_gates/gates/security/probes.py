"""Active probes of the security gate: crafted requests the fuzzer would not send.

Each probe starts from the smallest valid request of an operation (hypothesis'
`find` on schemathesis' strategy for it, derandomised, so the same schema gives
the same requests every run) and changes one thing:

- injection: each string parameter / body field set to `x'` (a lone quote that
  breaks SQL built with f-strings), a tautology and a quote-free XSS payload;
  the passive rules (`sqli-error`, `leak-sql-error`, `xss-reflected`) judge the
  responses, so a probe finds what fuzzing finds, only every time.
- rate-limit: `limit + 1` rapid identical requests must meet a 429.
- mass-assignment: a field the schema marks readOnly, or that the response
  has and the request body does not declare, sent with a new value, must not
  come back with that value in a 2xx answer.
- auth: an operation with a security requirement, sent without credentials,
  must not be answered 2xx.
- cors: one request with a foreign `Origin`; the passive `cors` rule flags the
  origin reflected with credentials allowed.
- authz (authz.py): with two or more identities, a resource one creates must not be
  read, changed or deleted by another (`bola`), and `admin_only` operations must
  refuse identities without role "admin" (`bfla`).
- jwt (jwt_probe.py): forged bearer JWTs (alg none, payload tampered, expired)
  must be refused.

Probes know nothing about pytest; gate.py runs them as items and records what
they find. Requests are built and sent by sender.py, from what schema_fields.py
reads in the schema.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import replace
from typing import Any

from pytest_backend_gates import hostile
from pytest_backend_gates.gates.response_rules import PROBE_ORIGIN, RuleFinding
from pytest_backend_gates.gates.security.authz import AuthzProbe
from pytest_backend_gates.gates.security.jwt_probe import JwtProbe
from pytest_backend_gates.gates.security.probe_types import ProbeReport, RaisedRequest
from pytest_backend_gates.gates.security.schema_fields import (
    assignable_candidates,
    different_value,
    string_slots,
)
from pytest_backend_gates.gates.security.sender import ProbeSender
from pytest_backend_gates.service.exchange import Exchange

PROBE_KINDS = ("injection", "rate-limit", "mass-assignment", "auth", "cors", "authz", "jwt")
QUOTE, QUOTE_BALANCED = "x'", "x''"
INJECTION_PAYLOADS = (QUOTE, "' OR '1'='1", hostile.XSS[0])
MAX_FIELDS_PER_OPERATION = 6  # mass-assignment candidates tried per operation
UNSAFE = ("POST", "PUT", "PATCH")


class Prober(AuthzProbe, JwtProbe, ProbeSender):
    """The probes, one method each (the gate calls the one an item names); each returns its
    ProbeReport. Those that need identities are in authz.py and jwt_probe.py."""

    # -- probes ------------------------------------------------------------
    def injection(self) -> ProbeReport:
        report = ProbeReport(idle="no operation has a string query or path parameter or JSON body field "
                                  "(without a format or enum) that a valid request could be generated for")
        for label in self.operations:
            base = self.minimal_request(label)
            if base is None:
                continue
            for slot, mutate in string_slots(self.operations[label], base):
                broken: Exchange | None = None
                broken_raised: RaisedRequest | None = None
                for payload in INJECTION_PAYLOADS:
                    raised = len(self.raised)
                    exchange = self.send(mutate(payload))
                    report.requests += 1
                    if payload != QUOTE:
                        continue
                    if exchange is None:  # the app raised: what a server answers with a 500
                        broken_raised = self.raised[raised] if len(self.raised) > raised else None
                    elif exchange.status >= 500:
                        broken = exchange
                if broken is None and broken_raised is None:
                    continue
                # A lone quote gave a 5xx: SQL built from the input, unless the balanced
                # twin (`x''`, the same text to a parameterised query) fails the same way.
                twin = self.send(mutate(QUOTE_BALANCED))
                report.requests += 1
                if twin is None or twin.status >= 500:
                    continue
                if broken is not None:
                    what, reproduce = f"was answered {broken.status}", broken.reproduce()
                else:
                    assert broken_raised is not None
                    what = f"made the app raise {broken_raised.error} (a server answers 500)"
                    reproduce = broken_raised.reproduce
                report.findings.append((RuleFinding(
                    "sqli-error", label, f"{slot} = {QUOTE!r} {what}, {QUOTE_BALANCED!r} was answered "
                    f"{twin.status}: a lone quote breaks the query, so the value reaches the SQL text "
                    "(error-based injection)", "error-based"), reproduce))
        return report

    def rate_limits(self, limits: dict[str, int]) -> ProbeReport:
        report = ProbeReport()
        for label, limit in limits.items():
            if label not in self.operations:
                report.notes.append(f"rate_limits: {label!r} is not an operation of the schema")
                continue
            request = self.minimal_request(label)
            if request is None:
                report.notes.append(f"rate_limits: no valid request could be generated for {label}")
                continue
            statuses: list[int] = []
            started = time.perf_counter()
            last = None
            raised = len(self.raised)
            for _ in range(limit + 1):
                exchange = self.send(request)
                report.requests += 1
                if exchange is None:
                    continue
                last = exchange
                statuses.append(exchange.status)
                if exchange.status == 429:
                    break
            if 429 in statuses:
                continue
            seconds = time.perf_counter() - started
            if last is None:
                report.notes.append(f"rate_limits: {label}: all {limit + 1} requests raised instead of being "
                                    f"answered, e.g. {self.raised[raised].error}; the limit could not be checked")
                continue
            if set(statuses) == {404}:
                report.notes.append(f"rate_limits: {label} answered 404 to all {len(statuses)} requests "
                                    f"({request.method} {request.path}): the operation was not reached, so its "
                                    "limit could not be checked; check the schema's servers/base path and that "
                                    "its path ids name an existing resource")
                continue
            seen = ", ".join(f"{status} x{statuses.count(status)}" for status in sorted(set(statuses)))
            if len(statuses) <= limit:
                seen += f", raised x{limit + 1 - len(statuses)}"
            single = last.reproduce() or ""
            report.findings.append((RuleFinding(
                "rate-limit", label, f"{limit + 1} identical requests in {seconds:.2f}s, none answered 429 ({seen}); "
                f"rate_limits allows {limit}, so request {limit + 1} should have been answered 429", "burst"),
                f"for i in $(seq {limit + 1}); do {single} -s -o /dev/null -w '%{{http_code}}\\n'; done"))
        return report

    def mass_assignment(self) -> ProbeReport:
        report = ProbeReport(idle="no POST, PUT or PATCH operation with a JSON object body has a field the client "
                                  "must not set (readOnly, or in the 2xx answer but not in the request body)")
        refused: Counter[int] = Counter()
        accepted = False
        for label, operation in self.operations.items():
            if operation.method.upper() not in UNSAFE:
                continue
            candidates = assignable_candidates(operation)
            if not candidates:
                continue
            # A base request the server accepts: the smallest, else the smallest with a body.
            base, before = None, {}
            for with_body in (False, True):
                request = self.minimal_request(label, with_body=with_body)
                if request is None or not isinstance(request.body, dict) or "json" not in (request.media_type or ""):
                    continue
                first = self.send(request)
                report.requests += 1
                if first is None:
                    continue
                if 200 <= first.status < 300:
                    base, before = request, _json_object(first)
                    break
                refused[first.status] += 1
            if base is None:
                continue
            accepted = True
            for name, schema in list(candidates.items())[:MAX_FIELDS_PER_OPERATION]:
                value = different_value(schema, before.get(name))
                if value is None:
                    continue
                probe = replace(base, body={**base.body, name: value})
                answer = self.send(probe)
                report.requests += 1
                if answer is not None and 200 <= answer.status < 300 and _json_object(answer).get(name) == value:
                    why = "readOnly in the schema" if schema.get("readOnly") else \
                        "not a field of the request body in the schema"
                    report.findings.append((RuleFinding(
                        "mass-assignment", label, f"the body field {name!r} ({why}) was accepted: sent "
                        f"{json.dumps(value)}, answered {answer.status} with {name}={json.dumps(value)}", name),
                        answer.reproduce()))
        if refused and not accepted:
            hints = {404: "a path parameter's `example` in the schema naming an existing resource",
                     409: "fresh values for unique fields (409: the smallest request names a record that exists)",
                     401: "credentials in the contract gate's `headers`", 403: "credentials allowed to write"}
            helps = "; ".join(hint for status, hint in hints.items() if status in refused)
            report.untested = ("no operation accepted the request to start from (its smallest valid request; "
                               f"answers: {', '.join(f'{k} x{v}' for k, v in sorted(refused.items()))}), so no "
                               "field was tried" + (f"; what helps: {helps}" if helps else ""))
        return report

    def auth(self) -> ProbeReport:
        report = ProbeReport(idle="no operation requires credentials in the schema (security)")
        for label, operation in self.operations.items():
            if not self._requires_credentials(label):
                continue  # none, or `{}` among the alternatives: anonymous access is allowed
            requirement = operation.definition.raw.get("security", self.schema.raw_schema.get("security"))
            request = self.minimal_request(label)
            if request is None:
                continue
            strip_query = {name for place, name in self._credentials if place == "query"}
            request.query = {k: v for k, v in request.query.items() if k not in strip_query}
            headers = tuple(self._credential_headers)
            with self.bare_client() as bare:
                answer = self.send(request, client=bare, strip_headers=headers)
            report.requests += 1
            if answer is not None and 200 <= answer.status < 300:
                schemes = sorted({name for alternative in requirement for name in alternative})
                report.findings.append((RuleFinding(
                    "auth-ignored", label, f"answered {answer.status} to a request without credentials, although "
                    f"the schema requires {' or '.join(schemes)}", "no-credentials"), answer.reproduce()))
        return report

    def cors(self) -> ProbeReport:
        report = ProbeReport(idle="no GET operation with a valid request to send the CORS probe to")
        for label in self.operations:
            request = self.minimal_request(label)
            if request is None or request.method != "GET":
                continue
            answer = self.send(request, extra_headers={"Origin": PROBE_ORIGIN})
            report.requests += 1
            # CORS is configured app-wide: one answer from a handler tells. A refusal or a 404 may
            # come from before the CORS layer, so the next GET is tried (bounded by the operations).
            if answer is not None and answer.status not in (401, 403, 404):
                return report
        return report


def _json_object(exchange: Exchange) -> dict[str, Any]:
    try:
        data = json.loads(exchange.body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
