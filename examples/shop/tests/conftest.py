"""What the shop's tests share: an app of their own per test, acting as staff."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shop.db import Database
from shop.main import create_app

STAFF_KEY = "test-staff-key"
STAFF = {"X-API-Key": STAFF_KEY}
WIDGET = {"name": "Widget", "price": 2.5, "quantity": 10}


@pytest.fixture
def client() -> Iterator[TestClient]:
    # Every test gets its own app and private in-memory database (no sample catalog), and sends the
    # staff key that app expects; a test about the key takes it away per request.
    with TestClient(create_app(":memory:", api_key=STAFF_KEY), headers=STAFF) as test_client:
        yield test_client


def add_item(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/items", json={**WIDGET, **overrides})
    assert response.status_code == 201, response.text
    return response.json()


def count_orders(client: TestClient) -> int:
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    with db.transaction() as conn:
        return conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
