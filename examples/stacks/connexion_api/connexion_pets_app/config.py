"""Settings, read from the environment once at start-up (twelve-factor style)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEV_SECRET_KEY = "dev-secret-please-change-0123456789abcdef"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    seed_password: str
    token_ttl_seconds: int
    bcrypt_rounds: int
    debug: bool
    # The buggy twin of this example service (see README.md): each site is marked with a DEFECT comment naming its kind.
    defects: bool

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("STACK_DATABASE_URL", "sqlite:///stack.db"),
            secret_key=os.environ.get("STACK_SECRET_KEY", DEV_SECRET_KEY),
            seed_password=os.environ.get("STACK_PASSWORD", "gates-password-1"),
            token_ttl_seconds=int(os.environ.get("STACK_TOKEN_TTL", "3600")),
            bcrypt_rounds=int(os.environ.get("STACK_BCRYPT_ROUNDS", "10")),
            debug=_flag("STACK_DEBUG"),
            defects=_flag("STACK_DEFECTS"),
        )


settings = Settings.from_env()
