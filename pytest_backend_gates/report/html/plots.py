"""Plots as inline SVG, drawn in Python: no JavaScript library and nothing fetched, so the HTML
report stays one file that opens offline. Three shapes are enough for the gates' figures: a
histogram with vertical reference lines (latency samples against budgets), horizontal bars on
0-100% with a minimum tick (coverage per file), and lines over time with horizontal reference
lines (the load run). Colours come from CSS classes (assets.py): no style attributes, which the
page's Content-Security-Policy would refuse. Inline SVG in HTML needs no xmlns (no URL at all).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, LEFT, RIGHT, TOP, BOTTOM = 720, 64, 24, 34, 40


@dataclass(frozen=True)
class Mark:
    """A reference line: a budget or threshold (`state` "ok"/"failed"/"neutral"), or a measured figure ("measured")."""

    value: float
    label: str
    state: str = "neutral"


@dataclass(frozen=True)
class Bar:
    label: str
    percent: float
    minimum: float | None = None
    state: str = "none"  # "met", "under" (as the gate judged it) or "none" (no minimum)
    note: str = ""  # shown as the bar's tooltip (e.g. missing lines)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: no figure for that time (a gap in the line)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _c(value: float) -> str:
    return f"{value:.1f}"


class _Scale:
    """Maps [low, high] onto [start, end] pixels, linearly or on a log10 scale."""

    def __init__(self, low: float, high: float, start: float, end: float, log: bool = False) -> None:
        self.log = log and low > 0
        self.low, self.high = (math.log10(low), math.log10(high)) if self.log else (low, high)
        if self.high <= self.low:
            self.high = self.low + 1
        self.start, self.end = start, end

    def __call__(self, value: float) -> float:
        v = math.log10(max(value, 1e-12)) if self.log else value
        return self.start + (v - self.low) / (self.high - self.low) * (self.end - self.start)

    def ticks(self, count: int = 5) -> list[float]:
        if self.log:
            found = [m * 10 ** e for e in range(math.floor(self.low), math.ceil(self.high) + 1) for m in (1, 2, 5)]
            inside = [t for t in found if self.low - 1e-9 <= math.log10(t) <= self.high + 1e-9]
            return inside if len(inside) <= 8 else inside[::len(inside) // 6 + 1]
        return nice_ticks(self.low, self.high, count)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [low, high]."""
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _svg(height: float, title: str, kind: str, body: list[str]) -> str:
    return (f'<svg class="plot plot-{_e(kind)}" viewBox="0 0 {WIDTH} {_c(height)}" role="img">'
            f'<title>{_e(title)}</title>' + "".join(body) + "</svg>")


def _axis_x(scale: _Scale, y: float, fmt: Callable[[float], str], ticks: list[float]) -> list[str]:
    out = [f'<line class="axis" x1="{_c(scale.start)}" y1="{_c(y)}" x2="{_c(scale.end)}" y2="{_c(y)}"/>']
    for tick in ticks:
        x = scale(tick)
        out.append(f'<line class="axis" x1="{_c(x)}" y1="{_c(y)}" x2="{_c(x)}" y2="{_c(y + 4)}"/>'
                   f'<text class="tick" x="{_c(x)}" y="{_c(y + 16)}" text-anchor="middle">{_e(fmt(tick))}</text>')
    return out


def _axis_y(scale: _Scale, x: float, fmt: Callable[[float], str], label: str) -> list[str]:
    out = [f'<line class="axis" x1="{_c(x)}" y1="{_c(scale.start)}" x2="{_c(x)}" y2="{_c(scale.end)}"/>']
    for tick in scale.ticks(4):
        y = scale(tick)
        out.append(f'<line class="grid" x1="{_c(x)}" y1="{_c(y)}" x2="{WIDTH - RIGHT}" y2="{_c(y)}"/>'
                   f'<text class="tick" x="{_c(x - 6)}" y="{_c(y + 4)}" text-anchor="end">{_e(fmt(tick))}</text>')
    out.append(f'<text class="axis-label" x="{_c(x - 6)}" y="{TOP - 12}" text-anchor="end">{_e(label)}</text>')
    return out


def _vertical_marks(marks: Sequence[Mark], scale: _Scale, top: float, bottom: float) -> list[str]:
    """Vertical lines, labelled above the plot; a label that would overlap one already placed goes
    one row higher (three rows fit in the top margin), so budgets close together stay readable."""
    out: list[str] = []
    rows: list[list[tuple[float, float]]] = [[], [], []]  # per row: the (left, right) pixel extents of its labels
    for mark in sorted(marks, key=lambda m: m.value):
        x = scale(mark.value)
        width = 6.3 * len(mark.label) + 6  # about the width of an 11px label
        anchor = "end" if x + width > WIDTH - 4 else "start"
        extent = (x - width, x) if anchor == "end" else (x, x + width)
        row = next((i for i, taken in enumerate(rows) if all(extent[1] < a or extent[0] > b for a, b in taken)),
                   len(rows) - 1)
        rows[row].append(extent)
        dx = -3 if anchor == "end" else 3
        out.append(f'<g class="mark mark-{_e(mark.state)}"><line x1="{_c(x)}" y1="{_c(top - 2 - 12 * row)}" '
                   f'x2="{_c(x)}" y2="{_c(bottom)}"/><text x="{_c(x + dx)}" y="{_c(top - 4 - 12 * row)}" '
                   f'text-anchor="{anchor}">{_e(mark.label)}</text></g>')
    return out


def histogram_svg(edges: Sequence[float], counts: Sequence[int], *, log: bool, marks: Sequence[Mark],
                  title: str, fmt: Callable[[float], str]) -> str:
    """Bars of `counts` between `edges` (one more than counts), with vertical `marks` on the same axis."""
    height = 220
    bottom = height - BOTTOM
    values = [v for v in [*edges, *(m.value for m in marks)] if math.isfinite(v)]
    low, high = min(values), max(values)
    # a budget far from the samples (50ms against 30us) would squeeze them into one pixel: log axis
    log = (log or high > 20 * low) and low > 0
    if high <= low:  # every sample the same: a narrow window around it
        low, high = (low * 0.9, high * 1.1) if low > 0 else (0.0, 1.0)
    if not log:
        pad = (high - low) * 0.04
        low, high = max(0.0, low - pad), high + pad
    x = _Scale(low, high, LEFT, WIDTH - RIGHT, log=log)
    y = _Scale(0, max(max(counts, default=0), 1), bottom, TOP)
    body = _axis_y(y, LEFT, lambda v: f"{v:g}", "samples")
    for left, right, count in zip(edges, edges[1:], counts):
        x0, x1 = x(left), x(right)
        if x1 - x0 < 2:  # a bucket as wide as nothing (all samples equal): still visible
            x0, x1 = x0 - 3, x1 + 3
        body.append(f'<rect class="bar" x="{_c(x0)}" y="{_c(y(count))}" width="{_c(max(x1 - x0 - 1, 1))}" '
                    f'height="{_c(bottom - y(count))}"><title>{_e(fmt(left))} to {_e(fmt(right))}: {count} '
                    f'sample{"s" * (count != 1)}</title></rect>')
    body += _axis_x(x, bottom, fmt, x.ticks(6))
    body += _vertical_marks(marks, x, TOP, bottom)
    return _svg(height, title, "histogram", body)


def bars_svg(bars: Sequence[Bar], *, title: str) -> str:
    """One horizontal bar per row on a 0-100% axis; the row's minimum as a tick, the bar coloured
    by its state: the minimum met ("met"), missed ("under"), or none ("none")."""
    row, label_width = 20, 300
    height = TOP + row * len(bars) + BOTTOM
    x = _Scale(0, 100, label_width, WIDTH - RIGHT - 48)
    body = []
    for index, bar in enumerate(bars):
        top = TOP + index * row
        label = bar.label if len(bar.label) <= 44 else "…" + bar.label[-43:]
        tip = f"{bar.label}: {bar.percent:.2f}%" + (f" (minimum {bar.minimum:g}%)" if bar.minimum is not None else "")
        tip += f"; {bar.note}" if bar.note else ""
        body.append(f'<g class="row row-{_e(bar.state)}"><title>{_e(tip)}</title>'
                    f'<text class="label" x="{label_width - 8}" y="{_c(top + 14)}" text-anchor="end">{_e(label)}</text>'
                    f'<rect class="track" x="{_c(x(0))}" y="{_c(top + 3)}" width="{_c(x(100) - x(0))}" height="14"/>'
                    f'<rect class="fill" x="{_c(x(0))}" y="{_c(top + 3)}" width="{_c(x(min(max(bar.percent, 0), 100)) - x(0))}" '
                    f'height="14"/><text class="value" x="{_c(x(100) + 6)}" y="{_c(top + 14)}">{bar.percent:.2f}%</text>')
        if bar.minimum is not None:
            body.append(f'<line class="minimum" x1="{_c(x(bar.minimum))}" y1="{_c(top + 1)}" '
                        f'x2="{_c(x(bar.minimum))}" y2="{_c(top + 19)}"/>')
        body.append("</g>")
    body += _axis_x(x, TOP + row * len(bars) + 2, lambda v: f"{v:g}%", [0, 25, 50, 75, 100])
    return _svg(height, title, "bars", body)


def series_svg(times: Sequence[float], series: Sequence[Series], *, marks: Sequence[Mark], title: str,
               y_label: str, fmt: Callable[[float], str]) -> str:
    """Lines over `times` (seconds), one per series (a gap where a value is None), with horizontal `marks`."""
    height = 200
    bottom = height - BOTTOM
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    values += [m.value for m in marks if math.isfinite(m.value)]
    x = _Scale(0, max(max(times, default=1.0), 1.0), LEFT, WIDTH - RIGHT)
    y = _Scale(0, max(max(values, default=1.0) * 1.1, 1e-9), bottom, TOP)
    body = _axis_y(y, LEFT, fmt, y_label)
    for index, line in enumerate(series):
        runs: list[list[str]] = [[]]
        for t, v in zip(times, line.values):
            if v is None or not math.isfinite(v):
                runs.append([])
                continue
            runs[-1].append(f"{_c(x(t))},{_c(y(v))}")
        for points in runs:
            if len(points) == 1:  # a single figure between gaps: a dot, not an invisible line
                cx, cy = points[0].split(",")
                body.append(f'<circle class="series s{index}" cx="{cx}" cy="{cy}" r="2.5"/>')
            elif points:
                body.append(f'<polyline class="series s{index}" points="{" ".join(points)}"/>')
        body.append(f'<g class="legend s{index}"><line x1="{WIDTH - RIGHT - 150}" y1="{12 + 14 * index}" '
                    f'x2="{WIDTH - RIGHT - 136}" y2="{12 + 14 * index}"/><text x="{WIDTH - RIGHT - 130}" '
                    f'y="{16 + 14 * index}">{_e(line.name)}</text></g>')
    for mark in marks:
        level = y(mark.value)
        body.append(f'<g class="mark mark-{_e(mark.state)}"><line x1="{LEFT}" y1="{_c(level)}" x2="{WIDTH - RIGHT}" '
                    f'y2="{_c(level)}"/><text x="{LEFT + 4}" y="{_c(level - 3)}">{_e(mark.label)}</text></g>')
    body += _axis_x(x, bottom, lambda v: f"{v:g}s", x.ticks(8))
    return _svg(height, title, "series", body)
