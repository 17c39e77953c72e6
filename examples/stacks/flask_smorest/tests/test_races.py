"""Concurrent requests through the ``api`` fixture (the app runs in the calling threads)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx


def test_identical_tags_at_once_make_one_tag(api: httpx.Client, race: Any,
                                             new_store: Callable[..., dict[str, Any]]) -> None:
    # check-then-insert: in the buggy twin the requests that lose the race answer 500 (IntegrityError)
    store = new_store("Race store")

    def create_tag() -> httpx.Response:
        return api.post(f"/stores/{store['id']}/tags", json={"name": f"rush-{race.round}"})  # a new name per round

    responses = race.run(create_tag, threads=4, rounds=5)
    statuses = Counter(response.status_code for response in responses)
    server_errors = [r.text for r in responses if r.status_code >= 500]
    assert set(statuses) <= {201, 409}, f"statuses {dict(statuses)}: {server_errors[:1]}"
    assert statuses[201] == 5  # one tag per round; the others were told it exists
    tags = api.get(f"/stores/{store['id']}/tags", params={"page_size": 100}).json()
    assert sorted(tag["name"] for tag in tags) == [f"rush-{n}" for n in range(1, 6)]
