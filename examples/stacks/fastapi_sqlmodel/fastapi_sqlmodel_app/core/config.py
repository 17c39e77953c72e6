"""Settings, read once from the environment (``STACK_*``).

The full-stack template uses pydantic-settings for this; a plain frozen
dataclass does the same job here without the extra dependency.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str) -> str:
    return os.environ.get(f"STACK_{name}", default)


def _env_flag(name: str) -> bool:
    return _env(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in _env(name, default).split(",") if part.strip()]


@dataclass(frozen=True)
class Settings:
    PROJECT_NAME: str = "Stack: FastAPI + SQLModel"
    API_V1_STR: str = "/api/v1"
    # Where the SQLite file lives; relative paths are relative to the current directory.
    DATABASE_URL: str = field(default_factory=lambda: _env("DATABASE_URL", "sqlite:///stack.db"))
    # HS256 signing key of the access tokens. The default is for local development only.
    SECRET_KEY: str = field(default_factory=lambda: _env("SECRET_KEY", "dev-secret-please-change-0123456789abcdef"))
    ACCESS_TOKEN_EXPIRE_MINUTES: int = field(
        default_factory=lambda: int(_env("ACCESS_TOKEN_EXPIRE_MINUTES", str(60 * 24 * 8)))
    )
    # bcrypt work factor; test runs lower it (see conftest.py), production keeps 12.
    BCRYPT_ROUNDS: int = field(default_factory=lambda: int(_env("BCRYPT_ROUNDS", "12")))
    FIRST_SUPERUSER: str = field(default_factory=lambda: _env("FIRST_SUPERUSER", "gates@example.com"))
    FIRST_SUPERUSER_PASSWORD: str = field(default_factory=lambda: _env("PASSWORD", "gates-password-1"))
    BACKEND_CORS_ORIGINS: list[str] = field(default_factory=lambda: _env_list("CORS_ORIGINS", "http://localhost:5173"))
    # The buggy twin: STACK_DEFECTS=1 turns on the seeded defects (see README.md).
    DEFECTS: bool = field(default_factory=lambda: _env_flag("DEFECTS"))


settings = Settings()
