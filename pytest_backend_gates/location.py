"""Where the plugin's own files are (frames and modules in it are never the app's code), and
which project source line a violation points at."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from pytest_backend_gates.result import GateResult

PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))  # .../pytest_backend_gates, no trailing separator


# How the gates name a source line inside a message: the app frame that raised
# ("... at app/orders.py:57 in create_order", service/app_errors.py) and an N+1's origin
# ("... (from app/routes.py:40)", gates/queries).
_PLACE = re.compile(r"(?:\bat |\(from )(?P<file>[\w./\\-]+\.py):(?P<line>\d+)\b")


def source_line_in(message: str, root: Path) -> tuple[str, int] | None:
    """The first project file:line named in a violation's message (a file that exists under
    `root`, so that a CI annotation lands on a real line), or None."""
    for match in _PLACE.finditer(message):
        path = match.group("file").replace("\\", "/")
        if not Path(path).is_absolute() and (root / path).is_file():
            return path, int(match.group("line"))
    return None


def with_source_lines(result: GateResult, root: Path) -> GateResult:
    """Violations whose message names a project line (the app frame that raised, an N+1's
    origin) point at it, for CI annotations and SARIF, unless the gate set one itself."""
    violations = []
    for violation in result.violations:
        place = None if violation.file is not None else source_line_in(violation.message, root)
        violations.append(violation if place is None else replace(violation, file=place[0], line=place[1]))
    return replace(result, violations=violations)
