"""A line chart drawn on the server as SVG: no script, no CDN, styled by classes (the CSP allows
no inline styles)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from markupsafe import escape as _escape

from publisher.digest import fmt_number
from publisher.printable import visible

WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 112, 24, 16, 44


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # the class of its line and points (colours are in app.css)
    points: list[tuple[datetime, float]]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    raw = (high - low) / max(count - 1, 1)
    if not raw > 0 or not math.isfinite(raw):  # one value (or a span too small to divide)
        pad = abs(high) * 0.05 or 1.0
        low, high = low - pad, high + pad
        raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    first -= first * step > low  # division can round past a bound by a hair
    last += last * step < high
    return [k * step for k in range(first, last + 1)]


def escape(text: str) -> Markup:
    return _escape(visible(text))


def line_chart(series: list[Series], title: str, description: str) -> Markup:
    """An accessible SVG (role img, title and description) with axes, one line per series and
    a dot with a tooltip per point."""
    points = [p for s in series for p in s.points]
    if not points:
        return Markup("")
    times = [p[0].timestamp() for p in points]
    t0, t1 = min(times), max(times)
    if t1 == t0:
        t0, t1 = t0 - 3600, t1 + 3600
    ticks = nice_ticks(min(p[1] for p in points), max(p[1] for p in points))
    v0, v1 = ticks[0], ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(moment: datetime) -> float:
        return LEFT + (moment.timestamp() - t0) / (t1 - t0) * plot_w

    def y(value: float) -> float:
        return TOP + (1 - (value - v0) / ((v1 - v0) or 1)) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title chart-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
    ]
    for tick in ticks:
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}"/>'
            f'<text class="axis" x="{LEFT - 8}" y="{y(tick) + 4:.1f}" text-anchor="end">'
            f"{escape(fmt_number(tick))}</text>"
        )
    moments = _time_ticks(t0, t1)
    span = t1 - t0
    label = "%H:%M:%S" if span < 3 * 3600 else "%m-%d %H:%M" if span < 3 * 86400 else "%Y-%m-%d"
    for n, moment in enumerate(moments):
        anchor = "start" if n == 0 else "end" if n == len(moments) - 1 else "middle"
        parts.append(
            f'<text class="axis" x="{x(moment):.1f}" y="{HEIGHT - 14}" text-anchor="{anchor}">'
            f"{escape(moment.strftime(label))}</text>"
        )
    for s in series:
        ordered = sorted(s.points)
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in ordered)
        parts.append(f'<polyline class="line {escape(s.css)}" points="{coords}"/>')
        for t, v in ordered:
            parts.append(
                f'<circle class="dot {escape(s.css)}" cx="{x(t):.1f}" cy="{y(v):.1f}" r="4">'
                f"<title>{escape(s.name)} {escape(fmt_number(v))} at "
                f"{escape(t.strftime('%Y-%m-%d %H:%M:%S UTC'))}</title></circle>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _time_ticks(t0: float, t1: float, count: int = 4) -> list[datetime]:
    from datetime import UTC

    return [datetime.fromtimestamp(t0 + (t1 - t0) * i / (count - 1), UTC) for i in range(count)]
