"""What coverage.py measured of one file, and how the gate writes figures: line ranges as
`coverage report -m` does, percentages rounded down, the most specific `files` glob of a path."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class FileCoverage:
    path: str  # relative to rootdir where possible, with forward slashes
    percent: float  # coverage.py's figure: statements and, with branch=true, branches
    statements: int
    missing_lines: tuple[int, ...]
    executed_lines: tuple[int, ...]
    missing_branches: tuple[tuple[int, int], ...]

    def missing_text(self) -> str:
        parts = []
        if self.missing_lines:
            parts.append("missing lines " + line_ranges(self.missing_lines, self.executed_lines))
        if self.missing_branches:
            shown = [f"{a}->{'exit' if b < 0 else b}" for a, b in self.missing_branches[:10]]
            more = len(self.missing_branches) - len(shown)
            parts.append("missing branches " + ", ".join(shown) + (f" (+{more} more)" if more else ""))
        return "; ".join(parts)


def line_ranges(missing: tuple[int, ...], executed: tuple[int, ...]) -> str:
    """'3-5, 9' the way `coverage report -m` writes it: a range runs over statements, not blank lines."""
    statements = sorted(set(missing) | set(executed))
    missing_set = set(missing)
    ranges: list[tuple[int, int]] = []
    start = end = None
    for line in statements:
        if line in missing_set:
            start = line if start is None else start
            end = line
        elif start is not None:
            ranges.append((start, end))  # type: ignore[arg-type]
            start = end = None
    if start is not None:
        ranges.append((start, end))  # type: ignore[arg-type]
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def floor2(value: float) -> float:
    """Two decimals, rounded down: 89.996 must never show as a passing 90.00."""
    return math.floor(value * 100) / 100


def percent_text(value: float) -> str:
    return f"{floor2(value):.2f}%"


def most_specific_glob(path: str, globs: list[str]) -> str | None:
    """Of the globs matching `path`, the one with most literal characters (then the longest)."""
    matching = [g for g in globs if fnmatch.fnmatchcase(path, g)]
    if not matching:
        return None
    return max(matching, key=lambda g: (len(g) - sum(g.count(c) for c in "*?["), len(g), g))
