"""`--backend-gates-html=PATH`: one self-contained HTML report of the run (docs/report.md)."""

from pytest_backend_gates.report.html.page import html_text

__all__ = ["html_text"]
