"""One gate's panel of the HTML report: status, summary, plots, measured vs threshold, the new
violations and, apart, the accepted ones (with their reason), warnings and notes. Every text
from a result is escaped: violation messages hold the app's output and generated input."""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from pytest_backend_gates.budget import format_duration
from pytest_backend_gates.report.html.figures import gate_figures
from pytest_backend_gates.report.view import first_line
from pytest_backend_gates.result import GateResult, Violation

VIOLATIONS_SHOWN = 500  # per gate and kind (new, accepted): the JSON report has them all
TEXT_LIMIT = 20_000  # characters of one message, reproduction or JSON block


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def anchor(gate: str) -> str:
    """The panel's id: a third-party gate's name may hold anything."""
    return "gate-" + re.sub(r"[^A-Za-z0-9_-]", "-", gate)


def _cut(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + f"\n… ({len(text) - TEXT_LIMIT} more characters: see the JSON report)"


def _json(value: Any) -> str:
    return _cut(json.dumps(value, indent=2, sort_keys=False, default=str, ensure_ascii=False))


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _value_cell(value: Any) -> str:
    if value is _MISSING:
        return '<td class="absent"></td>'
    if _scalar(value):
        shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else \
            f"{value:g}" if isinstance(value, float) else str(value)
        return f'<td class="value">{_e(shown)}</td>'
    size = f"{len(value)} entr{'ies' if len(value) != 1 else 'y'}" if isinstance(value, (dict, list)) else "value"
    return f'<td class="value"><details><summary>{size}</summary><pre>{_e(_json(value))}</pre></details></td>'


_MISSING = object()


def figures_table(result: GateResult) -> str:
    """measured vs threshold, key by key (a key in both sits on one row); nested values folded."""
    keys = list(result.measured) + [k for k in result.threshold if k not in result.measured]
    if not keys:
        return ""
    rows = "".join(f'<tr><th scope="row">{_e(key)}</th>{_value_cell(result.measured.get(key, _MISSING))}'
                   f"{_value_cell(result.threshold.get(key, _MISSING))}</tr>" for key in keys)
    return ('<table class="figures"><thead><tr><th></th><th>measured</th><th>threshold</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def violation_html(result: GateResult, violation: Violation, index: int) -> str:
    kind = "accepted" if violation.accepted else "new"
    location = (f"{violation.file}:{violation.line}" if violation.file and violation.line else violation.file) or ""
    parts = [f'<details class="violation {kind}" id="{anchor(result.gate)}-{kind}-{index}" '
             f'data-check="{_e(violation.check)}" data-accepted="{str(violation.accepted).lower()}">',
             f'<summary><code class="where">{_e(violation.where)}</code> <span class="check">{_e(violation.check)}</span> '
             f'<span class="headline">{_e(first_line(violation.message, 200))}</span>'
             + (' <span class="has-repro">reproduce</span>' if violation.reproduce else "") + "</summary>",
             '<div class="body">']
    if violation.accepted:
        parts.append(f'<p class="reason">accepted: {_e(violation.reason or "")}</p>')
    if location:
        parts.append(f'<p class="location">at <code>{_e(location)}</code></p>')
    parts.append(f'<pre class="message">{_e(_cut(violation.message))}</pre>')
    if violation.reproduce:
        parts.append('<div class="reproduce"><div class="reproduce-head">reproduce <button type="button" '
                     f'class="copy">copy</button></div><pre>{_e(_cut(violation.reproduce))}</pre></div>')
    if violation.details:
        parts.append(f'<details class="data"><summary>details</summary><pre>{_e(_json(violation.details))}</pre></details>')
    if violation.fingerprint:
        parts.append(f'<p class="fingerprint">fingerprint <code>{_e(violation.fingerprint)}</code></p>')
    parts.append("</div></details>")
    return "".join(parts)


def _violations(result: GateResult, items: list[Violation], kind: str, title: str) -> str:
    if not items:
        return ""
    shown = "".join(violation_html(result, v, i) for i, v in enumerate(items[:VIOLATIONS_SHOWN]))
    more = (f'<p class="more">{len(items) - VIOLATIONS_SHOWN} more: see the JSON report</p>'
            if len(items) > VIOLATIONS_SHOWN else "")
    return (f'<div class="violations {kind}"><h3>{_e(title)} ({len(items)})</h3>{shown}{more}</div>')


def _lines(css: str, title: str, lines: list[str]) -> str:
    if not lines:
        return ""
    items = "".join(f"<li><pre>{_e(_cut(line))}</pre></li>" if "\n" in line else f"<li>{_e(line)}</li>"
                    for line in lines)
    return f'<div class="{css}"><h3>{_e(title)}</h3><ul>{items}</ul></div>'


def _plots(result: GateResult) -> str:
    try:
        figures = gate_figures(result)
    except Exception as exc:  # a figure of an unexpected shape loses its plot, never the report
        return f'<p class="plot-error">the plots of this gate could not be drawn ({_e(type(exc).__name__)}: {_e(exc)})</p>'
    return f'<div class="plots">{"".join(figures)}</div>' if figures else ""


def gate_panel(result: GateResult) -> str:
    status = result.status.value
    new, accepted = result.new_violations, result.accepted_violations
    counts = f"{len(new)} new violation{'s' * (len(new) != 1)}" + (f", {len(accepted)} accepted" if accepted else "")
    return "".join([
        f'<section class="gate status-{_e(status)}" id="{anchor(result.gate)}" data-gate="{_e(result.gate)}" '
        f'data-status="{_e(status)}">',
        f'<h2><span class="badge badge-{_e(status)}">{_e(status.upper())}</span> {_e(result.gate)}</h2>',
        f'<p class="summary">{_e(result.summary)}</p>',
        f'<p class="meta">{_e(counts)} · {_e(format_duration(result.duration_s))}</p>',
        _plots(result),
        _violations(result, new, "new", "New violations"),
        _violations(result, accepted, "accepted", "Accepted violations (they do not fail the gate)"),
        _lines("warnings", "Warnings", result.warnings),
        _lines("notes", "Notes", result.notes),
        '<details class="figures-box"' + (" open" if not result.measured.get("timings") else "") +
        '><summary>measured vs threshold</summary>' + (figures_table(result) or "<p>none</p>") + "</details>",
        "</section>",
    ])
