from typing import Any

import pytest
from conftest import WIDGET, add_item, count_orders
from fastapi.testclient import TestClient

import shop.main


def test_order_decrements_stock(client: TestClient) -> None:
    item_id = add_item(client)["id"]
    response = client.post("/orders", json={"item_id": item_id, "quantity": 4})
    assert response.status_code == 201
    assert response.json() == {
        "id": 1, "item_id": item_id, "item_name": "Widget", "quantity": 4, "unit_price": 2.5, "total": 10.0,
        "coupon": None,
    }
    assert client.get(f"/items/{item_id}").json()["quantity"] == 6


def test_order_applies_bulk_discount_and_coupon(client: TestClient) -> None:
    item_id = add_item(client, price=10, quantity=100)["id"]
    response = client.post("/orders", json={"item_id": item_id, "quantity": 10, "coupon": "SAVE20"})
    assert response.status_code == 201
    assert response.json()["total"] == 76.0
    assert response.json()["coupon"] == "SAVE20"


def test_order_can_take_the_last_unit_then_conflicts(client: TestClient) -> None:
    item_id = add_item(client, quantity=3)["id"]
    assert client.post("/orders", json={"item_id": item_id, "quantity": 3}).status_code == 201
    response = client.post("/orders", json={"item_id": item_id, "quantity": 1})
    assert response.status_code == 409
    assert response.json() == {"detail": f"not enough stock for item {item_id}"}
    assert client.get(f"/items/{item_id}").json()["quantity"] == 0
    assert count_orders(client) == 1


def test_order_more_than_stock_is_409_and_changes_nothing(client: TestClient) -> None:
    item_id = add_item(client, quantity=2)["id"]
    assert client.post("/orders", json={"item_id": item_id, "quantity": 3}).status_code == 409
    assert client.get(f"/items/{item_id}").json()["quantity"] == 2
    assert count_orders(client) == 0


def test_order_accepts_whole_floats(client: TestClient) -> None:
    item_id = add_item(client)["id"]
    response = client.post("/orders", json={"item_id": float(item_id), "quantity": 2.0})
    assert response.status_code == 201, response.text
    assert response.json()["item_id"] == item_id and response.json()["quantity"] == 2
    assert client.get(f"/items/{item_id}").json()["quantity"] == 8


def test_order_for_missing_item_is_404(client: TestClient) -> None:
    response = client.post("/orders", json={"item_id": 42, "quantity": 1})
    assert response.status_code == 404
    assert response.json() == {"detail": "item 42 not found"}


@pytest.mark.parametrize(
    "body",
    [
        {"item_id": 1, "quantity": 0},
        {"item_id": 1, "quantity": 10_001},
        {"item_id": 0, "quantity": 1},
        {"item_id": 1, "quantity": "1"},
        {"item_id": "1", "quantity": 1},
        {"item_id": 1.5, "quantity": 1},
        {"item_id": True, "quantity": 1},
        {"item_id": 1, "quantity": 2.5},
        {"item_id": 1, "quantity": 1, "coupon": "SAVE60"},
        {"item_id": 1, "quantity": 1, "coupon": "save10"},
        {"item_id": 1, "quantity": 1, "coupon": "BOGUS"},
        {"item_id": 1},
    ],
)
def test_order_rejects_invalid_body(client: TestClient, body: dict[str, Any]) -> None:
    add_item(client)
    assert client.post("/orders", json=body).status_code == 422
    assert count_orders(client) == 0


def test_order_rolls_back_when_pricing_fails(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_total(*args: object) -> None:
        raise RuntimeError("pricing service down")

    item_id = add_item(client)["id"]
    monkeypatch.setattr(shop.main, "order_total", broken_total)
    with pytest.raises(RuntimeError, match="pricing service down"):
        client.post("/orders", json={"item_id": item_id, "quantity": 1})
    assert client.get(f"/items/{item_id}").json()["quantity"] == WIDGET["quantity"]
    assert count_orders(client) == 0


def test_order_history_is_newest_first_with_item_names(client: TestClient) -> None:
    bolts, nuts = add_item(client, name="Bolt")["id"], add_item(client, name="Nut")["id"]
    placed = [client.post("/orders", json={"item_id": item_id, "quantity": 1}).json() for item_id in (bolts, nuts, bolts)]
    history = client.get("/orders").json()
    assert history == placed[::-1]
    assert [order["item_name"] for order in history] == ["Bolt", "Nut", "Bolt"]
    assert client.get("/orders", params={"limit": 1, "offset": 1}).json() == [placed[1]]


def test_order_history_keeps_orders_of_deleted_items(client: TestClient) -> None:
    item_id = add_item(client)["id"]
    order = client.post("/orders", json={"item_id": item_id, "quantity": 1}).json()
    assert client.delete(f"/items/{item_id}").status_code == 204
    assert client.get("/orders").json() == [{**order, "item_name": None}]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}])
def test_order_history_rejects_out_of_bounds(client: TestClient, params: dict[str, Any]) -> None:
    assert client.get("/orders", params=params).status_code == 422


# The shared app (shop.main:app, the gates' target) through the plugin's `api` fixture: with
# --backend-gates every request it sends is counted by the queries gate too.
@pytest.fixture
def recent_orders(api: Any) -> list[dict[str, Any]]:
    item = api.post("/items", json={"name": "Order history probe", "price": 1.5, "quantity": 100}).json()
    return [api.post("/orders", json={"item_id": item["id"], "quantity": 1}).json() for _ in range(5)]


@pytest.mark.query_budget(max=2, repeats=1)
def test_order_history_is_one_query_whatever_the_page_size(api: Any, recent_orders: list[dict[str, Any]]) -> None:
    history = api.get("/orders", params={"limit": 5}).json()
    assert history == recent_orders[::-1]


def test_quote_prices_without_reserving(client: TestClient) -> None:
    item_id = add_item(client, price=10, quantity=100)["id"]
    response = client.get(f"/items/{item_id}/quote", params={"quantity": 10, "coupon": "SAVE20"})
    assert response.status_code == 200
    assert response.json() == {"item_id": item_id, "quantity": 10, "coupon": "SAVE20", "unit_price": 10.0,
                               "total": 76.0, "in_stock": True}
    assert client.get(f"/items/{item_id}/quote", params={"quantity": 101}).json()["in_stock"] is False
    assert client.get(f"/items/{item_id}").json()["quantity"] == 100
    assert count_orders(client) == 0


@pytest.mark.parametrize("params", [{}, {"quantity": 0}, {"quantity": 10_001}, {"quantity": 1, "coupon": "SAVE60"}])
def test_quote_rejects_invalid_parameters(client: TestClient, params: dict[str, Any]) -> None:
    item_id = add_item(client)["id"]
    assert client.get(f"/items/{item_id}/quote", params=params).status_code == 422


def test_quote_for_missing_item_is_404(client: TestClient) -> None:
    response = client.get("/items/42/quote", params={"quantity": 1})
    assert response.status_code == 404
    assert response.json() == {"detail": "item 42 not found"}
