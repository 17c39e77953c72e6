"""The jwt probe (SPEC section 8: `jwt-none`, `jwt-expired`, `jwt-tampered`), run when the
default identity's credentials (or the contract gate's `headers`) carry a bearer JWT.

It looks for GET operations that need the token: answered 2xx with it and 401/403 without it
(at most MAX_GUARDED of them). To each it sends forged tokens, from a client without the
identity's own auth (which would put the real token back, and log in again on a 401):

- `jwt-none`: the same claims under `alg` none (four spellings), the signature dropped;
- `jwt-tampered`: a claim added to the payload, the signature kept;
- `jwt-expired`: the same claims with `exp` an hour ago, signed with `jwt_key` (checked first:
  an HS* key must remake the token's own signature, a PEM key must sign a token the service
  accepts). Without `jwt_key` expiry is not checked, and a warning says so.

Each must be refused (401/403); a 2xx is the finding, with the forged request as a curl command.
A forged token is no secret, but the tampered one keeps the original signature: that part is
redacted as `${PLACEHOLDER##*.}` (the shell's "after the last dot" of the token's placeholder).
"""

from __future__ import annotations

import re
import time
from typing import Any

from pytest_backend_gates.gates.response_rules import RuleFinding
from pytest_backend_gates.gates.security.jwt_tokens import (
    NONE_SPELLINGS,
    TAMPER_CLAIM,
    Bearer,
    SigningError,
    expired_claims,
    find_bearer,
    forge_none,
    forge_tampered,
    key_matches,
    sign,
)
from pytest_backend_gates.gates.security.probe_types import ProbeReport, ProbeRequest
from pytest_backend_gates.gates.security.sender import ProbeSender
from pytest_backend_gates.service.exchange import Exchange

MAX_GUARDED = 3  # operations that need the token, sent forged tokens
MAX_CANDIDATES = 20  # GET operations tried to find them
REFUSED = (401, 403)
NOT_CHECKED = "jwt: expiry was not checked (jwt-expired)"


def _ok(exchange: Exchange | None) -> bool:
    return exchange is not None and 200 <= exchange.status < 300


class JwtProbe(ProbeSender):
    def jwt(self) -> ProbeReport:
        report = ProbeReport()
        session = self.context.identities
        who = f"{session.default}'s token" if session is not None else "the configured token"
        headers = session.headers() if session is not None else dict(self.context.headers)
        bearer = find_bearer(headers)
        if bearer is None:
            whose = f"{session.default}'s credentials" if session is not None else "the configured headers"
            report.not_applicable = (f"{whose} hold no bearer JWT (no header value ends in header.payload.signature): "
                                     "nothing to forge")
            return report
        self._redact_signature(bearer)
        others = {k: v for k, v in headers.items() if k.lower() != bearer.header_name.lower()}
        with self.bare_client() as bare:
            guarded = self._guarded(bare, headers, others)
            if not guarded:
                report.untested = (f"no GET operation answered 2xx with {who} and 401/403 without it "
                                   f"(the first {MAX_CANDIDATES} tried): no operation to send forged tokens to")
                return report
            expired = self._expired(bare, bearer, others, guarded[0], report)
            for label, request in guarded:
                def forged(token: str) -> Exchange | None:
                    return self.send(request, client=bare,
                                     extra_headers={**others, bearer.header_name: bearer.prefix + token})

                for spelling in NONE_SPELLINGS:
                    answer = forged(forge_none(bearer, spelling))
                    if _ok(answer):
                        assert answer is not None
                        self._finding(report, "jwt-none", label, answer, (
                            f"a bearer JWT with alg {spelling!r} and no signature, carrying the claims of {who}, was "
                            f"answered {answer.status}: the service accepts unsigned tokens, so anyone can claim to be "
                            "anyone (decode with an explicit list of algorithms that excludes none)"))
                        break
                answer = forged(forge_tampered(bearer))
                if _ok(answer):
                    assert answer is not None
                    self._finding(report, "jwt-tampered", label, answer, (
                        f"{who[0].upper()}{who[1:]} with its payload changed (claim {TAMPER_CLAIM!r} added) and its "
                        f"signature kept was answered {answer.status}: the service does not verify the signature"))
                answer = forged(expired) if expired is not None else None
                if _ok(answer):
                    assert answer is not None
                    self._finding(report, "jwt-expired", label, answer, (
                        f"the claims of {who} with exp an hour in the past, signed with jwt_key ({bearer.alg}), were "
                        f"answered {answer.status}: the service does not check expiry, so a leaked token works forever"))
        return report

    def _guarded(self, bare: Any, headers: dict[str, str], others: dict[str, str]) -> list[tuple[str, ProbeRequest]]:
        """GET operations answered 2xx with the token and 401/403 without it, with their request."""
        guarded: list[tuple[str, ProbeRequest]] = []
        candidates = [label for label, operation in self.operations.items() if operation.method.upper() == "GET"]
        for label in candidates[:MAX_CANDIDATES]:
            request = self.minimal_request(label)
            if request is None:
                continue
            if not _ok(self.send(request, client=bare, extra_headers=headers)):
                continue
            without = self.send(request, client=bare, extra_headers=others)
            if without is not None and without.status in REFUSED:
                guarded.append((label, request))
                if len(guarded) == MAX_GUARDED:
                    break
        return guarded

    def _expired(self, bare: Any, bearer: Bearer, others: dict[str, str], first: tuple[str, ProbeRequest],
                 report: ProbeReport) -> str | None:
        """The expired token to send, or None (a warning says why expiry is not checked)."""
        key = getattr(self.context.security, "jwt_key", None)
        if key is None:
            report.notes.append(f"{NOT_CHECKED}: set jwt_key in [tool.backend-gates.security] (the service's HS* "
                                "secret, e.g. \"${JWT_SECRET}\", or its PEM private key) to mint expired tokens")
            return None
        matches = key_matches(bearer, key)
        if matches is False:
            report.notes.append(f"{NOT_CHECKED}: jwt_key does not make the signature of the default identity's "
                                f"token ({bearer.alg}); is it the key the service signs its tokens with?")
            return None
        try:
            expired = sign(bearer.header, expired_claims(bearer.claims, time.time()), key)
            if matches is None:  # an asymmetric key: a fresh copy of the token must be accepted
                copy = sign(bearer.header, bearer.claims, key)
                label, request = first
                answer = self.send(request, client=bare,
                                   extra_headers={**others, bearer.header_name: bearer.prefix + copy})
                if not _ok(answer):
                    report.notes.append(f"{NOT_CHECKED}: a copy of the token signed with jwt_key was answered "
                                        f"{answer.status if answer else 'nothing'} by {label}; is it the key the "
                                        "service signs its tokens with?")
                    return None
        except SigningError as exc:
            report.notes.append(f"{NOT_CHECKED}: {exc}")
            return None
        return expired

    def _redact_signature(self, bearer: Bearer) -> None:
        """The tampered token keeps the original signature: shown as the placeholder of the token
        with the shell's 'after the last dot', never as itself."""
        redactor = self.context.redactor
        if redactor is None:
            return
        placeholder = redactor.redact(bearer.token)
        if re.fullmatch(r"\$\{\w+\}", placeholder):
            redactor.add(bearer.signature, placeholder[:-1] + "##*.}")

    @staticmethod
    def _finding(report: ProbeReport, rule: str, label: str, answer: Exchange, message: str) -> None:
        report.findings.append((RuleFinding(rule, label, f"{message}; it must be refused (401 or 403)", "forged"),
                                answer.reproduce()))
