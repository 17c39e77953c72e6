"""Start-up data: the gates' account and a few rows of everything, once."""

from __future__ import annotations

from datetime import date

from fastapi_users.password import PasswordHelper
from sqlalchemy import insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .db import Label, Project, Task, User, async_session_maker, task_labels
from .settings import SEED_EMAIL, SEED_USER_ID, settings

PROJECTS = [
    ("Website relaunch", "New landing page and blog"),
    ("Mobile app", "iOS and Android clients"),
    ("Billing", None),
    ("Onboarding", "First-run experience"),
    ("Search", "Full-text search over tasks"),
    ("Infrastructure", "CI, deploys, monitoring"),
    ("Docs", None),
    ("Hiring", "Backend and design roles"),
]
LABELS = [("bug", "#d73a4a"), ("feature", "#a2eeef"), ("chore", "#cfd3d7"), ("urgent", "#b60205")]
TASKS_PER_PROJECT = 2


async def seed() -> bool:
    """Insert the seed data unless the seeded user exists. True when this call inserted it.

    The user row is the token: its INSERT ... ON CONFLICT DO NOTHING decides, inside the same
    transaction as the other rows, which of two processes starting at once seeds (SQLite
    serialises the writers; the other one inserts nothing).
    """
    hashed = PasswordHelper().hash(settings.seed_password)
    async with async_session_maker() as session, session.begin():
        inserted = await session.execute(
            sqlite_insert(User)
            .values(id=SEED_USER_ID, email=SEED_EMAIL, hashed_password=hashed, is_active=True,
                    is_superuser=False, is_verified=True)
            .on_conflict_do_nothing()
        )
        if inserted.rowcount != 1:
            return False
        await session.execute(insert(Label), [
            {"id": n, "owner_id": SEED_USER_ID, "name": name, "color": color}
            for n, (name, color) in enumerate(LABELS, start=1)
        ])
        await session.execute(insert(Project), [
            {"id": n, "owner_id": SEED_USER_ID, "name": name, "description": description}
            for n, (name, description) in enumerate(PROJECTS, start=1)
        ])
        tasks = []
        links = []
        for p in range(1, len(PROJECTS) + 1):
            for k in range(TASKS_PER_PROJECT):
                task_id = (p - 1) * TASKS_PER_PROJECT + k + 1
                tasks.append({"id": task_id, "project_id": p, "title": f"Task {k + 1} of project {p}",
                              "notes": None, "done": k == 0, "priority": 1 + task_id % 5,
                              "due_date": date(2026, 1 + task_id % 12, 1 + task_id)})
                links.append({"task_id": task_id, "label_id": 1 + task_id % len(LABELS)})
        await session.execute(insert(Task), tasks)
        await session.execute(insert(task_labels), links)
    return True
