"""The API as a client sees it, through the plugin's ``api`` fixture (it sends the gates' bearer token)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx

Factory = Callable[..., dict[str, Any]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_needs_no_token(api: httpx.Client) -> None:
    response = api.get("/health", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_schema_declares_bearer_auth(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/health"]["get"]["security"] == []
    assert spec["paths"]["/login"]["post"]["security"] == []


def test_operations_need_a_valid_token(api: httpx.Client) -> None:
    for headers in ({"Authorization": ""}, bearer("not-a-jwt")):
        response = api.get("/stores", headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_store_item_and_tag(api: httpx.Client, new_store: Factory, new_item: Factory) -> None:
    store = new_store()
    assert store["items"] == [] and store["tags"] == []
    item = new_item(store_id=store["id"], name="Hammer", price=12.0)
    assert item["store"] == {"id": store["id"], "name": store["name"]}

    tag = api.post(f"/stores/{store['id']}/tags", json={"name": "tools"})
    assert tag.status_code == 201, tag.text
    tag_id = tag.json()["id"]
    linked = api.post(f"/items/{item['id']}/tags/{tag_id}")
    assert linked.status_code == 201
    assert [i["id"] for i in linked.json()["items"]] == [item["id"]]
    assert api.post(f"/items/{item['id']}/tags/{tag_id}").status_code == 409

    fetched = api.get(f"/stores/{store['id']}").json()
    assert [i["name"] for i in fetched["items"]] == ["Hammer"]
    assert [t["name"] for t in fetched["tags"]] == ["tools"]

    assert api.delete(f"/items/{item['id']}/tags/{tag_id}").status_code == 204
    assert api.get(f"/items/{item['id']}").json()["tags"] == []


def test_update_item_keeps_fields_left_out(api: httpx.Client, new_item: Factory) -> None:
    item = new_item(description="old")
    response = api.patch(f"/items/{item['id']}", json={"price": 3.25, "description": None})
    assert response.status_code == 200
    assert response.json()["price"] == 3.25
    assert response.json()["name"] == item["name"]
    assert response.json()["description"] is None


def test_invalid_bodies_are_422(api: httpx.Client, new_store: Factory) -> None:
    store = new_store()
    for body in ({"name": "x", "price": "1.5", "store_id": store["id"]},     # a numeric string is not a number
                 {"name": "x", "price": -1, "store_id": store["id"]},
                 {"name": "", "price": 1, "store_id": store["id"]},
                 {"name": "x", "price": 1, "store_id": store["id"], "id": 7},  # read-only field
                 {"name": "x", "price": 1}):
        assert api.post("/items", json=body).status_code == 422, body
    assert api.post(f"/stores/{store['id']}/tags", json={"name": "Not A Slug"}).status_code == 422


def test_names_are_unique(api: httpx.Client, new_store: Factory) -> None:
    store = new_store()
    assert api.post("/stores", json={"name": store["name"]}).status_code == 409
    assert api.post(f"/stores/{store['id']}/tags", json={"name": "dup"}).status_code == 201
    assert api.post(f"/stores/{store['id']}/tags", json={"name": "dup"}).status_code == 409
    other = new_store()
    assert api.post(f"/stores/{other['id']}/tags", json={"name": "dup"}).status_code == 201  # unique per store


def test_stores_are_paginated(api: httpx.Client, new_store: Factory) -> None:
    for _ in range(3):
        new_store()
    first = api.get("/stores", params={"page": 1, "page_size": 2})
    assert first.status_code == 200
    assert len(first.json()) == 2
    meta = json.loads(first.headers["X-Pagination"])
    assert meta["page"] == 1 and meta["next_page"] == 2 and meta["total"] >= 3
    beyond = api.get("/stores", params={"page": meta["total_pages"] + 1, "page_size": 2})
    assert beyond.status_code == 200 and beyond.json() == []
    assert api.get("/stores", params={"page_size": 101}).status_code == 422


def test_register_login_refresh_logout(api: httpx.Client) -> None:
    email = f"ann-{uuid.uuid4().hex[:10]}@example.com"
    registered = api.post("/register", json={"email": email, "password": "correct horse"})
    assert registered.status_code == 201
    assert "password" not in registered.json()
    assert api.post("/register", json={"email": email, "password": "correct horse"}).status_code == 409
    assert api.post("/login", json={"email": email, "password": "wrong password"}).status_code == 401

    tokens = api.post("/login", json={"email": email, "password": "correct horse"}).json()
    me = registered.json()["id"]
    assert api.get(f"/user/{me}", headers=bearer(tokens["access_token"])).json()["email"] == email
    assert api.get("/user/1", headers=bearer(tokens["access_token"])).status_code == 403
    assert api.delete("/stores/1", headers=bearer(tokens["access_token"])).status_code == 403  # not an admin

    refreshed = api.post("/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200
    assert api.post("/refresh", headers=bearer(tokens["access_token"])).status_code == 401  # not a refresh token

    assert api.post("/logout", headers=bearer(tokens["access_token"])).status_code == 200
    assert api.get(f"/user/{me}", headers=bearer(tokens["access_token"])).status_code == 401  # revoked
    assert api.get(f"/user/{me}", headers=bearer(refreshed.json()["access_token"])).status_code == 200
    assert api.get("/stores").status_code == 200  # the gates' own token still works

    assert api.delete(f"/user/{me}").status_code == 204  # the gates' user is an admin
    assert api.delete("/user/1").status_code == 409  # but not for its own account
