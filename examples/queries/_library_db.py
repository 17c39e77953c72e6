"""Shared by ``library_buggy.py`` and ``library_fixed.py``: an SQLAlchemy 2.x ORM model of
authors and their books, on an in-memory SQLite database seeded with 25 authors of 2 books
each. The twins differ only in how they load the books."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.pool import StaticPool

AUTHORS = 25


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # lazy="select" (SQLAlchemy's default): the books are loaded when first touched, one query per author
    books: Mapped[list[Book]] = relationship(back_populates="author", order_by="Book.id")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    author: Mapped[Author] = relationship(back_populates="books")


def make_sessions() -> sessionmaker[Session]:
    # One in-memory database shared by every thread (FastAPI runs sync endpoints in a thread pool).
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as session:
        for number in range(1, AUTHORS + 1):
            author = Author(name=f"Author {number}")
            author.books = [Book(title=f"Book {number}.{i}") for i in (1, 2)]
            session.add(author)
    return sessions


def as_json(author: Author) -> dict[str, object]:
    return {"id": author.id, "name": author.name,
            "books": [{"id": book.id, "title": book.title} for book in author.books]}
