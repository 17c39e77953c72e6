"""pytest-backend-gates: the checks a senior backend engineer does by hand, as CI gates."""

from .gates import Gate, GateContext
from .result import GateResult, Status, Violation

__version__ = "0.1.0"
__all__ = ["Gate", "GateContext", "GateResult", "Status", "Violation", "__version__"]
