"""The race gate's fixture: `race`."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_backend_gates.config import gates_config_of
from pytest_backend_gates.settings import RaceSettings


@pytest.fixture
def race(request: pytest.FixtureRequest) -> Any:
    """`race.run(fn, *args, threads=8, rounds=20, **kwargs)`: `fn` in many threads at once, many times."""
    # Imported when a test asks for the fixture: this module is registered in every run, passive ones too.
    from pytest_backend_gates.gates.race.session import race_for_item

    try:
        settings = gates_config_of(request.config).get(RaceSettings)
    except pytest.UsageError as exc:
        pytest.fail(str(exc), pytrace=False)
    gate = request.config.pluginmanager.get_plugin("backend-gates-race")
    item = request.node
    assert isinstance(item, pytest.Item)
    return race_for_item(item, settings, gate.on_probe(item) if gate is not None else None, gated=gate is not None)
