"""Typed access to one TOML table of `[tool.backend-gates]`: every reader of a key checks its
type and range and collects problems (never raises), so that config.py reports them all at
once, each line naming the table, the key, the value as written and what is allowed."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pytest_backend_gates.budget import (
    Budget,
    BudgetError,
    parse_budget,
    parse_duration,
)
from pytest_backend_gates.limits import seconds_text
from pytest_backend_gates.redaction import MissingVariable, Redactor, interpolate
from pytest_backend_gates.text import did_you_mean

T = TypeVar("T")


# --------------------------------------------------------------------------
# Reading one table
# --------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A raw TOML value as the user wrote it (never interpolated)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def shown_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else f'"{key}"'


class Table:
    """Typed access to one TOML table; problems are collected, not raised."""

    def __init__(
        self,
        name: str,
        raw: Mapping[str, Any],
        errors: list[str],
        redactor: Redactor,
        environ: Mapping[str, str],
    ) -> None:
        self.name = name
        self._raw = raw
        self._errors = errors
        self._redactor = redactor
        self._environ = environ
        self._read: set[str] = set()
        self.base: Path | None = None  # the folder of pyproject.toml: relative file paths start there

    # -- reporting ---------------------------------------------------------
    def error(self, key: str, value: Any, problem: str) -> None:
        self._errors.append(f"[{self.name}] {key}: {_show(value)} {problem}")

    def missing(self, key: str, expected: str) -> None:
        self.problem(key, f"missing; expected {expected}")

    def problem(self, key: str, text: str) -> None:
        """A problem with a key whose value need not be shown (or was shown in `text`)."""
        self._errors.append(f"[{self.name}] {key}: {text}")

    def raw(self, key: str) -> Any:
        return self._raw.get(key)

    @property
    def error_count(self) -> int:
        """Problems found so far in the whole section (to tell whether a part was valid)."""
        return len(self._errors)

    # -- access --------------------------------------------------------------
    def has(self, key: str) -> bool:
        return key in self._raw

    @property
    def keys(self) -> frozenset[str]:
        """The keys written in the table."""
        return frozenset(self._raw)

    def _take(self, key: str) -> Any:
        self._read.add(key)
        return self._raw.get(key)

    def _expand(self, key: str, value: str, *, secret: bool = True) -> str | None:
        """`secret=False` for values that cannot carry one (durations, lists of names): their
        environment values are not redacted, nor warned about when short."""
        try:
            return interpolate(value, self._environ, self._redactor if secret else None, f"[{self.name}] {key}")
        except MissingVariable as exc:
            self.error(key, value, f"uses environment variable {exc.name}, which is not set")
            return None

    def string(self, key: str, default: str | None = None, *, secret: bool = True) -> str | None:
        value = self._take(key)
        return default if value is None else self.string_value(key, value, default, secret=secret)

    def string_value(self, key: str, value: Any, default: str | None = None, *, secret: bool = True) -> str | None:
        if not isinstance(value, str):
            self.error(key, value, "is not a string")
            return default
        return self._expand(key, value, secret=secret)

    def secret(self, key: str) -> str | None:
        """A string that is a secret even when written literally: redacted as `<key>` wherever shown."""
        value = self.string(key)
        if value is not None:
            self._redactor.add_literal(value, f"<{key}>")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._take(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(key, value, "is not a boolean; expected true or false")
            return default
        return value

    def integer(self, key: str, default: T, *, minimum: int = 0, maximum: int | None = None) -> int | T:
        value = self._take(key)
        if value is None:
            return default
        return self._check_int(key, value, default, minimum, maximum)

    def _check_int(self, key: str, value: Any, default: T, minimum: int, maximum: int | None) -> int | T:
        allowed = f"an integer of at least {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, value, f"is not an integer; expected {allowed}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            self.error(key, value, f"is out of range; expected {allowed}")
            return default
        return value

    def number(self, key: str, default: T, *, minimum: float = 0.0, exclusive: bool = False,
               maximum: float | None = None) -> float | T:
        value = self._take(key)
        if value is None:
            return default
        allowed = f"a number {'above' if exclusive else 'of at least'} {minimum:g}"
        if maximum is not None:
            allowed += f" and at most {maximum:g}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(key, value, f"is not a number; expected {allowed}")
            return default
        if not math.isfinite(value):
            self.error(key, value, f"is not a finite number; expected {allowed}")
            return default
        if value < minimum or (exclusive and value == minimum) or (maximum is not None and value > maximum):
            self.error(key, value, f"is out of range; expected {allowed}")
            return default
        return float(value)

    def percent(self, key: str, default: float | None = None) -> float | None:
        value = self._take(key)
        if value is None:
            return default
        return self._check_percent(key, value, default)

    def _check_percent(self, key: str, value: Any, default: float | None) -> float | None:
        allowed = "a percentage from 0 to 100 (a number, without '%')"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(key, value, f"is not a number; expected {allowed}")
            return default
        if not math.isfinite(value):
            self.error(key, value, f"is not a finite number; expected {allowed}")
            return default
        if not 0 <= value <= 100:
            self.error(key, value, f"is out of range; expected {allowed}")
            return default
        return float(value)

    def duration(self, key: str, default: float, *, maximum: float | None = None, positive: bool = False) -> float:
        """Seconds; `positive`: above 0 (else at least 0); `maximum`: at most that many seconds."""
        value = self._take(key)
        if value is None:
            return default
        allowed = "above 0s" if positive else "from 0s"
        if maximum is not None:
            allowed += f" {'and at most' if positive else 'to'} {seconds_text(maximum)}"
        text = self._expand(key, value, secret=False) if isinstance(value, str) else None
        if text is None:
            if not isinstance(value, str):
                self.error(key, value, f"is not a duration; expected a string such as '15s' or '500ms', {allowed}")
            return default
        try:
            seconds = parse_duration(text)
        except BudgetError as exc:
            why = "is not a finite duration" if "finite" in str(exc) else "is not a duration"
            self.error(key, value, f"{why}; expected e.g. '15s' or '500ms', {allowed}")
            return default
        if (positive and seconds <= 0) or (maximum is not None and seconds > maximum):
            self.error(key, value, f"is out of range; expected a duration {allowed}")
            return default
        return seconds

    def strings(self, key: str, default: tuple[str, ...] = (), *, allow_single: bool = False) -> tuple[str, ...]:
        value = self._take(key)
        if value is None:
            return default
        if allow_single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.error(key, value, "is not a list of strings; expected e.g. [\"a\", \"b\"]")
            return default
        expanded = [self._expand(key, item, secret=False) for item in value]
        return tuple(item for item in expanded if item is not None)

    def choice(self, key: str, value: Any, choices: tuple[str, ...]) -> str | None:
        if isinstance(value, str) and value in choices:
            return value
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        self.error(key, value, f"is not allowed; {hint}expected one of {', '.join(choices)}")
        return None

    def table(self, key: str) -> dict[str, Any]:
        """A sub-table (inline or not); its entries are checked by the caller."""
        value = self._take(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(key, value, "is not a table; expected e.g. { \"key\" = value }")
            return {}
        return value

    def entries(self, key: str, read: Callable[[str, Any], T | None]) -> dict[str, T]:
        """Each entry of a sub-table read by `read(entry_key_path, value)`."""
        result: dict[str, T] = {}
        for entry, value in self.table(key).items():
            item = read(f"{key}.{shown_key(entry)}", value)
            if item is not None:
                result[entry] = item
        return result

    def budgets(self, key: str, value: Any) -> tuple[Budget, ...] | None:
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            self.error(key, value, "is not a budget; expected a string such as 'p95 < 50ms' or a list of them")
            return None
        parsed: list[Budget] = []
        for text in texts:
            try:
                parsed.append(parse_budget(text))
            except BudgetError as exc:
                self.problem(key, str(exc))
        return tuple(parsed) if len(parsed) == len(texts) else None

    def finish(self, allowed: tuple[str, ...]) -> None:
        for key in self._raw:
            if key not in allowed:
                self.problem(shown_key(key), f"unknown key; {did_you_mean(key, allowed)}allowed keys: {', '.join(allowed)}")
