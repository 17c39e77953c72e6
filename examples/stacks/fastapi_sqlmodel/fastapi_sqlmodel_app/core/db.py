"""Engine, sessions, and the start-up step: tables and seed data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine, select

from fastapi_sqlmodel_app.core.config import settings
from fastapi_sqlmodel_app.core.security import get_password_hash
from fastapi_sqlmodel_app.models import Item, Tag, User

BUSY_TIMEOUT_S = 30  # how long a writer waits for another one's transaction (sqlite3's busy timeout)


def make_engine(url: str) -> Engine:
    connect_args: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Sessions are used from FastAPI's thread pool (one session per request, never shared).
        connect_args = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_S}
    new_engine = create_engine(url, connect_args=connect_args)
    if url.startswith("sqlite"):
        event.listen(new_engine, "connect", _sqlite_on_connect)
    return new_engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # SQLite leaves foreign keys unenforced unless asked
    cursor.close()


engine = make_engine(settings.DATABASE_URL)


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SEED_USERS = [
    # (email, full name); the first one is the superuser the gates act as, with id 1.
    ("alice@example.com", "Alice Liddell"),
    ("bob@example.com", "Bob Builder"),
]
SEED_TAGS = [
    ("urgent", "Needs attention this week"),
    ("home", None),
    ("work", "Day job"),
    ("garden", None),
    ("books", "To read or to lend"),
    ("later", None),
]
SEED_ITEMS = [
    # (owner index: 0 = superuser, 1 = alice, 2 = bob), title, description, tag indexes
    (0, "Renew passport", "Before the summer trip", [0]),
    (0, "Fix the bike", None, [1]),
    (0, "Quarterly report", "Numbers from finance first", [2, 0]),
    (0, "Plant tomatoes", None, [3, 1]),
    (0, "Return library books", None, [4]),
    (0, "Call the plumber", "Kitchen sink", [1, 0]),
    (1, "Read Dune", None, [4, 5]),
    (1, "Prepare talk", "Conference in May", [2]),
    (1, "Repot the ficus", None, [3]),
    (2, "Build a shed", "Wood is in the garage", [3, 1]),
    (2, "Team offsite", None, [2, 5]),
    (2, "Sort old photos", None, [5]),
]


def init_db() -> None:
    """Create the tables and seed the first rows; idempotent, and safe when several processes start at once."""
    with engine.connect() as connection:
        dbapi_connection = connection.connection.dbapi_connection
        is_sqlite = engine.dialect.name == "sqlite"
        if is_sqlite:
            # Take SQLite's write lock before looking: a second process waits here, then finds everything done.
            saved_isolation = dbapi_connection.isolation_level  # type: ignore[union-attr]
            dbapi_connection.isolation_level = None  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            SQLModel.metadata.create_all(connection)
            with Session(bind=connection) as session:
                _seed(session)
                session.flush()
            connection.commit()
        finally:
            if is_sqlite:
                dbapi_connection.isolation_level = saved_isolation  # type: ignore[union-attr]


def _seed(session: Session) -> None:
    # Seed an empty database only: the first user may have changed its e-mail since, or been joined by others.
    if session.exec(select(User.id).limit(1)).first() is not None:
        return
    password_hash = get_password_hash(settings.FIRST_SUPERUSER_PASSWORD)
    users = [
        User(
            id=1,
            email=settings.FIRST_SUPERUSER,
            full_name="Gates Admin",
            is_superuser=True,
            hashed_password=password_hash,
        )
    ]
    users += [User(email=email, full_name=name, hashed_password=password_hash) for email, name in SEED_USERS]
    tags = [Tag(name=name, description=description) for name, description in SEED_TAGS]
    session.add_all([*users, *tags])
    session.flush()  # assigns the ids
    for owner, title, description, tag_indexes in SEED_ITEMS:
        owner_id = users[owner].id
        assert owner_id is not None
        item = Item(title=title, description=description, owner_id=owner_id, tags=[tags[i] for i in tag_indexes])
        session.add(item)
