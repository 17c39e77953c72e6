"""Noticing when the run destroyed its own credentials.

Fuzzing calls every operation, `POST /logout` and `DELETE /users/{id}` of the
gates' own user included; after that every request with the configured
credentials answers 401/403, and every later measurement is of error pages.
`CredentialWatch` sees the requests in the order they were sent and names the
write that came right before operations that used to answer 2xx started to
refuse the same credentials, so the user can put it in `exclude_operations`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFUSED = frozenset({401, 403})
# Refusals on this many operations that answered 2xx before: the credentials, not one rule.
ENOUGH_OPERATIONS = 2


@dataclass
class _Write:
    operation: str
    reproduce: Callable[[], str | None]


@dataclass
class CredentialWatch:
    headers: Mapping[str, str]  # the configured credentials (name -> value)
    _accepted: set[str] = field(default_factory=set)  # operations that answered 2xx with them
    _last_write: _Write | None = None
    _culprit: _Write | None = None
    _refused: dict[str, Counter[int]] = field(default_factory=dict)  # since the first refusal
    _recovered: set[str] = field(default_factory=set)

    def see(self, operation: str, method: str, status: int, request_headers: Iterable[tuple[str, str]],
            reproduce: Callable[[], str | None], requires_auth: bool | None = None) -> None:
        """One answered request, in the order they were sent. `requires_auth`: what the schema
        says of the operation (None: it says nothing); a public operation's 401 (a wrong password
        at login) says nothing about the credentials."""
        if requires_auth is False or not self.headers or not self._carries_credentials(request_headers):
            return
        if 200 <= status < 300:
            if operation in self._refused:
                self._recovered.add(operation)  # refused once, accepted again: not lost
            self._accepted.add(operation)
            if method.upper() in WRITES:
                self._last_write = _Write(operation, reproduce)
        elif status in REFUSED:
            # From the first refusal of credentials an operation had accepted, every refusal counts.
            if self._culprit is None and operation in self._accepted and self._last_write is not None:
                self._culprit = self._last_write
            if self._culprit is not None:
                self._refused.setdefault(operation, Counter())[status] += 1

    def _carries_credentials(self, request_headers: Iterable[tuple[str, str]]) -> bool:
        sent = {name.lower(): value for name, value in request_headers}
        return all(sent.get(name.lower()) == value for name, value in self.headers.items())

    def warning(self) -> str | None:
        """'credentials lost: ...' when the configured credentials stopped working, else None."""
        # Refused "everywhere": an operation that accepts the credentials again means they still
        # work (a 403 on another user's resource is authorization, not lost credentials).
        lost = self._refused
        if self._culprit is None or self._recovered or len(lost) < ENOUGH_OPERATIONS:
            return None
        shown = ", ".join(f"{op} ({', '.join(f'{s} x{n}' for s, n in counts.most_common())})"
                          for op, counts in sorted(lost.items())[:5])
        more = f" and {len(lost) - 5} more" if len(lost) > 5 else ""
        culprit = self._culprit
        command = culprit.reproduce()
        return (f"credentials lost: after {culprit.operation} answered 2xx, requests with the configured credentials "
                f"were refused by {len(lost)} operations and accepted by none: {shown}{more}. Every later "
                f"request of the gates measured an error page. Keep the operation away from the gates with "
                f"[tool.backend-gates.contract] exclude_operations = [\"{culprit.operation}\"], or give the "
                f"gates an identity with a login, which logs in again after a 401 (docs/auth.md)"
                + (f"; the request: {command}" if command else ""))
