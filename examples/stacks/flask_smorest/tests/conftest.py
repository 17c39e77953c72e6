from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:10]}"


@pytest.fixture
def new_store(api: httpx.Client) -> Callable[..., dict[str, Any]]:
    """Creates a store with a name no other test uses; the gates' seeded rows stay untouched."""

    def make(prefix: str = "Test store") -> dict[str, Any]:
        response = api.post("/stores", json={"name": unique(prefix)})
        assert response.status_code == 201, response.text
        return response.json()

    return make


@pytest.fixture
def new_item(api: httpx.Client, new_store: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def make(store_id: int | None = None, **fields: Any) -> dict[str, Any]:
        body = {"name": "Widget", "price": 9.5, "store_id": store_id or new_store()["id"], **fields}
        response = api.post("/items", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    return make
