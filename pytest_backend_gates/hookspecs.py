"""Hooks that other plugins can implement to extend pytest-backend-gates.

Gates are set up before conftest.py files are imported (so that coverage can
measure them), hence `pytest_backend_gates_register_gates` is only seen from an
installed plugin (a `pytest11` entry point) or one loaded with `-p`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_backend_gates.gates import Gate
    from pytest_backend_gates.result import GateResult
    from pytest_backend_gates.service.exchange import Exchange


@pytest.hookspec
def pytest_backend_gates_register_gates(config: pytest.Config) -> list[type[Gate]] | None:
    """Return gate classes (subclasses of :class:`pytest_backend_gates.gates.Gate`) to add.

    Each class has a unique ``name``; its table ``[tool.backend-gates.<name>]``
    is read by its ``settings_parser`` (a function taking a
    :class:`pytest_backend_gates.config.Table`), with ``settings_keys`` listing
    the keys it allows. The gate then runs like a built-in one: enabled by
    ``--backend-gates`` when its table exists or by ``--backend-gates=<name>``.

    .. versionadded:: 0.1
    """


@pytest.hookspec
def pytest_backend_gates_result(config: pytest.Config, result: GateResult) -> None:
    """Called on the controller once per gate, after it was evaluated and redacted and after the
    JSON report was written (so a failing hook cannot cost the report), before the terminal summary.
    Results are for reading: changing them changes neither the report nor the exit status.

    .. versionadded:: 0.1
    """


@pytest.hookspec
def pytest_backend_gates_exchange(config: pytest.Config, exchange: Exchange) -> None:
    """Called for every HTTP response the contract gate's engine and the `api` fixture
    receive, in the process that made the request (an xdist worker under xdist).
    Gates that judge responses (security) implement it.

    .. versionadded:: 0.1
    """
