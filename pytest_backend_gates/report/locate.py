"""Where a violation sits in the project, for reports that place every finding in a file
(SARIF for code scanning, GitLab code quality).

In order: the source line the gate set (`file`/`line`: a failed test, the first uncovered line,
the app frame that raised, an N+1's origin); the file a pytest node id or a coverage `where`
names; otherwise the configuration file, at the line of the gate's table, since both code
scanning and GitLab need a file to show a finding at all (an API operation or the coverage
total has none). Only rendering: the gates decided what and where; this reads their results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pytest_backend_gates.report.view import RunView
from pytest_backend_gates.result import Violation


@dataclass(frozen=True)
class Place:
    path: str  # posix, relative to the project root (absolute only for a file outside it)
    line: int | None


class Locator:
    """Places the violations of one run (reads the configuration file once, when first needed)."""

    def __init__(self, view: RunView) -> None:
        self.view = view
        self._tables: dict[str, int] | None = None

    def place(self, gate: str, violation: Violation) -> Place | None:
        """The file (and line) to show `violation` at; None when not even a configuration file is known."""
        root = self.view.root
        if violation.file:
            line = violation.line if violation.line is not None and violation.line >= 1 else None
            return Place(_relative(root, violation.file), line)
        named = _named_file(root, violation.where)
        if named is not None:
            return Place(named, None)
        config_file = self.view.config_file
        if config_file is None:
            return None
        if self._tables is None:
            self._tables = _table_lines(config_file)
        return Place(_relative(root, str(config_file)), self._tables.get(gate) or self._tables.get(""))


def is_operation(where: str) -> bool:
    """`where` names an API operation: "GET /items/{id}"."""
    method, _, path = where.partition(" ")
    return method.isalpha() and method.isupper() and path.startswith("/")


def is_node_id(where: str) -> bool:
    return "::" in where and where.split("::", 1)[0].endswith(".py")


def _relative(root: Path, file: str) -> str:
    path = Path(file)
    if path.is_absolute():
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return path.as_posix()
    return PurePosixPath(file.replace("\\", "/")).as_posix()


def _named_file(root: Path, where: str) -> str | None:
    """The project file a `where` names: the test file of a node id, or a file path (coverage)."""
    candidate = where.split("::", 1)[0] if is_node_id(where) else where
    if not candidate or " " in candidate or "\n" in candidate or not PurePosixPath(candidate).suffix:
        return None
    relative = PurePosixPath(candidate.replace("\\", "/"))
    if relative.is_absolute() or ".." in relative.parts:
        return None
    try:
        return relative.as_posix() if (root / relative).is_file() else None
    except OSError:
        return None


def _table_lines(config_file: Path) -> dict[str, int]:
    """The 1-based line of each [tool.backend-gates...] table header in the configuration file
    ("" for [tool.backend-gates] itself)."""
    try:
        text = config_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = line.split("#", 1)[0].strip()
        if header.startswith("[tool.backend-gates") and header.endswith("]") and not header.startswith("[["):
            name = header[1:-1].strip().removeprefix("tool.backend-gates")
            if name and not name.startswith("."):
                continue  # [tool.backend-gatesX]: another tool's table
            lines.setdefault(name.lstrip(".").split(".", 1)[0].strip('"'), number)
    return lines
