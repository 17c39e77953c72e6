from pathlib import Path
from typing import Any

import pytest
from conftest import STAFF, STAFF_KEY, WIDGET, add_item
from fastapi.testclient import TestClient

import shop.main
from shop.catalog import SAMPLE_CATALOG
from shop.db import Database
from shop.main import create_app
from shop.models import MAX_ID


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# A wrong key, also one that is not ASCII (a header is bytes: compared as it is, never an error).
# Requests without any key: the security gate's auth probe sends those to every operation that
# declares the key.
@pytest.mark.parametrize("headers", [{"X-API-Key": "wrong-key"}, {"X-API-Key": b"cl\xe9"}])
def test_changing_the_catalog_needs_the_staff_key(client: TestClient, headers: dict[str, Any]) -> None:
    item = add_item(client)
    client.headers.pop("X-API-Key")
    writes = [("POST", "/items", WIDGET), ("PUT", f"/items/{item['id']}", {**WIDGET, "price": 1}),
              ("DELETE", f"/items/{item['id']}", None)]
    for method, path, body in writes:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (method, response.text)
        assert response.json() == {"detail": "a valid X-API-Key header is required"}
        assert response.headers["WWW-Authenticate"] == "ApiKey"
    assert client.get("/items").json() == [item]  # reading needs no key


def test_staff_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_API_KEY", "from-the-environment")
    with TestClient(create_app(":memory:")) as other:
        assert other.post("/items", json=WIDGET, headers={"X-API-Key": STAFF_KEY}).status_code == 401
        assert other.post("/items", json=WIDGET, headers={"X-API-Key": "from-the-environment"}).status_code == 201


def test_the_served_app_starts_with_the_sample_catalog() -> None:
    names = [item["name"] for item in shop.main.app.state.db.list_items(100, 0)]
    assert names[:len(SAMPLE_CATALOG)] == [name for name, _, _ in SAMPLE_CATALOG]


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


def test_apps_do_not_share_in_memory_data(client: TestClient) -> None:
    add_item(client)
    with TestClient(create_app(":memory:")) as other:
        assert other.get("/items").json() == []


def test_file_database_from_env_persists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "shop.db"
    monkeypatch.setenv("SHOP_DB", str(path))
    with TestClient(create_app(api_key=STAFF_KEY), headers=STAFF) as first:
        item = add_item(first)
    with TestClient(create_app(str(path))) as second:
        assert second.get(f"/items/{item['id']}").json() == item


def test_the_catalog_fills_a_new_database_only(tmp_path: Path) -> None:
    path = str(tmp_path / "shop.db")
    first = Database(path, SAMPLE_CATALOG[:2])
    first.create_item("Widget", 1.0, 1)
    first.close()
    again = Database(path, SAMPLE_CATALOG)  # not empty: nothing is added
    assert [item["name"] for item in again.list_items(10, 0)] == [SAMPLE_CATALOG[0][0], SAMPLE_CATALOG[1][0], "Widget"]
    again.close()


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
        ("DELETE", "/orders", "GET, POST"),
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
    assert set(paths) == {"/health", "/items", "/items/{item_id}", "/items/{item_id}/quote", "/orders"}
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
    for method, path in (("post", "/items"), ("put", "/items/{item_id}"), ("delete", "/items/{item_id}")):
        assert paths[path][method]["security"] == [{"APIKeyHeader": []}]
        assert "401" in paths[path][method]["responses"]
    assert "security" not in paths["/orders"]["post"] and "security" not in paths["/items"]["get"]
