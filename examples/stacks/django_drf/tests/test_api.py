"""What the team tests by hand-written cases, through the gates' `api` client (the configured
WSGI app, acting as the gates' identity: `Authorization: Token ...` from its login)."""

from __future__ import annotations

import pytest
from django.conf import settings

pytestmark = pytest.mark.usefixtures("seeded")


def test_health_needs_no_token(api):
    response = api.get("/api/health/", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_catalog_needs_a_token(api):
    response = api.get("/api/books/", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert api.get("/api/books/", headers={"Authorization": "Token not-a-token"}).status_code == 401


def test_me_is_the_seeded_user(api):
    response = api.get("/api/auth/me/")
    assert response.status_code == 200
    assert response.json()["email"] == "gates@example.com"


def test_books_are_paginated_with_limit_and_offset(api):
    first = api.get("/api/books/", params={"limit": 5}).json()
    assert first["count"] >= 15
    assert len(first["results"]) == 5
    second = api.get("/api/books/", params={"limit": 5, "offset": 5}).json()
    assert {b["id"] for b in first["results"]}.isdisjoint(b["id"] for b in second["results"])
    assert api.get("/api/books/", params={"limit": 1000}).json()["results"].__len__() <= 100


def test_books_filter_by_author(api):
    author = api.post("/api/authors/", json={"name": "Filter Author"}).json()
    for title in ("One", "Two"):
        assert api.post("/api/books/", json={"title": title, "author": author["id"]}).status_code == 201
    page = api.get("/api/books/", params={"author": author["id"]}).json()
    assert sorted(b["title"] for b in page["results"]) == ["One", "Two"]
    assert all(b["author_detail"] == {"id": author["id"], "name": "Filter Author"} for b in page["results"])


def test_create_read_update_delete_a_book(api):
    author = api.post("/api/authors/", json={"name": "Jane Doe", "birth_year": 1970}).json()
    created = api.post("/api/books/", json={"title": "Draft", "author": author["id"], "tags": ["fantasy"]})
    assert created.status_code == 201, created.text
    book = created.json()
    assert book["summary"] == "" and book["tags"] == ["fantasy"]
    url = f"/api/books/{book['id']}/"
    assert api.get(url).json()["title"] == "Draft"
    assert api.patch(url, json={"title": "Final", "pages": 320}).json()["pages"] == 320
    assert api.put(url, json={"title": "Final", "author": author["id"], "summary": "Done."}).status_code == 200
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_unknown_book_is_a_json_404(api):
    # Catches the buggy twin's broken-404 (a 500 there).
    response = api.get("/api/books/987654/")
    assert response.status_code == 404
    assert "/api/books/987654/" in response.json()["detail"]


def test_book_summary_may_be_empty_but_not_null(api):
    # Catches the buggy twin's null-into-not-null (a 500 there).
    response = api.patch("/api/books/1/", json={"summary": None})
    assert response.status_code == 400
    assert "summary" in response.json()
    assert api.patch("/api/books/1/", json={"summary": ""}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"title": "", "author": 1},
        {"title": "x" * 201, "author": 1},
        {"title": "No author"},
        {"title": "Ghost author", "author": 999999},
        {"title": "Bad year", "author": 1, "published_year": 99999},
        {"title": "No pages", "author": 1, "pages": 0},
        {"title": "Unknown tag", "author": 1, "tags": ["no-such-tag"]},
    ],
)
def test_invalid_books_are_400(api, body):
    assert api.post("/api/books/", json=body).status_code == 400


def test_an_author_with_books_cannot_be_deleted(api):
    response = api.delete("/api/authors/1/")
    assert response.status_code == 409
    assert api.get("/api/authors/1/").status_code == 200


def test_tag_names_are_unique(api):
    assert api.post("/api/tags/", json={"name": "cosy"}).status_code == 201
    again = api.post("/api/tags/", json={"name": "cosy"})
    assert again.status_code in (400, 409)
    assert api.get("/api/tags/", params={"name": "cosy"}).json()["count"] == 1


def test_only_the_reviewer_changes_a_review(api):
    mine = api.post("/api/reviews/", json={"book": 2, "rating": 4, "body": "Good."})
    assert mine.status_code == 201
    assert mine.json()["reviewer"] == "gates"
    assert api.patch(f"/api/reviews/{mine.json()['id']}/", json={"rating": 5}).json()["rating"] == 5
    theirs = api.get("/api/reviews/", params={"book": 1}).json()["results"]
    other = next(r for r in theirs if r["reviewer"] != "gates")
    assert api.patch(f"/api/reviews/{other['id']}/", json={"rating": 1}).status_code == 403
    assert api.delete(f"/api/reviews/{other['id']}/").status_code == 403


def test_login_gives_the_users_token_and_rejects_a_wrong_password(api):
    good = api.post("/api/auth/login/", json={"email": "gates@example.com", "password": settings.STACK_PASSWORD},
                    headers={"Authorization": ""})
    assert good.status_code == 200
    sent = api.get("/api/auth/me/").request.headers["Authorization"]  # the gates' own login: one token per user
    assert good.json()["token"] == sent.removeprefix("Token ")
    bad = api.post("/api/auth/login/", json={"email": "gates@example.com", "password": "wrong"},
                   headers={"Authorization": ""})
    assert bad.status_code == 401


@pytest.mark.query_budget(max=8, repeats=2)
def test_book_list_runs_a_fixed_number_of_queries(api):
    # Catches the buggy twin's n-plus-one: one author and one tags query per book there.
    response = api.get("/api/books/", params={"limit": 15})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 15
