from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import shop.main
from shop.db import Database, OutOfStock
from shop.main import create_app
from shop.models import MAX_ID

WIDGET = {"name": "Widget", "price": 2.5, "quantity": 10}


@pytest.fixture
def client() -> Iterator[TestClient]:
    # Every test gets its own app and private in-memory database.
    with TestClient(create_app(":memory:")) as test_client:
        yield test_client


def add_item(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/items", json={**WIDGET, **overrides})
    assert response.status_code == 201, response.text
    return response.json()


def count_orders(client: TestClient) -> int:
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    with db.transaction() as conn:
        return conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_create_and_get_item(client: TestClient) -> None:
    created = add_item(client)
    assert created == {"id": created["id"], **WIDGET}
    assert client.get(f"/items/{created['id']}").json() == created


@pytest.mark.parametrize(
    "body",
    [
        {**WIDGET, "name": "x" * 100},
        {**WIDGET, "name": "  padded  "},
        {**WIDGET, "name": "\u00e9"},
        {**WIDGET, "name": "\u200b"},  # zero-width space: not White_Space in any dialect
        {**WIDGET, "quantity": 0},
        {**WIDGET, "price": 1},
        {**WIDGET, "price": 1_000_000},
        {**WIDGET, "quantity": 1_000_000},
    ],
)
def test_create_item_boundaries_accepted(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/items", json=body)
    assert response.status_code == 201
    assert {k: v for k, v in response.json().items() if k != "id"} == body


@pytest.mark.parametrize(
    "body",
    [
        {**WIDGET, "name": ""},
        {**WIDGET, "name": "   "},
        {**WIDGET, "name": "\t\n\r"},
        {**WIDGET, "name": "\u0085"},  # NEL: whitespace to Rust, not to ECMA-262's \s
        {**WIDGET, "name": "\ufeff"},  # BOM: whitespace to ECMA-262's \s, not to Rust
        {**WIDGET, "name": "\u00a0\u3000"},
        {**WIDGET, "name": "x" * 101},
        {**WIDGET, "name": 42},
        {**WIDGET, "price": 0},
        {**WIDGET, "price": -1.5},
        {**WIDGET, "price": "2.50"},
        {**WIDGET, "price": 1_000_000.01},
        {**WIDGET, "quantity": -1},
        {**WIDGET, "quantity": 1.5},
        {**WIDGET, "quantity": True},
        {**WIDGET, "quantity": "10"},
        {**WIDGET, "quantity": 1_000_001},
        {**WIDGET, "quantity": 1_000_001.0},
        {**WIDGET, "quantity": 2**63},
        {**WIDGET, "price": True},
        {"name": "Widget", "price": 2.5},
        {**WIDGET, "sku": "extra"},
    ],
)
def test_create_item_rejects_invalid(client: TestClient, body: dict[str, Any]) -> None:
    assert client.post("/items", json=body).status_code == 422
    assert client.get("/items").json() == []


@pytest.mark.parametrize("raw", ["10.0", "1e1", "10.000"])
def test_integer_fields_accept_whole_floats(client: TestClient, raw: str) -> None:
    # JSON Schema counts 10.0 as an integer, and some JSON encoders write whole numbers that way.
    body = '{"name": "Widget", "price": 2.5, "quantity": ' + raw + "}"
    response = client.post("/items", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["quantity"] == 10
    assert isinstance(response.json()["quantity"], int)  # stored and answered as an integer


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"name": "Widget", "price": 2.5, "quantity": 1', 422),  # malformed JSON: a validation error
        (b"not json", 422),
        (b'{"name": "Widget", "price": 2.5, "quantity": 1}\xff', 400),  # not even UTF-8 text
        (b"\xff", 400),
    ],
)
def test_undecodable_body_is_rejected(client: TestClient, body: bytes, status: int) -> None:
    response = client.post("/items", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    if status == 400:
        assert response.json() == {"detail": "There was an error parsing the body"}
    assert client.get("/items").json() == []


def test_list_items_paginates_in_id_order(client: TestClient) -> None:
    ids = [add_item(client, name=f"item {n}")["id"] for n in range(5)]
    assert [item["id"] for item in client.get("/items").json()] == ids
    page = client.get("/items", params={"limit": 2, "offset": 1}).json()
    assert [item["id"] for item in page] == ids[1:3]
    assert client.get("/items", params={"offset": 5}).json() == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "many"}])
def test_list_items_rejects_out_of_bounds(client: TestClient, params: dict[str, Any]) -> None:
    assert client.get("/items", params=params).status_code == 422


def test_get_missing_item_is_404(client: TestClient) -> None:
    response = client.get("/items/999")
    assert response.status_code == 404
    assert response.json() == {"detail": "item 999 not found"}


@pytest.mark.parametrize("item_id", ["0", "-1", "abc", str(2**63)])
def test_invalid_item_id_is_422(client: TestClient, item_id: str) -> None:
    assert client.get(f"/items/{item_id}").status_code == 422


def test_replace_item(client: TestClient) -> None:
    item_id = add_item(client)["id"]
    new = {"name": "Gadget", "price": 7.25, "quantity": 3}
    response = client.put(f"/items/{item_id}", json=new)
    assert response.status_code == 200
    assert response.json() == {"id": item_id, **new}
    assert client.get(f"/items/{item_id}").json() == {"id": item_id, **new}


def test_replace_missing_item_is_404(client: TestClient) -> None:
    assert client.put("/items/1", json=WIDGET).status_code == 404


def test_replace_item_validates_body(client: TestClient) -> None:
    item = add_item(client)
    assert client.put(f"/items/{item['id']}", json={**WIDGET, "price": -1}).status_code == 422
    assert client.get(f"/items/{item['id']}").json() == item


def test_delete_item(client: TestClient) -> None:
    item_id = add_item(client)["id"]
    response = client.delete(f"/items/{item_id}")
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"/items/{item_id}").status_code == 404
    assert client.delete(f"/items/{item_id}").status_code == 404


def test_order_decrements_stock(client: TestClient) -> None:
    item_id = add_item(client)["id"]
    response = client.post("/orders", json={"item_id": item_id, "quantity": 4})
    assert response.status_code == 201
    assert response.json() == {
        "id": 1, "item_id": item_id, "quantity": 4, "unit_price": 2.5, "total": 10.0, "coupon": None,
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


def test_concurrent_orders_never_oversell() -> None:
    db = Database()
    item_id = db.create_item("Widget", 1.0, 10)["id"]

    def buy(_: int) -> bool:
        try:
            db.place_order(item_id, 1, None, lambda price: price)
        except OutOfStock:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(buy, range(25)))
    assert results.count(True) == 10
    assert db.get_item(item_id)["quantity"] == 0  # type: ignore[index]
    db.close()


def test_apps_do_not_share_in_memory_data(client: TestClient) -> None:
    add_item(client)
    with TestClient(create_app(":memory:")) as other:
        assert other.get("/items").json() == []


def test_file_database_from_env_persists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "shop.db"
    monkeypatch.setenv("SHOP_DB", str(path))
    with TestClient(create_app()) as first:
        item = add_item(first)
    with TestClient(create_app(str(path))) as second:
        assert second.get(f"/items/{item['id']}").json() == item


def test_database_reopens_after_close() -> None:
    db = Database()
    db.close()  # closing an unopened database is a no-op
    db.create_item("Widget", 1.0, 1)
    db.close()
    assert db.list_items(10, 0) == []  # a fresh in-memory database
    db.close()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/items", "GET, POST"),
        ("OPTIONS", "/items", "GET, POST"),
        ("POST", "/items/1", "DELETE, GET, PUT"),
        ("PATCH", "/items/abc", "DELETE, GET, PUT"),
        ("GET", "/orders", "POST"),
        ("POST", "/health", "GET"),
    ],
)
def test_405_allow_lists_every_method_of_the_resource(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    # One route per decorator: Starlette alone would name only the first route's methods.
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.json() == {"detail": "Method Not Allowed"}


def test_405_outside_the_api_keeps_starlettes_allow(client: TestClient) -> None:
    # /openapi.json is not in the document itself; its own route knows its methods.
    response = client.post("/openapi.json")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}


def test_ids_are_json_safe_integers(client: TestClient) -> None:
    assert MAX_ID == 2**53 - 1
    assert client.get(f"/items/{MAX_ID}").status_code == 404
    assert client.get(f"/items/{MAX_ID + 1}").status_code == 422
    assert client.post("/orders", json={"item_id": MAX_ID, "quantity": 1}).status_code == 404
    assert client.post("/orders", json={"item_id": MAX_ID + 1, "quantity": 1}).status_code == 422


def test_openapi_documents_status_codes() -> None:
    paths = shop.main.app.openapi()["paths"]
    assert set(paths) == {"/health", "/items", "/items/{item_id}", "/orders"}
    for method in ("get", "put", "delete"):
        assert "404" in paths["/items/{item_id}"][method]["responses"]
    assert "204" in paths["/items/{item_id}"]["delete"]["responses"]
    assert "201" in paths["/items"]["post"]["responses"]
    assert {"201", "404", "409", "422"} <= set(paths["/orders"]["post"]["responses"])
    for method, path in (("post", "/items"), ("put", "/items/{item_id}"), ("post", "/orders")):
        assert "400" in paths[path][method]["responses"]  # body that cannot be decoded
    item_id = next(p for p in paths["/items/{item_id}"]["get"]["parameters"] if p["name"] == "item_id")
    assert item_id["schema"]["maximum"] == 2**53 - 1
    quantity = shop.main.app.openapi()["components"]["schemas"]["ItemIn"]["properties"]["quantity"]
    assert quantity["type"] == "integer" and quantity["minimum"] == 0 and quantity["maximum"] == 1_000_000
    limit = next(p for p in paths["/items"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 100
