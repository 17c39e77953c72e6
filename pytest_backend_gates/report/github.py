"""GitHub Actions: a Markdown table in the job's step summary, and `::error` annotations.

`GITHUB_STEP_SUMMARY` set: the table (gate, status, measured vs threshold, new and accepted
violations) and the new violations are appended to that file. `GITHUB_ACTIONS=true`: each new
violation with a file and line is printed as a workflow command, so the pull request shows it
on that line; GitHub shows at most 10 error annotations per step, so at most ANNOTATION_LIMIT
are printed and one line counts the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pytest_backend_gates.report.view import RunView, figures_text, first_line

ANNOTATION_LIMIT = 10
_VIOLATIONS_SHOWN = 20  # per gate, in the step summary
_ICON = {"passed": "✅", "failed": "❌", "error": "⛔", "skipped": "⏭️"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def step_summary(view: RunView) -> str:
    verdict = "interrupted" if view.interrupted else "passed" if view.passed else "FAILED"
    lines = [f"## Backend gates: {verdict}", "",
             "| gate | status | measured vs threshold | new | accepted |",
             "|---|---|---|---:|---:|"]
    for r in view.results:
        figures = figures_text(r) or first_line(r.summary, 120)
        lines.append(f"| {r.gate} | {_ICON.get(r.status.value, '')} {r.status.value} | {_cell(figures)} | "
                     f"{len(r.new_violations)} | {len(r.accepted_violations)} |")
    for r in view.results:
        if r.status.fails_run and not r.new_violations:
            lines += ["", f"**{r.gate} {r.status.value}**: {_cell(first_line(r.summary, 400))}"]
        if not r.new_violations:
            continue
        lines += ["", f"### {r.gate}: {len(r.new_violations)} new violation{'s' * (len(r.new_violations) != 1)}", ""]
        for v in r.new_violations[:_VIOLATIONS_SHOWN]:
            where = f" (`{v.file}:{v.line}`)" if v.file and v.line else f" (`{v.file}`)" if v.file else ""
            lines.append(f"- **{_cell(v.where)}** `{v.check}`{where}: {_cell(first_line(v.message, 400))}")
            if v.reproduce:
                lines.append(f"  <details><summary>reproduce</summary>\n\n  ```\n  {v.reproduce}\n  ```\n  </details>")
        if len(r.new_violations) > _VIOLATIONS_SHOWN:
            lines.append(f"- … and {len(r.new_violations) - _VIOLATIONS_SHOWN} more (see the JSON report)")
    lines.extend(["", *(f"> {note}" for note in view.notes)] if view.notes else [])
    return "\n".join(lines) + "\n\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation_lines(view: RunView) -> list[str]:
    """`::error` workflow commands for the new violations that have a file and a line."""
    located = [(r, v) for r, v in view.violations(accepted=False) if v.file and v.line]
    lines = []
    for r, v in located[:ANNOTATION_LIMIT]:
        title = _escape_property(f"{r.gate} {v.check}")
        message = _escape_data(f"{v.where}: {v.message}")
        lines.append(f"::error file={_escape_property(v.file or '')},line={v.line},title={title}::{message}")
    if len(located) > ANNOTATION_LIMIT:
        lines.append(f"::warning title=backend-gates::{len(located) - ANNOTATION_LIMIT} more violations with a "
                     "source line are not annotated (GitHub shows 10 per step); see the step summary or the JSON report")
    return lines


def write_step_summary(view: RunView, environ: Mapping[str, str]) -> None:
    """Append to the file GitHub names in GITHUB_STEP_SUMMARY (nothing when it is not set)."""
    target = environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as stream:
            stream.write(step_summary(view))
