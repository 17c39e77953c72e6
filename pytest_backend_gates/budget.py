"""Performance budgets: parse and check expressions such as ``p95 < 50ms``.

Grammar: ``METRIC OP VALUE`` where METRIC is min, max, mean, median, pNN
(e.g. p95, p99.9), rps or failures; OP is <, <=, > or >=; VALUE is a duration
(ns, us, ms, s) for time metrics, a percentage for failures and a plain number
for rps. Values are finite and at least 0; a duration is at most 24 hours, a
percentage at most 100%, rps at most 10 000 000 (limits.py).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from pytest_backend_gates.errors import UsageError
from pytest_backend_gates.limits import MAX_BUDGET_RPS, MAX_BUDGET_TIME

__all__ = [
    "Budget", "BudgetCheck", "BudgetError", "compute_metric", "format_duration", "parse_budget", "parse_duration",
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_TIME_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}  # units per second, largest first
_UNIT_ALIASES = {"µs": "us", "μs": "us"}  # micro sign and Greek mu
_NAMED_PERCENTILES: dict[str, float | None] = {"min": 0.0, "max": 100.0, "mean": None, "median": 50.0}
_METRICS_HELP = "expected min, max, mean, median, pNN (e.g. p95, p99.9), rps or failures"
_OPS_HELP = "expected <, <=, > or >="
_EXPECTS = {"time": "a duration such as '50ms' or '0.2s'", "percent": "a percentage such as '1%'",
            "rate": "a plain number such as '50'"}

_SPLIT = re.compile(r"(?P<metric>[^\s<>=!~]*)\s*(?P<op>[<>=!~]*)\s*(?P<value>.*)", re.DOTALL)
_VALUE = re.compile(r"(?P<sign>[+-]?)(?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*(?P<unit>\S*)")
_PERCENTILE = re.compile(r"p([0-9]+(?:\.[0-9]+)?)")


class BudgetError(UsageError, ValueError):
    """A budget expression or field is invalid; ``str(exc)`` says what to fix."""


def _fmt(x: float) -> str:
    """Shortest text that parses back to exactly ``x``, without a trailing '.0'."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _plain(x: float) -> str:
    """Like :func:`_fmt` but never in exponent notation (for percentile names)."""
    text = format(Decimal(repr(float(x))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _metric_info(name: str) -> tuple[str, str]:
    """Return (canonical name, kind) of a metric; raise BudgetError naming the problem."""
    key = name.lower()
    if key in _NAMED_PERCENTILES:
        return key, "time"
    if key in ("rps", "failures"):
        return key, "rate" if key == "rps" else "percent"
    match = _PERCENTILE.fullmatch(key)
    if match is None:
        raise BudgetError(f"unknown metric {name!r}; {_METRICS_HELP}")
    percentile = float(match[1])
    if not 0 < percentile <= 100:
        raise BudgetError(f"percentile {name!r} must be above 0 and at most 100")
    return "p" + _plain(percentile), "time"


def _percentile_of(metric: str) -> float | None:
    """Percentile of a canonical metric name (min is 0, max is 100), or None."""
    if metric in _NAMED_PERCENTILES:
        return _NAMED_PERCENTILES[metric]
    return float(metric[1:]) if metric.startswith("p") else None


def _check_amount(metric: str, kind: str, amount: float, unit: str, shown: str, budget: bool = True) -> None:
    """Raise BudgetError if ``amount``/``unit`` (written as ``shown``) do not suit the metric; `budget`: also
    the upper bounds of values in a budget (a plain duration's range is its setting's)."""
    if kind == "time" and unit not in _TIME_UNITS:
        if unit == "":
            raise BudgetError(f"{shown!r} has no unit; expected {_EXPECTS[kind]}")
        if unit == "%":
            raise BudgetError(f"{shown!r} is a percentage; expected {_EXPECTS[kind]}")
        raise BudgetError(f"unknown unit {unit!r} in {shown!r}; expected ns, us, ms or s")
    if (kind == "percent" and unit != "%") or (kind == "rate" and unit != ""):
        raise BudgetError(f"{metric} takes {_EXPECTS[kind]}, not {shown!r}")
    if not math.isfinite(amount):
        raise BudgetError(f"{shown!r} is not a finite number")
    if amount < 0:
        raise BudgetError(f"{shown!r} is negative; expected a value of at least 0")
    if kind == "percent" and amount > 100:
        raise BudgetError(f"{shown!r} is above 100%; failures must be between 0% and 100%")
    if budget and kind == "time" and amount / _TIME_UNITS[unit] > MAX_BUDGET_TIME:
        raise BudgetError(f"{shown!r} is out of range; a duration in a budget is at most {MAX_BUDGET_TIME:g}s (24 hours)")
    if kind == "rate" and amount > MAX_BUDGET_RPS:
        raise BudgetError(f"{shown!r} is out of range; rps is at most {MAX_BUDGET_RPS:.0f}")


@dataclass(frozen=True)
class Budget:
    """One parsed budget such as ``p95 < 50ms``; build it with :func:`parse_budget`."""

    metric: str  # canonical: 'min', 'max', 'mean', 'median', 'p95', 'p99.9', 'rps', 'failures'
    op: str  # '<', '<=', '>', '>='
    amount: float  # the number as written, in ``unit``
    unit: str  # 'ns', 'us', 'ms', 's', '%', or '' for rps

    def __post_init__(self) -> None:
        canonical, kind = _metric_info(self.metric)
        if canonical != self.metric:
            raise BudgetError(f"metric {self.metric!r} is not canonical; use {canonical!r}")
        if self.op not in _OPS:
            raise BudgetError(f"unknown operator {self.op!r}; {_OPS_HELP}")
        if isinstance(self.amount, bool) or not isinstance(self.amount, (int, float)):
            raise BudgetError(f"amount must be a number, not {type(self.amount).__name__}")
        object.__setattr__(self, "amount", float(self.amount) + 0.0)  # int -> float, -0.0 -> 0.0
        _check_amount(self.metric, kind, self.amount, self.unit, f"{_fmt(self.amount)}{self.unit}")

    @property
    def kind(self) -> str:
        """'time', 'percent' or 'rate'."""
        return _metric_info(self.metric)[1]

    @property
    def value(self) -> float:
        """The amount in base units: seconds, percent (0-100) or requests per second."""
        return self.amount / _TIME_UNITS[self.unit] if self.kind == "time" else self.amount

    @property
    def percentile(self) -> float | None:
        """95.0 for p95, 50.0 for median, 100.0 for max, 0.0 for min, else None."""
        return _percentile_of(self.metric)

    def render(self) -> str:
        """Canonical text; ``parse_budget(b.render()) == b``."""
        return f"{self.metric} {self.op} {_fmt(self.amount)}{self.unit}"

    def check(self, measured: float) -> BudgetCheck:
        """Compare a measurement in base units against this budget."""
        return BudgetCheck(self, float(measured), _OPS[self.op](measured, self.value))


@dataclass(frozen=True)
class BudgetCheck:
    """The outcome of :meth:`Budget.check`."""

    budget: Budget
    measured: float
    ok: bool

    def describe(self) -> str:
        """E.g. 'p95 = 72.1ms, budget < 50ms (44% over)'."""
        budget, measured = self.budget, self.measured
        if budget.kind == "time":
            shown = format_duration(measured)
        else:
            shown = _sig3(measured) + ("%" if budget.kind == "percent" else "")
        text = f"{budget.metric} = {shown}, budget {budget.op} {_fmt(budget.amount)}{budget.unit}"
        if self.ok:
            return text
        word = "over" if budget.op in ("<", "<=") else "under"
        if budget.value == 0 or not math.isfinite(measured):
            return f"{text} ({word})"
        pct = abs(measured - budget.value) / budget.value * 100
        return f"{text} ({pct:.0f}% {word})" if pct >= 1 else f"{text} ({pct:.2g}% {word})"


def _sig3(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 or not math.isfinite(x) else f"{x:.0f}"


def parse_budget(text: str) -> Budget:
    """Parse ``METRIC OP VALUE`` (e.g. ``'p95 < 50ms'``); raise BudgetError if invalid."""
    if not isinstance(text, str):
        raise BudgetError(f"budget must be a string such as 'p95 < 50ms', not {type(text).__name__}")
    expr = text.strip()
    if not expr:
        raise BudgetError("empty budget; expected e.g. 'p95 < 50ms'")
    parts = _SPLIT.fullmatch(expr)
    assert parts is not None  # every string matches
    metric_text, op, value_text = parts["metric"], parts["op"], parts["value"]
    try:
        if not metric_text:
            raise BudgetError(f"missing metric; {_METRICS_HELP}")
        metric, kind = _metric_info(metric_text)
        if op not in _OPS:
            raise BudgetError(f"unknown operator {op!r}; {_OPS_HELP}" if op else
                              f"missing operator after {metric_text!r}; {_OPS_HELP}")
        if not value_text:
            raise BudgetError(f"missing value after {op!r}; expected {_EXPECTS[kind]}")
        amount, unit = _parse_amount(value_text, metric, kind)
    except BudgetError as exc:
        raise BudgetError(f"{expr!r}: {exc}") from None
    return Budget(metric, op, amount, unit)


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``'50ms'`` or ``'0.2s'``; raise BudgetError if invalid."""
    if not isinstance(text, str):
        raise BudgetError(f"duration must be a string such as '50ms', not {type(text).__name__}")
    amount, unit = _parse_amount(text.strip(), "duration", "time", budget=False)
    return amount / _TIME_UNITS[unit]


def _parse_amount(value_text: str, metric: str, kind: str, budget: bool = True) -> tuple[float, str]:
    """Split a VALUE such as '50ms' into (amount, canonical unit), checking it suits the metric."""
    number = _VALUE.fullmatch(value_text)
    if number is None and kind == "time":
        raise BudgetError(f"{value_text!r} is not a duration; expected e.g. '50ms', '0.2s'")
    if number is None:
        raise BudgetError(f"{metric} takes {_EXPECTS[kind]}, not {value_text!r}")
    if number["sign"] == "-":
        raise BudgetError(f"{value_text!r} is negative; expected a value of at least 0")
    amount, unit = float(number["num"]), _UNIT_ALIASES.get(number["unit"], number["unit"])
    _check_amount(metric, kind, amount, unit, value_text, budget)
    return amount, unit


def format_duration(seconds: float) -> str:
    """Human-readable duration with 3 significant digits: '72.1ms', '1.25s', '300us'."""
    if not math.isfinite(seconds):
        return str(float(seconds))
    if seconds == 0:
        return "0s"
    rounded = float(f"{seconds:.3g}")  # round first so 0.9996s becomes '1s', not '1000ms'
    if abs(rounded) >= 1000:
        return f"{rounded:.0f}s"
    for unit, per_second in _TIME_UNITS.items():  # s, ms, us, ns; falls through to ns
        if abs(rounded) * per_second >= 1:
            break
    return f"{rounded * per_second:.3g}{unit}"


def compute_metric(metric: str, samples: Sequence[float]) -> float:
    """min/max/mean/median/pNN of raw samples in seconds (numpy's 'linear' percentiles)."""
    name, kind = _metric_info(metric)
    if kind != "time":
        raise ValueError(f"{metric!r} is not a time metric; expected min, max, mean, median or pNN")
    data = sorted(float(x) for x in samples)
    if not data:
        raise ValueError(f"cannot compute {name} of no samples")
    if any(math.isnan(x) for x in data):
        raise ValueError(f"cannot compute {name}: samples contain NaN")
    if name == "mean":
        return min(max(math.fsum(data) / len(data), data[0]), data[-1])
    percentile = _percentile_of(name)
    assert percentile is not None
    rank = (len(data) - 1) * percentile / 100
    low = min(math.floor(rank), len(data) - 1)
    fraction = rank - low
    if fraction == 0 or low + 1 >= len(data) or data[low] == data[low + 1]:
        return data[low]
    below, above = data[low], data[low + 1]
    return min(max(below + (above - below) * fraction, below), above)
