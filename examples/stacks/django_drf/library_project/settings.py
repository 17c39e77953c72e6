"""Settings of the library service (Django + Django REST Framework).

Everything that differs between deployments comes from the environment:

- STACK_SECRET_KEY   Django's SECRET_KEY
- STACK_DATABASE_URL the SQLite database, `sqlite:///relative.db`, `sqlite:////absolute.db` or a plain path
                     (default: stack.db in the current directory)
- STACK_PASSWORD     password of the seeded user gates@example.com (default: gates-password-1)
- STACK_DEFECTS      "1" selects the buggy twin (the planted defects, see README.md)
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _sqlite_path(url: str) -> str:
    for prefix in ("sqlite:///", "sqlite://"):
        if url.startswith(prefix):
            url = url[len(prefix):]
            break
    path = Path(url)
    return str(path if path.is_absolute() else Path.cwd() / path)


SECRET_KEY = os.environ.get("STACK_SECRET_KEY") or "dev-secret-please-change-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
STACK_DEFECTS = os.environ.get("STACK_DEFECTS", "") == "1"
STACK_SEED_EMAIL = "gates@example.com"
STACK_PASSWORD = os.environ.get("STACK_PASSWORD") or "gates-password-1"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "catalog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "library_project.urls"
WSGI_APPLICATION = "library_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    },
]

DATABASE_PATH = _sqlite_path(os.environ.get("STACK_DATABASE_URL") or "stack.db")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATABASE_PATH,
        # Tests get a file too (test_stack.db next to it), not Django's default in-memory
        # database: that one is shared between threads through SQLite's shared cache, whose
        # table locks fail at once ("database table is locked") instead of waiting like a file.
        "TEST": {"NAME": str(Path(DATABASE_PATH).with_name("test_" + Path(DATABASE_PATH).name))},
        "OPTIONS": {
            # Threads of one process (and several processes) share the file: wait for the
            # write lock instead of failing at once, and take it when a transaction starts,
            # so a read transaction never has to upgrade (SQLITE_BUSY without waiting).
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
CONN_MAX_AGE = 60  # keep a connection per thread between requests
CONN_HEALTH_CHECKS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "catalog.pagination.LibraryPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "library_project.schema.LibraryAutoSchema",
    "EXCEPTION_HANDLER": "library_project.errors.api_exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Library API",
    "DESCRIPTION": "Authors, books, reviews and tags. Send `Authorization: Token <key>` "
                   "(POST /api/auth/login/ gives a key).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components: read-only fields (id, created_at) are
    # not part of what a client sends.
    "COMPONENT_SPLIT_REQUEST": True,
    # Document DRF's TokenAuthentication (components.securitySchemes.tokenAuth, an apiKey in the
    # Authorization header) on every operation whose view authenticates.
    "AUTHENTICATION_WHITELIST": ["rest_framework.authentication.TokenAuthentication"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")}},
}
