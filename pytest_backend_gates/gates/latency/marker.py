"""The latency_budget marker: its arguments parsed into budgets, and the plan of one test's measurement."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pytest_backend_gates import limits
from pytest_backend_gates.budget import Budget, BudgetError, parse_budget
from pytest_backend_gates.errors import UsageError

MARKER = "latency_budget"


class LatencyConfigError(UsageError):
    """Bad marker arguments; the message names the value and what is allowed."""


@dataclass(frozen=True)
class Plan:
    """What to measure for one test: its budgets (marker + config) and how many samples."""

    budgets: tuple[Budget, ...]
    samples: int


def _marker_signature(*budgets: str, samples: int | None = None) -> tuple[tuple[str, ...], int | None]:
    return budgets, samples


def parse_marker(mark: pytest.Mark) -> tuple[tuple[Budget, ...], int | None]:
    """The budgets and `samples` of a latency_budget marker; LatencyConfigError names what is wrong."""
    shown = "@pytest.mark.latency_budget(" + ", ".join(
        [repr(a) for a in mark.args] + [f"{k}={v!r}" for k, v in mark.kwargs.items()]) + ")"
    try:
        texts, samples = _marker_signature(*mark.args, **mark.kwargs)
    except TypeError as exc:
        raise LatencyConfigError(f"{shown}: {exc}; expected budget strings such as 'p95 < 20ms' "
                                 "and optionally samples=N") from None
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int)
                                or not 1 <= samples <= limits.MAX_SAMPLES):
        raise LatencyConfigError(f"{shown}: samples={samples!r} is not allowed; expected an integer from 1 to "
                                 f"{limits.MAX_SAMPLES}")
    budgets: list[Budget] = []
    for text in texts:
        try:
            budget = parse_budget(text)
        except BudgetError as exc:
            reason = str(exc).removeprefix(f"{text.strip()!r}: ") if isinstance(text, str) else str(exc)
            raise LatencyConfigError(f"{shown}: {reason}") from None
        if budget.kind != "time":
            raise LatencyConfigError(f"{shown}: {budget.render()!r} is not a latency budget; expected a time metric "
                                     "(min, max, mean, median or pNN) such as 'p95 < 20ms'")
        budgets.append(budget)
    return tuple(budgets), samples
