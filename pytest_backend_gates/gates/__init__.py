"""The gates: one package each (contract, security, ...), the interface they implement (base.py),
the one table of built-in gates (registry.py), and what several gates build on (items.py: gate
items; test_attributed.py: gates fed by tests; response_rules.py: the rules that judge an HTTP
answer). A gate never imports another gate, the run or the wiring (checked by import-linter)."""

from __future__ import annotations

from pytest_backend_gates.gates.base import Gate, GateContext

__all__ = ["Gate", "GateContext"]
