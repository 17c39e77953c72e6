"""Django through pytest-django: where the gates' in-process requests find a database.

pytest-django refuses database access outside `django_db` tests and gives those tests a
test database. Gate items are such tests (items.py); the measurements taken before any
test runs (latency operation budgets, load) get a test database of their own for their
duration, made and dropped the way pytest-django makes one, never the app's real database.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def django_database_in_use(config: pytest.Config) -> bool:
    """pytest-django is active with Django configured: database access outside a `django_db`
    test is refused, so the gates' in-process requests must be such tests."""
    if not config.pluginmanager.hasplugin("django"):
        return False
    conf = sys.modules.get("django.conf")
    return conf is not None and bool(getattr(conf.settings, "configured", False))


@contextmanager
def database_outside_tests(config: pytest.Config) -> Iterator[None]:
    """Database access for requests sent outside any test (before the tests run): under
    pytest-django, a migrated test database for the time of the block; otherwise nothing."""
    if not django_database_in_use(config):
        yield
        return
    from django.test.utils import setup_databases, teardown_databases

    with _blocker(config).unblock():
        databases = setup_databases(verbosity=0, interactive=False, keepdb=False)
        try:
            yield
        finally:
            teardown_databases(databases, verbosity=0)


def _blocker(config: pytest.Config) -> Any:
    from pytest_django import plugin

    key = getattr(plugin, "blocking_manager_key", None)  # pytest-django >= 4.7
    blocker = config.stash[key] if key is not None and key in config.stash else getattr(plugin, "_blocking_manager")
    return blocker
