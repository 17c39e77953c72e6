"""pytest-backend-gates: the checks a senior backend engineer does by hand, as CI gates."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_backend_gates.gates import Gate, GateContext
    from pytest_backend_gates.result import GateResult, Status, Violation

__version__ = "0.1.0"
__all__ = ["Gate", "GateContext", "GateResult", "Status", "Violation", "__version__"]

# Imported on first use, so that loading the plugin (passive runs) stays cheap.
_EXPORTS = {
    "Gate": ".gates",
    "GateContext": ".gates",
    "GateResult": ".result",
    "Status": ".result",
    "Violation": ".result",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
