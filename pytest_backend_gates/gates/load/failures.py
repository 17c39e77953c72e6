"""locust's error table as the load gate reports it: endpoint -> status (or error) -> count,
as text with what the commonest status says to do, and whether the errors are all failures to
connect (the target down, not a verdict on it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pytest_backend_gates.service.existing_ids import status_hint

_STATUS_PATTERNS = (
    re.compile(r"\bHTTP (\d{3})\b"),  # the default user's own failure text
    re.compile(r"\bcode=(\d{3})\b"),  # FastHttpUser: LocustBadStatusCode(code=404)
    re.compile(r"'(\d{3}) (?:Client|Server) Error"),  # HttpUser: HTTPError('404 Client Error: ...')
    re.compile(r"\bstatus(?: code)?[ =:]+(\d{3})\b", re.IGNORECASE),
)


def error_kind(error: str) -> str:
    """The status code a locust error text names ('401'), else the error itself, shortened."""
    for pattern in _STATUS_PATTERNS:
        match = pattern.search(error)
        if match:
            return match.group(1)
    text = " ".join(error.split())
    return text if len(text) <= 80 else text[:77] + "..."


def failing_endpoints(errors: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """locust's error table as endpoint -> status (or error) -> count, the most failing endpoint first."""
    table: dict[str, dict[str, int]] = {}
    for error in errors:
        counts = table.setdefault(f"{error['method']} {error['name']}", {})
        kind = error_kind(str(error["error"]))
        counts[kind] = counts.get(kind, 0) + int(error["occurrences"])
    ordered = sorted(table.items(), key=lambda item: -sum(item[1].values()))
    return {label: dict(sorted(counts.items(), key=lambda kv: -kv[1])) for label, counts in ordered}


def failing_text(failing: Mapping[str, Mapping[str, int]], limit: int = 5) -> str:
    """'GET /items/{id}: 401 x120; GET /tags: 500 x3, ConnectionResetError(...) x1'."""
    parts = [f"{label}: " + ", ".join(f"{kind} x{n}" for kind, n in counts.items())
             for label, counts in list(failing.items())[:limit]]
    more = len(failing) - limit
    return "; ".join(parts) + (f"; {more} more endpoint(s)" if more > 0 else "")


def failure_hint(failing: Mapping[str, Mapping[str, int]]) -> str:
    """' (401 means the credentials ...)': what the commonest status says to do, for the endpoint failing
    most; nothing when no status is known (connection errors)."""
    statuses: dict[int, int] = {}
    for counts in failing.values():
        for kind, n in counts.items():
            if kind.isdigit():
                statuses[int(kind)] = statuses.get(int(kind), 0) + n
    if not statuses:
        return ""
    top = max(statuses, key=lambda code: statuses[code])
    label = next(label for label, counts in failing.items() if str(top) in counts)
    return f" ({status_hint(statuses, label)})"


_CONNECTION_ERRORS = ("ConnectionRefused", "ConnectionReset", "ConnectionError", "Errno 111", "Connection refused",
                      "NewConnectionError", "timed out", "Timeout")


def is_connection_error(text: str) -> bool:
    return any(marker in text for marker in _CONNECTION_ERRORS)
