"""A ticket store that numbers tickets with `len(tickets) + 1`.

Seeded defect (duplicate ids): two creates that run at once both count the same
number of tickets and hand out the same id.
"""

from __future__ import annotations

from typing import Any


class TicketStore:
    def __init__(self) -> None:
        self.tickets: list[dict[str, Any]] = []

    def create(self, title: str) -> int:
        ticket_id = len(self.tickets) + 1
        ticket = {"id": ticket_id, "title": title, "status": "open"}
        self.tickets.append(ticket)
        return ticket_id
