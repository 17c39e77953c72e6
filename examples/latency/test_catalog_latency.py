"""Latency tests of the catalog: run with `pytest --backend-gates=latency` (see README.md)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

CONCURRENT_USERS = 8


# --8<-- [start:budget]
@pytest.mark.latency_budget("p95 < 120ms", samples=5)
def test_reports_under_concurrent_users(api):
    """8 users ask for a report at once: each round is timed, from the first request to the last answer."""
    with ThreadPoolExecutor(CONCURRENT_USERS) as pool:
        responses = list(pool.map(lambda i: api.get(f"/reports/2024-01-{i + 1:02d}"), range(CONCURRENT_USERS)))
    assert all(r.status_code == 200 for r in responses)
# --8<-- [end:budget]
