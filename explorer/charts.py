"""Server-rendered SVG charts (pure: numbers in, markup out; no Django models, no JavaScript).

Readable without JavaScript and under a Content-Security-Policy without 'unsafe-inline': shapes
carry classes (colours come from the site's stylesheet, dark mode included), never style
attributes; every bar and point has a <title> the browser shows on hover; the chart has a
<title>/<desc> for screen readers, and the page prints the same numbers as a table and a CSV.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 290
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 26, 46
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # series class: s1, s2, s3 (colours in hemiscope.css)
    values: Sequence[float | None]  # one per x position; None: no value there


def nice_step(span: float, ticks: int = 4) -> float:
    """A 1/2/2.5/5 x 10^k step that cuts ``span`` into about ``ticks`` parts."""
    return nice_ceiling(span / ticks)


def nice_ceiling(value: float) -> float:
    """The smallest 1/2/2.5/5 x 10^k at or above ``value`` (axis maximum)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _n(coordinate: float) -> str:
    """A coordinate with one decimal (format_html escapes its arguments as text, so numbers
    are formatted before they reach it)."""
    return f"{coordinate:.1f}"


def _fmt(value: float) -> str:
    """Axis and tooltip numbers: whole numbers plain, small ones with up to two decimals."""
    if value == int(value) or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


class _Frame:
    """Axes, grid and scales shared by both chart kinds."""

    def __init__(self, n: int, low: float, high: float):
        self.n = max(1, n)
        # Gridlines at round numbers: the axis runs from a multiple of the step below the data
        # (zero when nothing is negative) to one at or above it.
        self.step = nice_step(high - low)
        self.low = math.floor(low / self.step) * self.step
        self.high = max(math.ceil(high / self.step) * self.step, self.low + self.step)
        self.plot_w = WIDTH - LEFT - RIGHT
        self.plot_h = HEIGHT - TOP - BOTTOM
        self.band = self.plot_w / self.n

    def y(self, value: float) -> float:
        return TOP + self.plot_h * (1 - (value - self.low) / (self.high - self.low))

    def x_center(self, i: int) -> float:
        return LEFT + self.band * (i + 0.5)

    def axes(self, y_unit: str, x_labels: Sequence[str]) -> list[str]:
        parts = []
        for k in range(round((self.high - self.low) / self.step) + 1):
            value = self.low + k * self.step
            y = self.y(value)
            parts.append(format_html('<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT,
                                     WIDTH - RIGHT, _n(y), _n(y)))  # fmt: skip
            parts.append(format_html('<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>', LEFT - 6,
                                     _n(y + 4), _fmt(value)))  # fmt: skip
        parts.append(format_html('<text class="unit" x="{}" y="{}">{}</text>', 4, TOP - 12, y_unit))
        every = max(1, math.ceil(self.n / MAX_X_LABELS))
        for i, label in enumerate(x_labels):
            if i % every == 0:
                parts.append(format_html('<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                                         _n(self.x_center(i)), HEIGHT - BOTTOM + 16, label))  # fmt: skip
        base = self.y(max(self.low, 0) if self.low < 0 < self.high else self.low)
        parts.append(format_html('<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - RIGHT,
                                 _n(base), _n(base)))  # fmt: skip
        return parts


def _svg(chart_id: str, title: str, desc: str, x_title: str, body: list[str]) -> SafeString:
    head = format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>',
        WIDTH, HEIGHT, chart_id, chart_id, chart_id, title, chart_id, desc,
    )  # fmt: skip
    x_axis = format_html('<text class="unit" x="{}" y="{}" text-anchor="middle">{}</text>', LEFT + (WIDTH - LEFT -
                         RIGHT) // 2, HEIGHT - 6, x_title)  # fmt: skip
    return mark_safe(head + "".join(body) + x_axis + "</svg>")  # noqa: S308 - every piece built with format_html


def _bounds(series: Sequence[Series]) -> tuple[float, float]:
    """The data's range with zero in it (bars grow from zero); 0..1 when there is no data."""
    values = [v for s in series for v in s.values if v is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    return (low, high) if high > low else (0.0, 1.0)


def bar_chart(chart_id: str, title: str, desc: str, x_labels: Sequence[str], series: Sequence[Series], *,
              y_unit: str, x_title: str, tips: Sequence[str] = ()) -> SafeString:  # fmt: skip
    """Grouped bars: one group per x position, one bar per series. ``tips`` label each position."""
    low, high = _bounds(series)
    frame = _Frame(len(x_labels), low, high)
    body = frame.axes(y_unit, x_labels)
    inner = frame.band * 0.8
    width = inner / max(1, len(series))
    zero = frame.y(0)
    for i in range(len(x_labels)):
        x0 = LEFT + frame.band * i + frame.band * 0.1
        for k, s in enumerate(series):
            v = s.values[i]
            if v is None or v == 0:
                continue
            y = frame.y(v)
            top, h = (y, zero - y) if v > 0 else (zero, y - zero)
            tip = f"{tips[i] if i < len(tips) else x_labels[i]}: {s.name} {_fmt(v)}"
            body.append(format_html('<rect class="bar {}" x="{}" y="{}" width="{}" height="{}">'
                                    "<title>{}</title></rect>", s.css, _n(x0 + k * width), _n(top),
                                    _n(max(width - 1, 0.5)), _n(max(h, 0.5)), tip))  # fmt: skip
    return _svg(chart_id, title, desc, x_title, body)


def line_chart(chart_id: str, title: str, desc: str, x_labels: Sequence[str], series: Sequence[Series], *,
               y_unit: str, x_title: str, tips: Sequence[str] = ()) -> SafeString:  # fmt: skip
    """Lines with a point per value; a missing value breaks the line."""
    low, high = _bounds(series)
    frame = _Frame(len(x_labels), low, high)
    body = frame.axes(y_unit, x_labels)
    for s in series:
        run: list[str] = []
        runs = []
        for i, v in enumerate(s.values):
            if v is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append(f"{_n(frame.x_center(i))},{_n(frame.y(v))}")
        if run:
            runs.append(run)
        for points in runs:
            if len(points) > 1:
                body.append(format_html('<polyline class="line {}" points="{}"/>', s.css, " ".join(points)))
        for i, v in enumerate(s.values):
            if v is None:
                continue
            tip = f"{tips[i] if i < len(tips) else x_labels[i]}: {s.name} {_fmt(v)}"
            body.append(format_html('<circle class="point {}" cx="{}" cy="{}" r="3"><title>{}</title></circle>',
                                    s.css, _n(frame.x_center(i)), _n(frame.y(v)), tip))  # fmt: skip
    return _svg(chart_id, title, desc, x_title, body)


def legend(series: Sequence[Series]) -> SafeString:
    items = "".join(
        format_html('<li><span class="swatch {}" aria-hidden="true"></span>{}</li>', s.css, s.name) for s in series
    )
    return mark_safe(f'<ul class="legend">{items}</ul>')  # noqa: S308 - items built with format_html

