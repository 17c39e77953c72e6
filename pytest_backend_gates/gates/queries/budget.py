"""Query budgets: `max` statements in all, no statement shape more than `repeats` times (N+1).

Used by the `query_budget` marker and the per-request count of the queries gate (both in
gates/queries/gate.py) and by the `query_counter` fixture (`QueryCounter`, below).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pytest_backend_gates.errors import UsageError
from pytest_backend_gates.gates.queries.capture import WatchError, counting, watch
from pytest_backend_gates.gates.queries.statements import (
    QueryLog,
    ShapeGroup,
    shape_key,
    shorten,
)
from pytest_backend_gates.limits import MAX_QUERIES

SHAPES_SHOWN = 10
STATEMENTS_SHOWN = 15
LINE_LIMIT = 160


class QueryUsageError(UsageError):
    """A marker or fixture argument that is not a budget; the message names it and what is allowed."""


@dataclass(frozen=True)
class QueryBudget:
    max: int | None = None
    repeats: int | None = None

    def describe(self) -> str:
        parts = [f"max={self.max}"] if self.max is not None else []
        parts += [f"repeats={self.repeats}"] if self.repeats is not None else []
        return ", ".join(parts)


@dataclass(frozen=True)
class Problem:
    check: str  # "query-count" or "n-plus-one"
    text: str  # one line


def check_count(value: Any, name: str, source: str, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_QUERIES:
        raise QueryUsageError(f"{source}: {name}={value!r} is not allowed; expected an integer from {minimum} to "
                              f"{MAX_QUERIES} (or None for no limit)")
    return value


def marker_budget(marker: Any, defaults: QueryBudget) -> QueryBudget:
    """@pytest.mark.query_budget(max=None, repeats=None), validated with its real signature; a value not
    given comes from [tool.backend-gates.queries] (max_per_request, max_repeats)."""
    shown = ", ".join([*(repr(a) for a in marker.args), *(f"{k}={v!r}" for k, v in marker.kwargs.items())])
    source = f"@pytest.mark.query_budget({shown})"
    unknown = [key for key in marker.kwargs if key not in ("max", "repeats")]
    if unknown:
        hint = difflib.get_close_matches(unknown[0], ["max", "repeats"], n=1)
        raise QueryUsageError(f"{source}: unknown argument {unknown[0]!r}; "
                              f"{f'did you mean {hint[0]!r}? ' if hint else ''}allowed: max, repeats")
    if len(marker.args) > 2 or (len(marker.args) == 2 and marker.kwargs) or \
            (len(marker.args) == 1 and "max" in marker.kwargs):
        raise QueryUsageError(f"{source}: too many arguments; expected query_budget(max=None, repeats=None)")
    values = dict(zip(("max", "repeats"), marker.args, strict=False)) | dict(marker.kwargs)
    given_max = check_count(values.get("max"), "max", source, 0)
    given_repeats = check_count(values.get("repeats"), "repeats", source, 1)
    budget = QueryBudget(
        max=given_max if "max" in values else defaults.max,
        repeats=given_repeats if "repeats" in values else defaults.repeats,
    )
    if budget.max is None and budget.repeats is None:
        raise QueryUsageError(f"{source}: no budget: give max= and/or repeats=, or set max_per_request / "
                              "max_repeats in [tool.backend-gates.queries]")
    return budget


def judge(log: QueryLog, budget: QueryBudget) -> list[Problem]:
    problems = []
    if budget.max is not None and log.count > budget.max:
        problems.append(Problem("query-count", f"{log.count} SQL statements; budget max={budget.max}"))
    if budget.repeats is not None:
        for group in log.groups():
            if group.count <= budget.repeats:
                break
            where = f" (from {group.origin})" if group.origin else ""
            problems.append(Problem("n-plus-one", f"N+1: `{shorten(group.shape, LINE_LIMIT)}` ran {group.count} "
                                                  f"times{where}; budget repeats={budget.repeats}"))
    return problems


def describe_statements(log: QueryLog, statements_shown: int = STATEMENTS_SHOWN) -> list[str]:
    """Shape groups with their counts, then the first statements, numbered; truncated sensibly."""
    groups = log.groups()
    if not groups:
        return ["no SQL statement was counted"]
    lines = [f"statements by shape ({log.count} in {len(groups)} shape{'s' if len(groups) != 1 else ''}):"]
    width = len(str(groups[0].count))
    for group in groups[:SHAPES_SHOWN]:
        origin = f"   [{group.origin}]" if group.origin else ""
        lines.append(f"  {group.count:>{width}}x {shorten(group.shape, LINE_LIMIT)}{origin}")
    if len(groups) > SHAPES_SHOWN:
        rest = groups[SHAPES_SHOWN:]
        lines.append(f"  ... {len(rest)} more shapes ({sum(g.count for g in rest)} statements)")
    lines.append("statements in order (a run of one shape on one line):")
    runs: list[list[Any]] = []  # [first number, last number, statement]
    for number, statement in enumerate(log.entries, start=1):
        if runs and shape_key(runs[-1][2].shape) == shape_key(statement.shape):
            runs[-1][1] = number
        else:
            runs.append([number, number, statement])
    width = len(f"{runs[min(len(runs), statements_shown) - 1][0]}-{runs[min(len(runs), statements_shown) - 1][1]}")
    for first, last, statement in runs[:statements_shown]:
        label = f"{first}" if first == last else f"{first}-{last}"
        repeat = "" if first == last else f"({last - first + 1}x) "
        lines.append(f"  {label:>{width}}. {repeat}{shorten(' '.join(statement.sql.split()), LINE_LIMIT)}")
    shown = runs[min(len(runs), statements_shown) - 1][1]
    if log.count > shown:
        lines.append(f"  ... {log.count - shown} more")
    return lines


def failure_message(head: str, problems: list[Problem], log: QueryLog) -> str:
    return "\n".join([head, *(f"  {p.text}" for p in problems), *describe_statements(log)])


def log_summary(log: QueryLog) -> dict[str, Any]:
    """Execnet-serialisable figures of one counted window or request."""
    groups = log.groups()
    top: ShapeGroup | None = groups[0] if groups else None
    return {"statements": log.count, "shapes": len(groups),
            "top_shape": shorten(top.shape, LINE_LIMIT) if top else None, "top_repeats": top.count if top else 0}


class QueryBudgetExceeded(AssertionError):
    """`query_counter.assert_max(...)` failed; `problems` says how (the gate's violation)."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


class QueryCounter:
    """The `query_counter` fixture: `with query_counter:` or `with query_counter() as q:`.

    `.count`, `.statements` (the SQL text, in order), `.groups()` (by shape) and
    `.assert_max(n, repeats=None)`; only statements executed inside the block count
    (any thread of the process). `.watch(conn)` adds a connection opened earlier.
    """

    def __init__(self, project_root: str | None = None,
                 on_block: Callable[[QueryLog], None] | None = None) -> None:
        self._project_root = project_root
        self._on_block = on_block
        self._log = QueryLog(project_root)
        self._open: Any = None
        self._unwatch: list[Callable[[], None]] = []

    def __call__(self) -> QueryCounter:
        """A fresh counter for one block: `with query_counter() as q:`."""
        counter = QueryCounter(self._project_root, self._on_block)
        counter._unwatch = self._unwatch  # watched connections stay watched until the test ends
        return counter

    def __enter__(self) -> QueryCounter:
        if self._open is not None:
            raise RuntimeError("query_counter: this block is already counting; use `with query_counter() as q:` "
                               "for a nested block")
        self._log = QueryLog(self._project_root)
        self._open = counting(self._log)
        self._open.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        opened, self._open = self._open, None
        if opened is not None:
            opened.__exit__(None, None, None)
            if self._on_block is not None:
                self._on_block(self._log)

    @property
    def count(self) -> int:
        return self._log.count

    @property
    def statements(self) -> list[str]:
        return [statement.sql for statement in self._log.entries]

    @property
    def log(self) -> QueryLog:
        return self._log

    def groups(self) -> list[ShapeGroup]:
        return self._log.groups()

    def assert_max(self, n: int | None = None, *, repeats: int | None = None) -> None:
        """Fail when the block ran more than `n` statements, or a statement shape more than `repeats` times."""
        __tracebackhide__ = True
        source = "query_counter.assert_max"
        import pytest

        try:
            budget = QueryBudget(max=check_count(n, "n", source, 0), repeats=check_count(repeats, "repeats", source, 1))
            problem = None if budget.max is not None or budget.repeats is not None else \
                f"{source}(): give n and/or repeats"
        except QueryUsageError as exc:
            problem = str(exc)
        if problem is not None:
            pytest.fail(problem, pytrace=False)
        problems = judge(self._log, budget)
        if problems:
            raise QueryBudgetExceeded(failure_message(f"query budget exceeded ({budget.describe()}):",
                                                      problems, self._log), problems)

    def watch(self, connection: Any) -> Any:
        """Also count `connection` (opened before counting started); returns it."""
        __tracebackhide__ = True
        try:
            self._unwatch.append(watch(connection))
            return connection
        except WatchError as exc:
            problem = f"query_counter.watch(): {exc}"
        import pytest

        pytest.fail(problem, pytrace=False)

    def close(self) -> None:
        """At the fixture's teardown: stop counting and give back watched connections."""
        if self._open is not None:
            self.__exit__(None, None, None)
        while self._unwatch:
            self._unwatch.pop()()
