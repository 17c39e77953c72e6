"""What a validation check ends with: the input violations raised inside its hypothesis test
and how they are collected, how inputs and exceptions are written in their messages, the
summary of a check that passed, and the usage problem that fails a test without a traceback.
"""

from __future__ import annotations

import re
import sysconfig
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from hypothesis.errors import Flaky

from pytest_backend_gates.errors import UsageError
from pytest_backend_gates.location import PACKAGE_DIR

STDLIB_DIR = sysconfig.get_paths()["stdlib"]


class InputViolation(Exception):
    """One way the checked function broke its contract on one input (raised inside the hypothesis test)."""

    kind: ClassVar[str] = "validation"

    def __init__(self, value: Any, text: str, exc: BaseException | None = None) -> None:
        super().__init__(text)
        self.value = value
        self.text = text
        self.exc = exc


class ValidRejected(InputViolation):
    kind = "valid-rejected"


class InvalidAccepted(InputViolation):
    kind = "invalid-accepted"


class WrongException(InputViolation):
    kind = "wrong-exception"


class Hang(InputViolation):
    kind = "hang"


class ModelCrashed(InputViolation):
    kind = "model-crashed"


# "other": an input whose validity is unknown (accepts is a plain strategy): it may be accepted or rejected.
ADJECTIVE = {"valid": "valid", "invalid": "invalid", "unknown": "other"}
# The order findings are listed in: a valid input that crashes first.
SEVERITY = ("valid-rejected", "model-crashed", "hang", "wrong-exception", "invalid-accepted")


class StopRun(BaseException):
    """Not an Exception, so hypothesis stops at once instead of shrinking more hangs."""

    def __init__(self, finding: InputViolation) -> None:
        super().__init__(finding.text)
        self.finding = finding


class UsageProblem(UsageError):
    """Bad arguments to the fixture: one clear message, no traceback."""


@dataclass
class CheckSummary:
    """What `check` returns when the function kept its contract."""

    function: str
    accepts: str
    inputs: int
    by_kind: dict[str, int] = field(default_factory=dict)  # valid / invalid / unknown inputs tried

    def __repr__(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in self.by_kind.items())
        return f"<check {self.function}: {self.inputs} inputs ({kinds})>"


_RUN = re.compile(r"(.{1,8}?)\1{15,}", re.DOTALL)


def _compact(text: str) -> str:
    """'0v' + '1' * 4098 instead of four thousand ones: long repetitions as Python expressions."""
    match = _RUN.search(text)
    if match is None:
        return repr(text)
    unit = match.group(1)
    count = (match.end() - match.start()) // len(unit)
    parts = [repr(text[:match.start()])] if match.start() else []
    parts.append(f"{unit!r} * {count}")
    if match.start() + count * len(unit) < len(text):
        parts.append(_compact(text[match.start() + count * len(unit):]))
    return " + ".join(parts)


def show(value: Any, limit: int = 160) -> str:
    """A repr short enough for a report, repetitions written as 'A' * 4096."""
    text = _compact(value) if isinstance(value, str) and len(value) > 40 else repr(value)
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(text)} chars)"


def describe(exc: BaseException) -> str:
    """'TypeError: message (at dates.py:12 in check_order)', the place being the last frame of user code."""
    message = " ".join(str(exc).split())
    if len(message) > 200:
        message = message[:199] + "…"
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if "site-packages" not in f.filename
           and not f.filename.startswith((PACKAGE_DIR, STDLIB_DIR))]
    place = f" (at {Path(own[-1].filename).name}:{own[-1].lineno} in {own[-1].name})" if own else ""
    return f"{type(exc).__name__}{': ' + message if message else ''}{place}"


def collect_findings(test: Callable[[], None]) -> tuple[list[InputViolation], bool]:
    """Runs a hypothesis test whose failures are InputViolations: the findings (several when
    hypothesis reports distinct bugs together), and whether hypothesis called them flaky."""
    try:
        test()
    except InputViolation as finding:
        return [finding], False
    except BaseExceptionGroup as group:
        matched, _ = group.split(InputViolation)
        if matched is None:
            raise
        return list(_leaves(matched)), isinstance(group, Flaky)
    return [], False


def _leaves(group: BaseException) -> Iterator[InputViolation]:
    if isinstance(group, BaseExceptionGroup):
        for child in group.exceptions:
            yield from _leaves(child)
    elif isinstance(group, InputViolation):
        yield group


_BLOB = re.compile(r"@reproduce_failure\((.+?)\)\s+as a decorator")


def replay_blob(finding: InputViolation) -> str | None:
    for note in getattr(finding, "__notes__", ()):
        match = _BLOB.search(note)
        if match:
            return f"({match.group(1)})"
    return None
