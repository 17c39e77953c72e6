"""The queries gate's fixture: `query_counter`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def query_counter(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Counts SQL statements (SQLAlchemy engines, sqlite3, watched DB-API connections) inside
    `with query_counter:` or `with query_counter() as q:`: `.count`, `.statements`,
    `.assert_max(n, repeats=None)`, `.watch(conn)`. See docs/queries.md."""
    from pytest_backend_gates.gates.queries.budget import QueryCounter

    gate = request.config.pluginmanager.get_plugin("backend-gates-queries")
    item = request.node
    counter = QueryCounter(str(request.config.rootpath), gate.on_block(item) if gate is not None else None)
    try:
        yield counter
    finally:
        counter.close()
