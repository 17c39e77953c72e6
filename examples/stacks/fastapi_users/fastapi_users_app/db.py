"""Async engine, session dependency and the ORM models."""

from __future__ import annotations

import sqlite3
import uuid
import weakref
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends
from fastapi_users_db_sqlalchemy import (
    SQLAlchemyBaseUserTableUUID,
    SQLAlchemyUserDatabase,
)
from fastapi_users_db_sqlalchemy.generics import GUID
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncAttrs,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .settings import settings


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite keeps no time zone: store UTC, and give it back as an aware datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(AsyncAttrs, DeclarativeBase):
    pass


task_labels = Table(
    "task_label",
    Base.metadata,
    Column("task_id", ForeignKey("task.id", ondelete="CASCADE"), primary_key=True),
    Column("label_id", ForeignKey("label.id", ondelete="CASCADE"), primary_key=True),
)


class User(SQLAlchemyBaseUserTableUUID, Base):
    projects: Mapped[list[Project]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", passive_deletes=True
    )
    labels: Mapped[list[Label]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", passive_deletes=True
    )


class Project(Base):
    __tablename__ = "project"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    owner: Mapped[User] = relationship(back_populates="projects")
    tasks: Mapped[list[Task]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True, order_by="Task.id"
    )


class Task(Base):
    __tablename__ = "task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    priority: Mapped[int] = mapped_column(Integer, default=3, nullable=False)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    project: Mapped[Project] = relationship(back_populates="tasks")
    labels: Mapped[list[Label]] = relationship(secondary=task_labels, order_by="Label.id")


class Label(Base):
    __tablename__ = "label"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_label_owner_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    color: Mapped[str] = mapped_column(String(7), nullable=False, default="#808080")

    owner: Mapped[User] = relationship(back_populates="labels")


class RevokedToken(Base):
    """Denylist of logged-out access tokens (sha256 of the token), kept until they expire."""

    __tablename__ = "revoked_token"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


class _Connection(sqlite3.Connection):
    """A sqlite3 connection that closes the cursors its failed statements left open.

    Python 3.11's sqlite3 keeps a statement that failed (the IntegrityError of a duplicate label
    or e-mail, which the app turns into 409/400) "in use" until its cursor is closed or freed, and
    SQLAlchemy's aiosqlite adapter closes the driver cursor after a statement only when it did not
    raise. Held by the exception's traceback in a reference cycle, such a cursor is freed by the
    garbage collector at some later moment, on the event loop's thread; freeing it resets the
    statement, which waits for the connection's mutex. If the connection has meanwhile gone to
    another request that waits in BEGIN IMMEDIATE for the write lock (SQLite keeps the mutex for
    the whole busy wait), the event loop stops: the transaction that holds the write lock cannot
    commit, and the waiting ones fail with "database is locked" after the 30 s busy timeout.
    So the stray cursors are closed here, on the connection's own thread, before its next
    statement and when it rolls back or closes. (Python 3.12's sqlite3 resets a failed statement
    itself.)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursors: weakref.WeakSet[sqlite3.Cursor] = weakref.WeakSet()

    def _close_stray_cursors(self) -> None:
        for cursor in list(self._cursors):
            if cursor.description is None:  # no rows to read: done or failed (a stream's stays open)
                cursor.close()
                self._cursors.discard(cursor)

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        self._close_stray_cursors()
        cursor = super().cursor(*args, **kwargs)
        self._cursors.add(cursor)
        return cursor

    def rollback(self) -> None:
        self._close_stray_cursors()
        super().rollback()

    def close(self) -> None:
        self._close_stray_cursors()
        super().close()


engine = create_async_engine(
    settings.database_url,
    # aiosqlite runs each connection in its own thread; `timeout` is SQLite's busy timeout,
    # so concurrent writers wait for the lock instead of failing with "database is locked".
    # A write transaction begins IMMEDIATE (sqlite3 begins one before the first INSERT, UPDATE
    # or DELETE; reads stay outside it): a DEFERRED one starts as a reader, and in WAL mode its
    # upgrade to writer fails at once, without the busy wait, when another writer committed
    # in between. `factory`: a connection that closes the cursors of failed statements (see
    # _Connection: left to the garbage collector, one can stop the event loop while a writer waits).
    connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": "IMMEDIATE",
                  "factory": _Connection},
)
async_session_maker = async_sessionmaker(engine, expire_on_commit=False)


@event.listens_for(engine.sync_engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


async def create_db_and_tables() -> None:
    # Two processes starting at once may both find a table missing; the loser's CREATE
    # fails with "already exists", and a second pass (checkfirst) finds everything there.
    for attempt in range(3):
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            return
        except OperationalError as exc:
            if "already exists" not in str(exc) or attempt == 2:
                raise


async def get_async_session() -> AsyncIterator[AsyncSession]:
    async with async_session_maker() as session:
        yield session


async def get_user_db(
    session: Annotated[AsyncSession, Depends(get_async_session)],
) -> AsyncIterator[SQLAlchemyUserDatabase]:
    yield SQLAlchemyUserDatabase(session, User)
