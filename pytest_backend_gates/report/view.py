"""What every file reporter reads: the gate results of one run and a few facts about the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pytest_backend_gates.result import GateResult, Violation


@dataclass(frozen=True)
class RunView:
    results: list[GateResult]
    root: Path  # the project root: violations' files are relative to it
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)  # run-level lines (the baseline written, or missing)
    version: str = ""  # of pytest-backend-gates
    # The pyproject.toml holding [tool.backend-gates]: where a violation without a source file
    # is placed in reports that need a file for every finding (SARIF, GitLab code quality).
    config_file: Path | None = None

    @property
    def passed(self) -> bool:
        return not any(r.status.fails_run for r in self.results)

    def violations(self, *, accepted: bool | None = None) -> list[tuple[GateResult, Violation]]:
        """(gate result, violation) pairs in report order; `accepted` filters (None: all)."""
        return [(r, v) for r in self.results for v in r.violations if accepted is None or v.accepted == accepted]


def first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def figures_text(result: GateResult) -> str:
    """The gate's measured figures against its thresholds, as one short line (tables, JUnit)."""
    measured = ", ".join(f"{k} {_short(v)}" for k, v in result.measured.items() if _scalar(v))
    threshold = ", ".join(f"{k} {_short(v)}" for k, v in result.threshold.items() if _scalar(v))
    if measured and threshold:
        return f"{measured} (threshold: {threshold})"
    return measured or (f"threshold: {threshold}" if threshold else "")


def _scalar(value: object) -> bool:
    return isinstance(value, (int, float, str)) and not isinstance(value, bool) and len(str(value)) <= 40


def _short(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
