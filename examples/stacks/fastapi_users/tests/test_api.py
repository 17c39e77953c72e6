"""What the team's own suite checks, through the plugin's `api` fixture (the app in-process,
acting as the seeded user: gates_auth.py logs it in)."""

from __future__ import annotations

import uuid

import pytest

from fastapi_users_app.settings import SEED_EMAIL, SEED_USER_ID, settings


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_health(api) -> None:
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-content-type-options"] == "nosniff"


def test_token_is_the_seeded_user(api) -> None:
    response = api.get("/users/me")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(SEED_USER_ID)


def test_requests_without_a_token_are_refused(api) -> None:
    assert api.get("/projects", headers={"Authorization": ""}).status_code == 401
    assert api.get("/projects", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401


def test_project_lifecycle(api) -> None:
    created = api.post("/projects", json={"name": unique("Launch"), "description": "Q3"})
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["tasks"] == []
    assert api.get(f"/projects/{project['id']}").json() == project

    renamed = api.patch(f"/projects/{project['id']}", json={"name": "Launch v2"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Launch v2"
    assert renamed.json()["description"] == "Q3"  # left out = unchanged

    cleared = api.patch(f"/projects/{project['id']}", json={"description": None})
    assert cleared.json()["description"] is None  # description is nullable

    assert api.delete(f"/projects/{project['id']}").status_code == 204


def test_project_list_is_paginated(api) -> None:
    first = api.get("/projects", params={"limit": 3}).json()
    assert first["limit"] == 3 and first["offset"] == 0
    assert len(first["items"]) == 3 and first["total"] >= 8
    second = api.get("/projects", params={"limit": 3, "offset": 3}).json()
    assert {p["id"] for p in first["items"]}.isdisjoint(p["id"] for p in second["items"])
    assert api.get("/projects", params={"limit": 0}).status_code == 422
    assert api.get("/projects", params={"limit": 101}).status_code == 422


def test_tasks_carry_their_labels(api) -> None:
    project = api.post("/projects", json={"name": unique("Tasks")}).json()
    label = api.post("/labels", json={"name": unique("docs"), "color": "#0e8a16"}).json()
    created = api.post(f"/projects/{project['id']}/tasks",
                       json={"title": "Write README", "priority": 2, "label_ids": [label["id"]]})
    assert created.status_code == 201, created.text
    task = created.json()
    assert [lab["name"] for lab in task["labels"]] == [label["name"]]
    assert task["done"] is False and task["priority"] == 2

    done = api.patch(f"/tasks/{task['id']}", json={"done": True, "label_ids": []})
    assert done.json()["done"] is True and done.json()["labels"] == []

    listed = api.get(f"/projects/{project['id']}/tasks", params={"done": "true"}).json()
    assert [t["id"] for t in listed["items"]] == [task["id"]]
    assert api.get(f"/projects/{project['id']}").json()["tasks"] == [{"id": task["id"], "title": "Write README", "done": True}]

    unknown = api.post(f"/projects/{project['id']}/tasks", json={"title": "x", "label_ids": [2**40]})
    assert unknown.status_code == 422
    assert api.delete(f"/tasks/{task['id']}").status_code == 204


def test_label_names_are_unique(api) -> None:
    name = unique("bug")
    assert api.post("/labels", json={"name": name}).status_code == 201
    again = api.post("/labels", json={"name": name, "color": "#000000"})
    assert again.status_code == 409
    other = api.post("/labels", json={"name": unique("feature")}).json()
    assert api.patch(f"/labels/{other['id']}", json={"name": name}).status_code == 409


def test_updates_refuse_null_for_required_fields(api) -> None:
    label = api.post("/labels", json={"name": unique("chore")}).json()
    assert api.patch(f"/labels/{label['id']}", json={"name": None}).status_code == 422
    assert api.patch("/users/me", json={"email": None}).status_code == 422


def test_missing_resources_are_404(api) -> None:
    """Catches the broken-404 defect: fails on the buggy twin (500 from the broken handler)."""
    missing = 2**40
    for path in (f"/projects/{missing}", f"/tasks/{missing}", f"/labels/{missing}"):
        response = api.get(path)
        assert response.status_code == 404, f"GET {path}: {response.status_code} {response.text[:200]}"
        assert response.json()["detail"].endswith("not found")


def test_login_and_logout_revoke_the_token(api) -> None:
    login = api.post("/auth/jwt/login", data={"username": SEED_EMAIL, "password": settings.seed_password},
                     headers={"Authorization": ""})
    assert login.status_code == 200, login.text
    fresh = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert api.get("/users/me", headers=fresh).status_code == 200
    assert api.post("/auth/jwt/logout", headers=fresh).status_code == 204
    assert api.get("/users/me", headers=fresh).status_code == 401
    assert api.get("/users/me").status_code == 200  # the gates' own token is untouched


def test_register_then_duplicate(api) -> None:
    email = f"{unique('ann')}@example.com"
    body = {"email": email, "password": "correct horse battery"}
    first = api.post("/auth/register", json=body, headers={"Authorization": ""})
    assert first.status_code == 201, first.text
    assert first.json()["is_superuser"] is False
    assert api.post("/auth/register", json=body).json()["detail"] == "REGISTER_USER_ALREADY_EXISTS"


@pytest.mark.query_budget(max=12, repeats=3)
def test_project_list_query_budget(api) -> None:
    """Catches the n-plus-one defect: on the buggy twin each project's tasks are one more SELECT."""
    response = api.get("/projects", params={"limit": 8})
    assert response.status_code == 200
    assert len(response.json()["items"]) == 8


def test_project_create_validates_its_input(input_validation) -> None:
    input_validation.check_endpoint("POST /projects", max_examples=25)
