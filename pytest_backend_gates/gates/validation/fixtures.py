"""The validation gate's fixture: `input_validation`."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_backend_gates.config import gates_config_of
from pytest_backend_gates.settings import ValidationSettings


@pytest.fixture
def input_validation(request: pytest.FixtureRequest) -> Any:
    """`input_validation.check(fn, accepts=..., rejects=(ValueError,))`: valid inputs must be accepted,
    invalid and hostile ones must raise one of `rejects`; `check_endpoint("POST /items")` for an API
    operation. See docs/validation.md."""
    # Imported when a test uses the fixture: check.py loads hypothesis, which a run without
    # validation tests does not need (this module is registered in every run).
    from pytest_backend_gates.gates.validation.check import InputValidation

    try:
        gates_config = gates_config_of(request.config)
    except pytest.UsageError as exc:
        pytest.fail(str(exc), pytrace=False)
    gate = request.config.pluginmanager.get_plugin("backend-gates-validation")
    return InputValidation(request, gates_config.get(ValidationSettings) or ValidationSettings(), gate, gates_config)
