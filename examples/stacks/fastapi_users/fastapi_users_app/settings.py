"""Settings from the environment, read once at import (the twelve-factor way)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

# The seeded account (the gates log in as it: gates_auth.py). Its id is a fixed uuid5, so two
# processes seeding at once insert the same row and one of them wins.
SEED_EMAIL = "gates@example.com"
SEED_USER_ID = uuid.uuid5(uuid.NAMESPACE_URL, "https://stack.example/users/gates@example.com")

DEFAULT_SECRET_KEY = "dev-secret-please-change-0123456789abcdef"


def _async_sqlite_url(url: str) -> str:
    """Accept a plain SQLite URL (``sqlite:///stack.db``) and use the asyncio driver for it."""
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url[len("sqlite:"):]
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    seed_password: str
    defects: bool
    access_token_lifetime_seconds: int = 3600


def load_settings() -> Settings:
    return Settings(
        database_url=_async_sqlite_url(os.environ.get("STACK_DATABASE_URL", "sqlite:///./stack.db")),
        secret_key=os.environ.get("STACK_SECRET_KEY", DEFAULT_SECRET_KEY),
        seed_password=os.environ.get("STACK_PASSWORD", "gates-password-1"),
        defects=os.environ.get("STACK_DEFECTS", "") not in ("", "0"),
    )


settings = load_settings()
