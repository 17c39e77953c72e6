"""Authors with their books, the N+1 way: one query for the authors, then one more per author
when `author.books` is first touched (SQLAlchemy's default lazy loading). 25 authors: 26
statements, 25 of the same shape. The queries gate flags it: `SELECT ... FROM books WHERE ? =
books.author_id` ran 25 times."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from sqlalchemy import select

from _library_db import Author, as_json, make_sessions

app = FastAPI(title="library (N+1)")
sessions = make_sessions()


@app.get("/authors")
def list_authors() -> list[dict[str, object]]:
    with sessions() as session:
        authors = session.scalars(select(Author).order_by(Author.id)).all()
        return [as_json(author) for author in authors]  # author.books: one SELECT per author


@app.get("/authors/{author_id}", responses={404: {"description": "no such author"}})
def get_author(author_id: int) -> dict[str, object]:
    with sessions() as session:
        author = session.get(Author, author_id)
        if author is None:
            raise HTTPException(404, "no such author")
        return as_json(author)
