"""The `api` fixture: a client of the service under test, for the project's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_backend_gates.config import gates_config_of
from pytest_backend_gates.settings import ContractSettings


@pytest.fixture(scope="session")
def api(pytestconfig: pytest.Config) -> Iterator[Any]:
    """An httpx-style client bound to [tool.backend-gates.contract]'s app or base_url, acting as
    the default identity; `api.as_("bob")` acts as another."""
    # Imported here: this module is registered in every run, passive ones too (httpx, the client).
    from pytest_backend_gates.service.client import open_client
    from pytest_backend_gates.service.exchange import publisher
    from pytest_backend_gates.service.identities import identity_session
    from pytest_backend_gates.service.target import TargetError

    try:
        settings = gates_config_of(pytestconfig).get(ContractSettings)
    except pytest.UsageError as exc:
        pytest.fail(str(exc), pytrace=False)
    if settings is None:
        pytest.fail("the api fixture needs a [tool.backend-gates.contract] table with app or base_url "
                    "in pyproject.toml", pytrace=False)
    problem = None
    try:
        identities = identity_session(pytestconfig, gates_config_of(pytestconfig))
        with open_client(settings, publisher(pytestconfig), pytestconfig.rootpath, identities) as client:
            yield client
    except TargetError as exc:
        problem = str(exc)
    if problem is not None:  # outside the handler: the message alone, not "During handling of ..."
        pytest.fail(f"api fixture: [tool.backend-gates.contract] {problem}", pytrace=False)
