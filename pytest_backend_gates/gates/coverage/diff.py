"""Coverage of the lines changed against a git ref (`diff = { against = "origin/main", min = 90 }`).

Which lines changed is git's (changed_lines.py); which of them are statements, and which ran, is
coverage.py's analysis of each file the gate reports (the same `executed_lines`/`missing_lines`
as `coverage json`), so only files coverage measures count, and a statement spanning several lines
counts at its first line, as coverage.py counts it. The SPEC's minimum is on the total of changed
statements; each file with uncovered changed lines is a violation of its own, naming the lines, so
that a CI annotation points at the first of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pytest_backend_gates.diff_settings import DiffSettings
from pytest_backend_gates.gates.coverage.changed_lines import (
    PYTHON_SUFFIXES,
    ChangedLines,
    DiffUnavailable,
    changed_lines,
)
from pytest_backend_gates.gates.coverage.figures import (
    FileCoverage,
    floor2,
    line_ranges,
    percent_text,
)
from pytest_backend_gates.result import GateResult, Status, Violation

CHECK = "coverage-diff"


@dataclass(frozen=True)
class ChangedFile:
    path: str  # as the gate shows it: relative to rootdir where possible
    statements: tuple[int, ...]  # every statement of the file (coverage.py's analysis)
    covered: tuple[int, ...]  # changed statements that ran
    uncovered: tuple[int, ...]  # changed statements that did not
    uncovered_code: tuple[str, ...] = ()  # their text, stripped

    @property
    def changed(self) -> int:
        return len(self.covered) + len(self.uncovered)

    def uncovered_text(self) -> str:
        # ranges run over statements: a blank or comment line between two uncovered ones does not split them
        others = tuple(line for line in self.statements if line not in set(self.uncovered))
        return line_ranges(self.uncovered, others)


def changed_files(changed: ChangedLines, files: list[FileCoverage], rootpath: Path) -> list[ChangedFile]:
    """The measured Python files with changed statements, by path."""
    root = rootpath.resolve()
    result = []
    for file in files:
        path = Path(file.path)
        absolute = (path if path.is_absolute() else root / path).resolve()
        lines = changed.files.get(absolute)
        if not lines or path.suffix not in PYTHON_SUFFIXES:
            continue
        covered = tuple(sorted(lines.intersection(file.executed_lines)))
        uncovered = tuple(sorted(lines.intersection(file.missing_lines)))
        if covered or uncovered:
            statements = tuple(sorted({*file.executed_lines, *file.missing_lines}))
            result.append(ChangedFile(file.path, statements, covered, uncovered, _code_of(absolute, uncovered)))
    return sorted(result, key=lambda f: f.path)


def _code_of(path: Path, lines: tuple[int, ...]) -> tuple[str, ...]:
    """The stripped text of `lines` (what the fingerprint of a file's violation is made of)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ()
    return tuple(text[n - 1].strip() for n in lines if 0 < n <= len(text))


def judge_diff(result: GateResult, settings: DiffSettings, files: list[FileCoverage], rootpath: Path) -> GateResult:
    """`result` (the rest of the coverage gate, judged) with the changed lines judged too; the gate's
    `error` when git cannot tell which lines changed."""
    if result.status == Status.ERROR:
        return result
    try:
        changed = changed_lines(settings.against, rootpath)
    except DiffUnavailable as exc:
        error = GateResult.error(result.gate, f"coverage of changed lines: {exc}")
        error.measured, error.warnings, error.threshold = dict(result.measured), list(result.warnings), dict(
            result.threshold)
        return error
    judged = changed_files(changed, files, rootpath)
    total = sum(f.changed for f in judged)
    covered = sum(len(f.covered) for f in judged)
    percent = 100.0 * covered / total if total else None
    measured: dict[str, Any] = {
        "against": settings.against,
        "base": changed.base,
        "changed_lines": total,
        "covered_lines": covered,
        "percent": None if percent is None else floor2(percent),
        "files": [{"path": f.path, "changed_lines": f.changed, "covered_lines": len(f.covered),
                   "uncovered_lines": list(f.uncovered)} for f in judged],
    }
    threshold = dict(result.threshold)
    if settings.min is not None:
        threshold["diff_min"] = settings.min
    violations = list(result.violations)
    if percent is None:
        part = f"no changed executable lines against {settings.against}"
    else:
        minimum = "" if settings.min is None else f", min {settings.min:g}%"
        part = f"changed lines {percent_text(percent)} ({covered} of {total} against {settings.against}{minimum})"
        if settings.min is not None and percent < settings.min:
            overall = (f"changed lines against {settings.against} are {percent_text(percent)} covered, under the "
                       f"minimum {settings.min:g}% ({covered} of {total} changed statements covered)")
            violations.extend(_violation(f, overall, settings.against) for f in judged if f.uncovered)
    return replace(result, status=Status.FAILED if violations else result.status, summary=f"{result.summary}, {part}",
                   violations=violations, measured={**result.measured, "diff": measured}, threshold=threshold)


def _violation(file: ChangedFile, overall: str, against: str) -> Violation:
    lines = "line" if len(file.uncovered) == 1 else "lines"
    return Violation(
        where=file.path,
        check=CHECK,
        message=f"changed {lines} {file.uncovered_text()} not covered ({len(file.covered)} of "
        f"{file.changed} changed statements in this file covered); {overall}",
        details={"against": against, "uncovered_lines": list(file.uncovered), "changed_lines": file.changed,
                 "covered_lines": len(file.covered)},
        file=file.path,
        line=file.uncovered[0],
        fingerprint=_fingerprint(file),
    )


def _fingerprint(file: ChangedFile) -> str:
    """Made of the uncovered changed code itself, not the message (whose numbers the generic
    fingerprint drops): a baseline entry accepts these very lines, wherever they move, and a later
    uncovered change in the same file is new."""
    key = "\x1f".join(("coverage", CHECK, file.path, *file.uncovered_code))
    return hashlib.sha256(key.encode()).hexdigest()[:16]
