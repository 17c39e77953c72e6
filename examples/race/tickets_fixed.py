"""The fixed twin of tickets_buggy.py: ids from an atomic counter (`next()` on
itertools.count is one indivisible step)."""

from __future__ import annotations

import itertools
from typing import Any


class TicketStore:
    def __init__(self) -> None:
        self.tickets: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def create(self, title: str) -> int:
        ticket_id = next(self._ids)
        ticket = {"id": ticket_id, "title": title, "status": "open"}
        self.tickets.append(ticket)
        return ticket_id
