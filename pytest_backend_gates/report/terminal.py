"""The terminal summary: one line per gate, then each gate's violations and warnings."""

from __future__ import annotations

from typing import Any

from pytest_backend_gates.interruption import interrupted_verdict
from pytest_backend_gates.result import GateResult, Status, Violation
from pytest_backend_gates.text import indent_lines

_MARKUP: dict[Status, dict[str, bool]] = {
    Status.PASSED: {"green": True},
    Status.FAILED: {"red": True, "bold": True},
    Status.ERROR: {"red": True, "bold": True},
    Status.SKIPPED: {"yellow": True},
}


_TRACEBACK = "Traceback (most recent call last)"


def terminal_lines(results: list[GateResult], *, verbose: int = 0) -> list[tuple[str, dict[str, bool]]]:
    """The terminal summary as (text, markup) lines: one line per gate, then details per gate."""
    lines: list[tuple[str, dict[str, bool]]] = []
    width = max((len(r.gate) for r in results), default=0)
    for r in results:
        text = f"{r.gate.ljust(width)}  {r.status.value.upper():7} {r.summary}"
        if r.new_violations:
            worst = r.new_violations[0]
            text += f" | worst: {worst.where}: {_first_line(worst.message, limit=90)}"
        lines.append((text, _MARKUP[r.status]))
    for r in results:
        if r.notes:
            lines.append(("", {}))
            lines.append((f"--- {r.gate}: measurements ---", {}))
            lines.extend((note, {}) for note in r.notes)
        if not r.violations and not r.warnings:
            continue
        lines.append(("", {}))
        new, accepted = r.new_violations, r.accepted_violations
        count = len(new)
        title = f"{r.gate}: {count} violation{'s' if count != 1 else ''}" if count else f"{r.gate}: warnings"
        if accepted:
            title += f" ({len(accepted)} accepted)" if count else f" and {len(accepted)} accepted violations"
        lines.append((f"--- {title} ---", _MARKUP[r.status] if count else {"yellow": True}))
        for v in new:
            lines.append((f"{v.where} [{v.check}]: {v.message}", {}))
            if v.reproduce:
                lines.append((f"    reproduce: {indent_lines(v.reproduce)}", {}))
        lines.extend(_accepted_lines(accepted, verbose))
        for warning in r.warnings:
            # A crash's traceback only with -v. Other warnings of several lines (a finding below its
            # rule's severity, with its `reproduce:` line) are shown whole, as the violations are.
            if warning.startswith(_TRACEBACK) and not verbose:
                lines.append(("warning: (traceback hidden; run with -v to see it)", {"yellow": True}))
                continue
            lines.append((f"warning: {warning}", {"yellow": True}))
    return lines


def _accepted_lines(accepted: list[Violation], verbose: int) -> list[tuple[str, dict[str, bool]]]:
    """Accepted violations stay visible: counted by reason, listed one per line with -v."""
    if not accepted:
        return []
    if verbose:
        return [(f"accepted: {v.where} [{v.check}]: {_first_line(v.message, limit=120)} ({v.reason})", {})
                for v in accepted]
    reasons: dict[str, int] = {}
    for v in accepted:
        reasons[v.reason or ""] = reasons.get(v.reason or "", 0) + 1
    counted = "; ".join(f"{n} {reason}" for reason, n in reasons.items())
    return [(f"accepted: {len(accepted)} violation{'s' * (len(accepted) != 1)} ({counted}); -v lists them", {})]


def verdict_line(results: list[GateResult], report_path: str | None,
                 interrupted: bool = False) -> tuple[str, dict[str, bool]]:
    bad = [r for r in results if r.status.fails_run]
    where = f"; report: {report_path}" if report_path else ""
    if interrupted:

        return interrupted_verdict(results) + where, {"red": True, "bold": True}
    if not results:
        return (f"backend gates: no gate enabled (add a [tool.backend-gates.<gate>] table to pyproject.toml){where}",
                {"yellow": True})
    if bad:
        names = ", ".join(f"{r.gate} {r.status.value}" for r in bad)
        return f"backend gates FAILED: {names}{where}", {"red": True, "bold": True}
    skipped = [r.gate for r in results if r.status == Status.SKIPPED]
    judged = len(results) - len(skipped)
    if not judged:  # a gate that did not judge must not look green
        return f"backend gates: nothing judged ({', '.join(skipped)} skipped){where}", {"yellow": True}
    extra = f" ({', '.join(skipped)} skipped)" if skipped else ""
    return f"backend gates passed: {judged} gate{'s' if judged != 1 else ''}{extra}{where}", {"green": True}


def write_progress(config: Any, gate: str, text: str) -> None:
    """A live progress line from a long-running gate (e.g. the load run), through pytest's terminal
    reporter; nothing without one (e.g. `-p no:terminal`)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"backend-gates {gate}: {text}")


def _first_line(text: str, limit: int = 160) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
