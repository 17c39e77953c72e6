"""Settings, read from the environment when the app is built (12-factor style)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

DEFAULT_SECRET_KEY = "dev-secret-please-change-0123456789abcdef"  # 32+ bytes: PyJWT warns on shorter HMAC keys
DEFAULT_PASSWORD = "gates-password-1"
SEED_EMAIL = "gates@example.com"

# The largest id a path or a body may name: SQLite stores integers in 64 bits and
# Python's sqlite3 raises OverflowError beyond that, so ids are bounded at the edge.
MAX_ID = 2**31 - 1


def defects_enabled() -> bool:
    """STACK_DEFECTS=1 selects the buggy twin (see the comments marked DEFECT in the package)."""
    return os.environ.get("STACK_DEFECTS", "").strip() == "1"


# Read once at import, like every other setting: schemas are module-level classes.
DEFECTS = defects_enabled()


def database_url() -> str:
    """STACK_DATABASE_URL, or the file stack.db in the current directory.

    Flask-SQLAlchemy resolves a relative SQLite path against the app's instance
    folder; a relative path here is meant relative to the current directory, so
    it is made absolute first.
    """
    url = os.environ.get("STACK_DATABASE_URL", "").strip() or "sqlite:///stack.db"
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        url = prefix + str(Path.cwd() / url[len(prefix):])
    return url


def load_config() -> dict[str, Any]:
    return {
        "API_TITLE": "Stores REST API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/swagger-ui",
        "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        "API_SPEC_OPTIONS": {
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            },
            # Every operation needs a bearer token unless it says otherwise (security: []).
            "security": [{"bearerAuth": []}],
        },
        "SQLALCHEMY_DATABASE_URI": database_url(),
        "SQLALCHEMY_ENGINE_OPTIONS": {
            # Threads of one process share the pool; wait up to 30 s for SQLite's write lock.
            "connect_args": {"check_same_thread": False, "timeout": 30},
        },
        "JWT_SECRET_KEY": os.environ.get("STACK_SECRET_KEY", "").strip() or DEFAULT_SECRET_KEY,
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=int(os.environ.get("STACK_ACCESS_TOKEN_MINUTES", "60"))),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(days=30),
        "STACK_PASSWORD": os.environ.get("STACK_PASSWORD", "") or DEFAULT_PASSWORD,
        "STACK_DEFECTS": DEFECTS,
    }
