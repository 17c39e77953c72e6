"""Pytest items that gates add to the session (`backend-gates::contract[GET /items]`, ...).

They belong to no test file: one parent collector, and a failure rendered as the
gate's own text (violations with their reproductions), not as a Python traceback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import pytest

from pytest_backend_gates.gates.base import GateContext
from pytest_backend_gates.result import Violation
from pytest_backend_gates.service.django_db import django_database_in_use
from pytest_backend_gates.text import indent_lines


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


# What pytest's -k grammar takes in one identifier (_pytest/mark/expression.py), less the backslash.
_NOT_IN_IDENT = re.compile(r"[^\w:+\-.\[\]/]")


def keyword(name: str) -> str:
    """A -k identifier pytest accepts that selects the gate item named `name` alone:
    `contract[GET /items/{item_id}]` -> `contract[GET_/items/:item_id]`. (A node id cannot be
    given as an argument: the items belong to no file; `-k "GET /ratio"` is a syntax error.)
    It starts with the gate's kind and `[` and ends with `]`, so it is no other item's substring."""
    return _NOT_IN_IDENT.sub("_", name.replace(" ", "_").replace("{", ":").replace("}", ""))


def _gate_item() -> None:
    """The callable behind every gate item; their `runtest` runs the gate instead."""


class GateItem(pytest.Function):
    """A pytest Function, so that fixtures and plugins treat it as a test: under pytest-django
    its requests reach the test database as a `django_db(transaction=True)` test's would."""

    # What reportinfo shows before the label, e.g. "contract".
    kind_name = "backend-gates"

    def __init__(self, *, label: str, nodeid: str | None = None, **kwargs: Any) -> None:
        # `nodeid` is parent::name, which is what explicit ids used to spell out.
        kwargs.setdefault("callobj", _gate_item)
        super().__init__(**kwargs)
        assert nodeid is None or nodeid == self.nodeid, (nodeid, self.nodeid)
        # pytest >= 9 matches structured ids (--lf, xdist) and reads the "[...]" of a stored
        # "backend-gates::contract[GET /items]" as parameters; a Function named so without a
        # callspec gets an id that never matches it. Its id must be what the text parses to.
        structured = getattr(self, "_id", None)
        if structured is not None and hasattr(type(structured), "parse"):
            self._id = type(structured).parse(self.nodeid)
        self.label = label
        self.extra_keyword_matches.add(keyword(self.name))  # what a printed `-k` replay command selects
        if django_database_in_use(self.config):
            # The app's real database is not the one a pytest-django run may touch; the
            # seed data of migrations is put back after each item, as between server restarts.
            self.add_marker(pytest.mark.django_db(transaction=True, serialized_rollback=True))

    def runtest(self) -> None:
        raise NotImplementedError

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, GateItemFailure):
            return excinfo.value.text
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.kind_name}: {self.label}"


def split_accepted(context: GateContext, gate: str, violations: Iterable[Mapping[str, Any]],
                   as_violation: Callable[[Mapping[str, Any]], Violation]) -> tuple[list[Mapping[str, Any]], int]:
    """The violations an item found that the baseline or an `ignore` entry does not accept, and
    how many it does: an item whose findings are all accepted passes, as its gate will.
    `as_violation` builds the Violation the gate will report for one (same message: same fingerprint)."""
    redact = context.config.redactor.redact
    new, accepted = [], 0
    for found in violations:
        violation = as_violation(found)
        violation = replace(violation, where=redact(violation.where), message=redact(violation.message))
        if context.accepted(gate, violation) is None:
            new.append(found)
        else:
            accepted += 1
    return new, accepted


def accepted_line(count: int) -> list[str]:
    return [f"({count} more accepted by the baseline or an ignore entry)"] if count else []


def problem_lines(violations: Iterable[Mapping[str, Any]], errors: Iterable[str] = (),
                  check_key: str = "check") -> list[str]:
    """One line per violation ("WHERE [check]: message" and its reproduction), then the errors."""
    lines = []
    for v in violations:
        lines.append(f"{v['where']} [{v[check_key]}]: {v['message']}")
        if v.get("reproduce"):
            lines.append(f"    reproduce: {indent_lines(v['reproduce'])}")
    return lines + [f"error: {e}" for e in errors]
