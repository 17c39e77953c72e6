"""Reporters: they read gate results and never decide anything.

terminal.py (the summary pytest prints) and json_report.py (SPEC section 5) are always there;
the CI outputs of SPEC section 7 each have their own module: junit.py (`--junitxml`),
github.py (step summary and annotations), sarif.py, codeclimate.py and html/ (a package: page,
panels, plots).
"""

from pytest_backend_gates.report.json_report import report_data, write_json_report
from pytest_backend_gates.report.terminal import (
    terminal_lines,
    verdict_line,
    write_progress,
)

__all__ = ["report_data", "terminal_lines", "verdict_line", "write_json_report", "write_progress"]
