"""pytest-django set-up for a run of the gates.

Tables and data: the migrations create the tables and the data migration 0002_seed seeds
them, so every database pytest-django migrates (the test database of `django_db` tests) has
the seeded user, its API token and the sample catalog, as the service's own database has.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def seeded(db):
    """A `django_db` test with the seed (the user gates@example.com, its API token, the sample
    catalog), whose requests through the `api` client stay inside the test's transaction."""
    from django.apps import apps

    from catalog.seed import seed

    seed(apps)  # the data migration seeded the test database already; this restores a revoked token
    yield
