"""Tests that pin the defects of the buggy twin (STACK_DEFECTS=1): they pass on the fixed twin only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest


def test_a_missing_item_is_404(api: httpx.Client) -> None:
    # broken-404: the buggy twin's 404 handler raises TemplateNotFound -> 500
    response = api.get("/items/2000000000")
    assert response.status_code == 404
    assert response.json()["message"] == "Item not found."


def test_item_in_a_missing_store_is_404(api: httpx.Client) -> None:
    response = api.post("/items", json={"name": "x", "price": 1, "store_id": 2_000_000_000})
    assert response.status_code == 404  # broken-404: 500 in the buggy twin


def test_null_for_a_required_column_is_422(api: httpx.Client, new_item: Callable[..., dict[str, Any]]) -> None:
    # null-into-not-null: the buggy twin lets null through to a NOT NULL column -> IntegrityError -> 500
    item = new_item()
    for field in ("name", "price"):
        response = api.patch(f"/items/{item['id']}", json={field: None})
        assert response.status_code == 422, response.text


@pytest.fixture
def four_stores(new_store: Callable[..., dict[str, Any]]) -> None:
    for _ in range(4):
        new_store("Query test store")


@pytest.mark.query_budget(max=10, repeats=3)
def test_the_store_list_does_not_query_per_store(api: httpx.Client, four_stores: None) -> None:
    # n-plus-one: the buggy twin loads each store's items and tags lazily (2 SELECTs per store)
    response = api.get("/stores", params={"page_size": 8})
    assert response.status_code == 200
    assert len(response.json()) >= 4
