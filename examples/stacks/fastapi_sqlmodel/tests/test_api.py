"""What the team's own test suite checks, through the plugin's `api` fixture (acting as gates@example.com).

The tests share the service's database with the gates, so each one makes its own rows (unique names)
and never relies on a seeded row surviving the fuzzing.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from fastapi_sqlmodel_app.core.config import settings

API = settings.API_V1_STR


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_item(api: Any, **fields: Any) -> dict[str, Any]:
    response = api.post(f"{API}/items/", json={"title": unique("item"), **fields})
    assert response.status_code == 201, response.text
    return response.json()


def login(api: Any, email: str, password: str) -> dict[str, str]:
    response = api.post(f"{API}/login/access-token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def signup(api: Any) -> tuple[str, str]:
    email, password = f"{unique('user')}@example.com", "correct horse battery"
    response = api.post(f"{API}/users/signup", json={"email": email, "password": password, "full_name": "New User"})
    assert response.status_code == 201, response.text
    assert "password" not in response.text and "hashed" not in response.text
    return email, password


def test_health_needs_no_token(api: Any) -> None:
    response = api.get("/health", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_gates_act_as_the_seeded_superuser(api: Any) -> None:
    me = api.get(f"{API}/users/me").json()
    assert me["email"] == "gates@example.com"
    assert me["is_superuser"] is True


def test_requests_without_a_valid_token_are_401(api: Any) -> None:
    assert api.get(f"{API}/items/", headers={"Authorization": ""}).status_code == 401
    response = api.get(f"{API}/items/", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_item_lifecycle(api: Any) -> None:
    item = create_item(api, description="first draft")
    assert item["tags"] == []
    assert api.get(f"{API}/items/{item['id']}").json() == item

    updated = api.patch(f"{API}/items/{item['id']}", json={"description": None}).json()
    assert updated == {**item, "description": None}

    assert api.delete(f"{API}/items/{item['id']}").json() == {"message": "Item deleted successfully"}


def test_missing_resources_are_404s_naming_them(api: Any) -> None:
    # Catches the buggy twin's broken-404 (its not-found handler raises: 500).
    item = create_item(api)
    api.delete(f"{API}/items/{item['id']}")
    response = api.get(f"{API}/items/{item['id']}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"item {item['id']} not found", "resource": "item", "id": item["id"]}
    tag = api.post(f"{API}/tags/", json={"name": unique("tag")}).json()
    assert api.delete(f"{API}/items/{create_item(api)['id']}/tags/{tag['id']}").status_code == 404  # not attached


def test_item_title_cannot_be_set_to_null(api: Any) -> None:
    # Catches the buggy twin's null-into-not-null (the NOT NULL column raises: 500).
    item = create_item(api)
    assert api.patch(f"{API}/items/{item['id']}", json={"title": None}).status_code == 422
    assert api.get(f"{API}/items/{item['id']}").json()["title"] == item["title"]


def test_items_page_with_skip_and_limit(api: Any) -> None:
    first = api.get(f"{API}/items/", params={"limit": 3}).json()
    assert len(first["data"]) == 3
    assert first["count"] >= 3
    second = api.get(f"{API}/items/", params={"skip": 1, "limit": 2}).json()
    assert [item["id"] for item in second["data"]] == [item["id"] for item in first["data"][1:3]]
    assert api.get(f"{API}/items/", params={"limit": 101}).status_code == 422


@pytest.mark.query_budget(max=8, repeats=2)
def test_items_page_loads_tags_in_one_query(api: Any) -> None:
    # Catches the buggy twin's n-plus-one (one SELECT of tags per item).
    page = api.get(f"{API}/items/", params={"limit": 20}).json()
    assert len(page["data"]) > 2


def test_tag_names_are_unique(api: Any) -> None:
    name = unique("tag")
    created = api.post(f"{API}/tags/", json={"name": name})
    assert created.status_code == 201, created.text
    again = api.post(f"{API}/tags/", json={"name": name, "description": "again"})
    assert again.status_code == 409
    assert api.get(f"{API}/tags/{created.json()['id']}").json() == created.json()


def test_tagging_an_item(api: Any) -> None:
    item = create_item(api)
    tag = api.post(f"{API}/tags/", json={"name": unique("tag")}).json()
    tagged = api.put(f"{API}/items/{item['id']}/tags/{tag['id']}").json()
    assert tagged["tags"] == [tag]
    assert api.put(f"{API}/items/{item['id']}/tags/{tag['id']}").json() == tagged  # idempotent
    assert api.delete(f"{API}/items/{item['id']}/tags/{tag['id']}").json()["tags"] == []


def test_users_only_see_their_own_items(api: Any) -> None:
    email, password = signup(api)
    headers = login(api, email, password)
    own = api.post(f"{API}/items/", json={"title": "mine"}, headers=headers).json()
    assert [item["id"] for item in api.get(f"{API}/items/", headers=headers).json()["data"]] == [own["id"]]
    foreign = create_item(api)  # the superuser's
    assert api.get(f"{API}/items/{foreign['id']}", headers=headers).status_code == 403
    assert api.get(f"{API}/users/", headers=headers).status_code == 403


def test_signup_twice_is_a_conflict(api: Any) -> None:
    email, _ = signup(api)
    response = api.post(f"{API}/users/signup", json={"email": email, "password": "another password"})
    assert response.status_code == 409


def test_logout_revokes_only_that_token(api: Any) -> None:
    email, password = signup(api)
    first, second = login(api, email, password), login(api, email, password)
    assert api.post(f"{API}/logout", headers=first).status_code == 200
    assert api.get(f"{API}/users/me", headers=first).status_code == 401
    assert api.get(f"{API}/users/me", headers=second).json()["email"] == email


def test_change_password(api: Any) -> None:
    email, password = signup(api)
    headers = login(api, email, password)
    wrong = {"current_password": "not the password", "new_password": "brand new password"}
    assert api.patch(f"{API}/users/me/password", json=wrong, headers=headers).status_code == 403
    same = {"current_password": password, "new_password": password}
    assert api.patch(f"{API}/users/me/password", json=same, headers=headers).status_code == 409
    body = {"current_password": password, "new_password": "brand new password"}
    assert api.patch(f"{API}/users/me/password", json=body, headers=headers).status_code == 200
    login(api, email, "brand new password")


def test_superuser_cannot_demote_or_delete_itself(api: Any) -> None:
    assert api.patch(f"{API}/users/1", json={"is_superuser": False}).status_code == 403
    assert api.delete(f"{API}/users/1").status_code == 403
    assert api.delete(f"{API}/users/me").status_code == 403
