"""Authors with their books, fixed: `selectinload(Author.books)` loads every author's books in
one more query (`... WHERE books.author_id IN (...)`): 2 statements for any number of authors."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from _library_db import Author, as_json, make_sessions

app = FastAPI(title="library")
sessions = make_sessions()


@app.get("/authors")
def list_authors() -> list[dict[str, object]]:
    with sessions() as session:
        authors = session.scalars(select(Author).options(selectinload(Author.books)).order_by(Author.id)).all()
        return [as_json(author) for author in authors]


@app.get("/authors/{author_id}", responses={404: {"description": "no such author"}})
def get_author(author_id: int) -> dict[str, object]:
    with sessions() as session:
        author = session.get(Author, author_id, options=[selectinload(Author.books)])
        if author is None:
            raise HTTPException(404, "no such author")
        return as_json(author)
