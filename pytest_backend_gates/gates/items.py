"""Pytest items that gates add to the session (`backend-gates::contract[GET /items]`, ...).

They belong to no test file: one parent collector, and a failure rendered as the
gate's own text (violations with their reproductions), not as a Python traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest


class GateItemFailure(Exception):
    """Raised by a gate item's runtest; its text is the whole failure report."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class GateSuite(pytest.Collector):
    """Parent node of the items gates add."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        return []


def gate_suite(session: pytest.Session) -> GateSuite:
    return GateSuite.from_parent(session, name="backend-gates", nodeid="backend-gates")


class GateItem(pytest.Item):
    # What reportinfo shows before the label, e.g. "contract".
    kind_name = "backend-gates"

    def __init__(self, *, label: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = label

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, GateItemFailure):
            return excinfo.value.text
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.kind_name}: {self.label}"


def problem_lines(violations: Iterable[Mapping[str, Any]], errors: Iterable[str] = (),
                  check_key: str = "check") -> list[str]:
    """One line per violation ("WHERE [check]: message" and its reproduction), then the errors."""
    lines = []
    for v in violations:
        lines.append(f"{v['where']} [{v[check_key]}]: {v['message']}")
        if v.get("reproduce"):
            lines.append(f"    reproduce: {v['reproduce']}")
    return lines + [f"error: {e}" for e in errors]
