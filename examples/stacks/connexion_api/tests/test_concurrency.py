"""Concurrent requests through the `api` fixture (race gate) and SQL budgets (queries gate)."""

from __future__ import annotations

import uuid

import pytest


def test_one_tag_per_name_under_concurrency(api, race):
    """Catches the check-then-insert defect: fails on the buggy twin (STACK_DEFECTS=1)."""
    prefix = f"race-{uuid.uuid4().hex[:8]}"
    responses = race.run(lambda: api.post("/api/tags", json={"name": f"{prefix}-{race.round}"}), threads=4, rounds=3)
    for round_number, round_responses in enumerate(responses.by_round, 1):
        statuses = sorted(response.status_code for response in round_responses)
        assert statuses == [201, 409, 409, 409], f"round {round_number}: {statuses}"


@pytest.mark.query_budget(max=8, repeats=2)
def test_pets_page_runs_a_fixed_number_of_queries(api):
    """Catches the n-plus-one defect: fails on the buggy twin (STACK_DEFECTS=1), two lazy loads per pet."""
    response = api.get("/api/pets", params={"limit": 12})
    assert response.status_code == 200
    assert len(response.json()["items"]) >= 6


@pytest.mark.query_budget(max=10, repeats=2)
def test_owner_pages_load_pets_in_one_query(api):
    # two requests, each: token check (2 statements) + the page (2)
    owner = api.get("/api/owners", params={"limit": 1}).json()["items"][0]
    response = api.get(f"/api/owners/{owner['id']}")
    assert response.status_code == 200
