"""The gates' figures that have a shape, drawn: latency distributions against their budgets,
coverage per file against its minimums, the load run over time against its thresholds. Each
reads only what the gate put in `measured`, `threshold` and its violations (docs/report.md);
a gate without those keys (an older result, an `error`) simply gets no plot.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape
from typing import Any

from pytest_backend_gates.budget import (
    Budget,
    BudgetError,
    format_duration,
    parse_budget,
)
from pytest_backend_gates.report.html.plots import (
    Bar,
    Mark,
    Series,
    bars_svg,
    histogram_svg,
    series_svg,
)
from pytest_backend_gates.result import GateResult

LATENCY_PLOTS = 40  # timed tests/operations drawn; the rest are in the figures table
COVERAGE_BARS = 40  # files drawn (the furthest under their minimum first, as the gate orders them)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _budget(text: object) -> Budget | None:
    try:
        return parse_budget(str(text))
    except BudgetError:
        return None


def _number(value: object) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None  # type: ignore[arg-type]


def _figure(kind: str, where: str, svg: str, caption: str) -> str:
    return (f'<figure class="figure figure-{kind}" data-where="{_e(where)}">{svg}'
            f'<figcaption>{_e(caption)}</figcaption></figure>')


def gate_figures(result: GateResult) -> list[str]:
    """The plots of one gate's panel, as HTML (figure elements holding inline SVG)."""
    draw: dict[str, Callable[[GateResult], list[str]]] = {
        "latency": latency_figures, "coverage": coverage_figures, "load": load_figures}
    return draw[result.gate](result) if result.gate in draw else []


# -- latency -----------------------------------------------------------------------------------

def latency_figures(result: GateResult) -> list[str]:
    timings = result.measured.get("timings")
    if not isinstance(timings, dict):
        return []
    figures = []
    for where, timing in list(timings.items())[:LATENCY_PLOTS]:
        if not isinstance(timing, dict):
            continue
        histogram = timing.get("histogram") or {}
        edges = [e for e in (_number(v) for v in histogram.get("edges_s", [])) if e is not None]
        counts = [int(c) for c in histogram.get("counts", []) if isinstance(c, int)]
        if len(edges) != len(counts) + 1 or not counts:
            continue
        marks = []
        for check in timing.get("checks") or []:
            budget = _budget(check.get("budget")) if isinstance(check, dict) else None
            if budget is None or budget.kind != "time":
                continue
            state = "ok" if check.get("ok") else "failed"
            marks.append(Mark(budget.value, f"budget {budget.render()}", state))
            measured = _number(check.get("measured"))
            if measured is not None:
                marks.append(Mark(measured, f"{budget.metric} {format_duration(measured)}", "measured"))
        stats = ", ".join(f"{key} {format_duration(value)}" for key in ("p50", "p95", "p99", "max")
                          if (value := _number(timing.get(key))) is not None)
        caption = f"{where}: {stats} ({timing.get('samples', '?')} samples, {timing.get('source', '')})"
        svg = histogram_svg(edges, counts, log=histogram.get("scale") == "log", marks=marks,
                            title=f"latency distribution of {where}", fmt=format_duration)
        figures.append(_figure("latency", str(where), svg, caption))
    if len(timings) > LATENCY_PLOTS:
        figures.append(f'<p class="more">{len(timings) - LATENCY_PLOTS} more timed tests/operations: see the '
                       "figures table below</p>")
    return figures


# -- coverage ----------------------------------------------------------------------------------

def coverage_figures(result: GateResult) -> list[str]:
    measured, threshold = result.measured, result.threshold
    bars = []
    missed = {v.check for v in result.violations}  # the gate's verdict on total and branches
    for key in ("total", "branches"):
        value, minimum = _number(measured.get(key)), _number(threshold.get(key))
        if value is not None:
            state = "none" if minimum is None else "under" if f"coverage-{key}" in missed else "met"
            bars.append(Bar(f"({key})", value, minimum, state))
    rows = [r for r in measured.get("per_file") or [] if isinstance(r, dict) and _number(r.get("percent")) is not None]
    for row in rows[:COVERAGE_BARS]:
        note = f"{row.get('missing_lines', 0)} of {row.get('statements', 0)} statements missed"
        note += f", minimum from files.{row['glob']!r}" if row.get("glob") else ""
        minimum = _number(row.get("minimum"))
        state = "none" if minimum is None else "under" if row.get("under") else "met"
        bars.append(Bar(str(row.get("file")), float(row["percent"]), minimum, state, note))
    if not bars:
        return []
    shown = min(len(rows), COVERAGE_BARS)
    omitted = len(rows) - shown + int(_number(measured.get("per_file_omitted")) or 0)
    caption = (f"coverage per file against its minimum (tick): {shown} file{'s' * (shown != 1)}, "
               "the furthest under their minimum first, then the least covered"
               + (f"; {omitted} more in the table below" if omitted else ""))
    figures = [_figure("coverage", "files", bars_svg(bars, title="coverage per file"), caption)]
    if rows:
        figures.append(_coverage_table(rows, omitted=int(_number(measured.get("per_file_omitted")) or 0)))
    return figures


def _coverage_table(rows: list[dict[str, Any]], omitted: int) -> str:
    body = []
    for row in rows:
        minimum = _number(row.get("minimum"))
        body.append(f'<tr class="{"under" if row.get("under") else ""}"><td><code>{_e(row.get("file"))}</code></td>'
                    f'<td class="num">{float(row["percent"]):.2f}%</td>'
                    f'<td class="num">{"" if minimum is None else f"{minimum:g}%"}</td>'
                    f'<td>{_e(row.get("glob") or "")}</td><td class="num">{_e(row.get("statements", ""))}</td>'
                    f'<td class="num">{_e(row.get("missing_lines", ""))}</td></tr>')
    more = f'<p class="more">{omitted} more files (the best covered) are not listed</p>' if omitted else ""
    return ('<details class="table"><summary>every file</summary><table class="files"><thead><tr><th>file</th>'
            '<th>covered</th><th>minimum</th><th>set by</th><th>statements</th><th>missing</th></tr></thead><tbody>'
            + "".join(body) + "</tbody></table>" + more + "</details>")


# -- load --------------------------------------------------------------------------------------

def load_figures(result: GateResult) -> list[str]:
    measured, history = result.measured, result.measured.get("history")
    figures = []
    if isinstance(history, dict) and history.get("t_s"):
        times = [float(t) for t in history["t_s"]]
        budgets = [b for b in (_budget(t) for t in result.threshold.get("thresholds") or []) if b is not None]
        failed = {str(v.details.get("budget")) for v in result.violations if v.where == "all requests"}

        def marks(metric: Callable[[Budget], bool], scale: float) -> list[Mark]:
            return [Mark(b.value * scale, f"threshold {b.render()}", "failed" if b.render() in failed else "ok")
                    for b in budgets if metric(b)]

        def column(key: str) -> list[float | None]:
            return [_number(v) for v in history.get(key) or [None] * len(times)]

        figures.append(_figure("load", "throughput", series_svg(
            times, [Series("requests/s", column("rps")), Series("failures/s", column("failures_per_s"))],
            marks=marks(lambda b: b.metric == "rps", 1.0), title="requests per second over the run",
            y_label="req/s", fmt=lambda v: f"{v:g}"),
            f"requests and failures per second, in windows of {history.get('step_s', 1):g}s "
            "(thresholds on rps are judged on the whole run's average)"))
        figures.append(_figure("load", "p95", series_svg(
            times, [Series("p95 of the window", column("p95_ms"))],
            marks=marks(lambda b: b.metric == "p95", 1000.0), title="p95 response time over the run",
            y_label="ms", fmt=lambda v: f"{v:g}"),
            "p95 response time (ms) of the responses in each window (thresholds are judged on the whole run)"))
        figures.append(_figure("load", "users", series_svg(
            times, [Series("users", column("users"))], marks=[], title="users running over the run",
            y_label="users", fmt=lambda v: f"{v:g}"), "users running"))
    endpoints = measured.get("endpoints")
    if isinstance(endpoints, dict) and endpoints:
        figures.append(_endpoint_table(endpoints, measured))
    return figures


def _endpoint_table(endpoints: dict[str, Any], measured: dict[str, Any]) -> str:
    columns = ("requests", "failures", "failure_pct", "rps", "p50_ms", "p95_ms", "p99_ms", "max_ms")
    rows = [(str(label), stats) for label, stats in endpoints.items() if isinstance(stats, dict)]
    rows.append(("all requests", measured))
    body = "".join(f"<tr><td><code>{_e(label)}</code></td>"
                   + "".join(f'<td class="num">{_e(_shown(stats.get(c)))}</td>' for c in columns) + "</tr>"
                   for label, stats in rows)
    head = "".join(f"<th>{_e(c.replace('_pct', ' %').replace('_ms', ' (ms)'))}</th>" for c in columns)
    return f'<table class="endpoints"><thead><tr><th>endpoint</th>{head}</tr></thead><tbody>{body}</tbody></table>'


def _shown(value: object) -> str:
    number = _number(value)
    return "" if value is None else f"{number:g}" if number is not None else str(value)
