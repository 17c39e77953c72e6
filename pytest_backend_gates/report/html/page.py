"""The HTML report as one page: the verdict at the top, a table of the gates, then one panel per
gate. Self-contained: the style sheet, the script and the plots (SVG) are inline, and the
Content-Security-Policy lets the page load nothing at all (default-src 'none'), so it opens the
same offline, from a CI artifact, or attached to a ticket."""

from __future__ import annotations

import base64
import hashlib
from html import escape

from pytest_backend_gates.budget import format_duration
from pytest_backend_gates.report.html.assets import SCRIPT, STYLE
from pytest_backend_gates.report.html.panel import anchor, gate_panel
from pytest_backend_gates.report.view import RunView, first_line
from pytest_backend_gates.result import Status


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# Nothing may load (no network, no file); only the two inline blocks above, by their hashes.
POLICY = (f"default-src 'none'; style-src {_hash(STYLE)}; script-src {_hash(SCRIPT)}; img-src data:; "
          "base-uri 'none'; form-action 'none'")


def verdict(view: RunView) -> tuple[str, str, str]:
    """(css class, heading word, one line), the same verdict the terminal prints."""
    failing = [r for r in view.results if r.status.fails_run]
    named = ", ".join(f"{r.gate} {r.status.value}" for r in failing)
    if view.interrupted:
        return "interrupted", "interrupted", "the run did not finish" + (f"; {named}" if named else "")
    if not view.results:
        return "nothing", "no gate enabled", "add a [tool.backend-gates.<gate>] table to pyproject.toml"
    if failing:
        return "failed", "FAILED", named
    skipped = [r.gate for r in view.results if r.status == Status.SKIPPED]
    judged = len(view.results) - len(skipped)
    if not judged:  # a run where no gate judged must not look green
        return "nothing", "nothing judged", f"{', '.join(skipped)} skipped"
    extra = f" ({', '.join(skipped)} skipped)" if skipped else ""
    return "passed", "passed", f"{judged} gate{'s' * (judged != 1)}{extra}"


def _overview(view: RunView) -> str:
    rows = []
    for r in view.results:
        rows.append(f'<tr class="status-{_e(r.status.value)}"><td><a href="#{anchor(r.gate)}">{_e(r.gate)}</a></td>'
                    f'<td><span class="badge badge-{_e(r.status.value)}">{_e(r.status.value.upper())}</span></td>'
                    f'<td class="summary">{_e(first_line(r.summary, 300))}</td>'
                    f'<td class="num">{len(r.new_violations)}</td><td class="num">{len(r.accepted_violations)}</td>'
                    f'<td class="num">{format_duration(r.duration_s)}</td></tr>')
    if not rows:
        return ""
    return ('<table class="overview"><thead><tr><th>gate</th><th>status</th><th>summary</th><th>new</th>'
            f'<th>accepted</th><th>time</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def html_text(view: RunView) -> str:
    """The whole report (`--backend-gates-html=PATH`), from the gate results only."""
    css, word, line = verdict(view)
    new, accepted = len(view.violations(accepted=False)), len(view.violations(accepted=True))
    facts = [f"{new} new violation{'s' * (new != 1)}" + (f", {accepted} accepted" if accepted else ""),
             f"project {view.root}"] + ([f"pytest-backend-gates {view.version}"] if view.version else [])
    notes = "".join(f"<li>{_e(note)}</li>" for note in view.notes)
    toolbar = ('<div class="toolbar"><button type="button" data-open="true" data-scope="details.violation">'
               'open every violation</button><button type="button" data-open="false" data-scope="details.violation">'
               'close every violation</button></div>') if new or accepted else ""
    return "".join([
        "<!DOCTYPE html>\n",
        f'<html lang="en" data-verdict="{_e(css)}"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(POLICY)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>Backend gates: {_e(word)}</title>",
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>",
        f'<header class="verdict verdict-{_e(css)}"><h1>Backend gates: {_e(word)}</h1>',
        f'<p class="verdict-line">{_e(line)}</p><p>{_e(" · ".join(facts))}</p></header><main>',
        f'<div class="run-notes"><ul>{notes}</ul></div>' if notes else "",
        _overview(view),
        toolbar,
        "".join(gate_panel(r) for r in view.results),
        "</main></body></html>\n",
    ])
