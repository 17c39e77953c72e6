"""Engine, the request-scoped session, table creation and the idempotent seed."""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy import create_engine, event, insert, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import scoped_session, sessionmaker

from .config import settings
from .models import Base, Owner, Pet, Tag, User, Visit, pet_tags
from .security import hash_password

SEED_EMAIL = "gates@example.com"


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    # Handlers run in a thread pool: a connection may be used by another thread than the one that
    # opened it, and writers wait for each other (busy timeout) instead of failing at once.
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    return engine


engine = make_engine(settings.database_url)
SessionLocal = sessionmaker(bind=engine, expire_on_commit=False)
# One session per request thread; removed when Flask tears the app context down (app.py).
db_session = scoped_session(SessionLocal)


def create_tables() -> None:
    # Two processes starting at once may both see a table missing: the loser's CREATE TABLE fails
    # with "already exists", and the next attempt finds every table.
    for attempt in range(5):
        try:
            Base.metadata.create_all(engine)
            return
        except OperationalError as exc:
            if "already exists" not in str(exc) and "locked" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.1 * (attempt + 1))


OWNERS = [
    (1, "Jean", "Coleman", "jean.coleman@example.com", "+1 608 555 0102", "Madison"),
    (2, "Harold", "Davis", "harold.davis@example.com", "+1 608 555 0149", "Sun Prairie"),
    (3, "Maria", "Escobito", "maria.escobito@example.com", None, "Madison"),
    (4, "David", "Schroeder", "david.schroeder@example.com", "+1 608 555 0167", "Windsor"),
    (5, "Carlos", "Estaban", "carlos.estaban@example.com", None, None),
    (6, "Eduardo", "Rodriquez", "eduardo.rodriquez@example.com", "+1 608 555 0184", "McFarland"),
    (7, "Betty", "Davis", "betty.davis@example.com", "+1 608 555 0127", "Madison"),
    (8, "George", "Franklin", "george.franklin@example.com", None, "Monona"),
]
PETS = [
    (1, "Leo", "cat", date(2016, 9, 7), 1), (2, "Basil", "rabbit", date(2018, 8, 6), 2),
    (3, "Rosy", "dog", date(2017, 4, 17), 3), (4, "Jewel", "dog", date(2016, 3, 7), 3),
    (5, "Iggy", "reptile", date(2019, 11, 30), 4), (6, "George", "other", date(2020, 1, 20), 5),
    (7, "Samantha", "cat", date(2015, 9, 4), 6), (8, "Max", "cat", date(2014, 9, 4), 6),
    (9, "Lucky", "bird", date(2021, 8, 6), 7), (10, "Mulligan", "dog", date(2013, 2, 24), 8),
    (11, "Freddy", "bird", None, 8), (12, "Lucky", "dog", date(2022, 6, 8), 1),
]
TAGS = [(1, "vaccinated"), (2, "neutered"), (3, "senior"), (4, "allergies"), (5, "microchipped")]
PET_TAGS = [(1, 1), (1, 5), (2, 2), (3, 1), (3, 3), (4, 1), (5, 4), (7, 1), (7, 2), (8, 3),
            (9, 5), (10, 1), (10, 3), (11, 4), (12, 1), (12, 2)]
VISITS = [
    (1, 7, date(2024, 3, 4), "rabies shot", "Dr. Carter", None),
    (2, 8, date(2024, 3, 4), "rabies shot", "Dr. Carter", None),
    (3, 8, date(2024, 6, 4), "neutered", "Dr. Leary", "recovering well"),
    (4, 7, date(2024, 9, 4), "spayed", "Dr. Leary", None),
    (5, 1, date(2025, 1, 15), "annual check-up", "Dr. Douglas", None),
    (6, 3, date(2025, 2, 2), "limping, front left paw", "Dr. Ortega", "x-ray clear"),
    (7, 5, date(2025, 2, 20), "skin shedding problem", "Dr. Stevens", None),
    (8, 9, date(2025, 4, 11), "wing clipping", "Dr. Douglas", None),
    (9, 10, date(2025, 5, 30), "dental cleaning", "Dr. Ortega", None),
    (10, 12, date(2025, 7, 1), "first vaccinations", "Dr. Carter", "next in 4 weeks"),
]


def seed() -> None:
    """The gates' user and a few rows per table, with fixed ids. INSERT ... ON CONFLICT DO NOTHING
    makes it safe to run at every start, also by two processes at once."""

    def upsert(table, rows):  # type: ignore[no-untyped-def]
        stmt = sqlite_insert(table) if engine.dialect.name == "sqlite" else insert(table)
        return stmt.values(rows).on_conflict_do_nothing() if engine.dialect.name == "sqlite" else stmt.values(rows)

    with engine.begin() as conn:
        conn.execute(upsert(User, [{"id": 1, "email": SEED_EMAIL, "full_name": "Gates Robot",
                                    "password_hash": hash_password(settings.seed_password), "is_active": True}]))
        conn.execute(upsert(Owner, [dict(zip(("id", "first_name", "last_name", "email", "phone", "city"), row))
                                    for row in OWNERS]))
        conn.execute(upsert(Pet, [dict(zip(("id", "name", "species", "birth_date", "owner_id"), row))
                                  for row in PETS]))
        conn.execute(upsert(Tag, [{"id": id_, "name": name} for id_, name in TAGS]))
        # A seed tag's name may have been taken by a tag created through the API: link existing tags only.
        tag_ids = set(conn.scalars(select(Tag.id).where(Tag.id.in_([id_ for id_, _ in TAGS]))))
        conn.execute(upsert(pet_tags, [{"pet_id": p, "tag_id": t} for p, t in PET_TAGS if t in tag_ids]))
        conn.execute(upsert(Visit, [dict(zip(("id", "pet_id", "visit_date", "reason", "vet_name", "notes"), row))
                                    for row in VISITS]))


def init_db() -> None:
    create_tables()
    seed()
