"""Charts as server-rendered SVG, inline in the page: no script, no style attribute (our
CSP), colours from CSS classes in app.css (with presentation attributes as a fallback).
Each bar carries an SVG <title>: its number shows on hover. Titles and axis labels come in
translated; data words (states, policies) are translated with `translate`.

The page puts the same numbers in a table under each chart (the fallback).
"""

import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

FONT = 11  # px: the size text is laid out for (app.css sets the same)
CHAR = 6.6  # px: width of a character, roughly, to size the label column


def _width(text: str) -> int:
    """Characters as wide as a Latin one: a Chinese character counts twice."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@dataclass(frozen=True)
class Bar:
    label: str  # the data word (translated when drawn)
    value: float
    shown: str  # the number as the page shows it (hover and table)


def _svg(name: str, title: str, width: float, height: float, body: list[str], css: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {escape(css)}" width="{width:g}" height="{height:g}" '
        f'viewBox="0 0 {width:g} {height:g}" '
        f'role="img" aria-labelledby="{escape(name)}-title" font-size="{FONT}">'
        f'<title id="{escape(name)}-title">{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _empty(name: str, title: str, message: str) -> Markup:
    body = [f'<text class="empty" x="160" y="34" text-anchor="middle" fill="#5b6475">{escape(message)}</text>']
    return _svg(name, title, 320, 60, body, "chart-empty")


def bar_chart(
    bars: Sequence[Bar],
    *,
    name: str,
    title: str,
    value_label: str,
    empty: str,
    translate: Callable[[str], str] = str,
) -> Markup:
    """Horizontal bars, one per item, the label on the left and the number at the bar's end."""
    if not bars:
        return _empty(name, title, empty)
    labels = [translate(b.label) for b in bars]
    label_w = min(200, 12 + CHAR * max(_width(label) for label in labels))
    bar_w, row, top = 220.0, 22, 8
    number_w = 12 + CHAR * max(len(b.shown) for b in bars)
    width = label_w + bar_w + number_w
    height = top + row * len(bars) + 30
    most = max((b.value for b in bars), default=0) or 1
    body = []
    for i, (bar, label) in enumerate(zip(bars, labels, strict=True)):
        y = top + i * row
        length = max(0.0, bar_w * bar.value / most)
        body.append(
            f'<g class="bar"><title>{escape(label)}: {escape(bar.shown)}</title>'
            f'<text x="{label_w - 6:g}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w:g}" y="{y + 3}" width="{length:.1f}" height="{row - 6}" fill="#1f5fbf"/>'
            f'<text class="number" x="{label_w + length + 4:.1f}" y="{y + 15}">{escape(bar.shown)}</text></g>'
        )
    axis_y = top + row * len(bars) + 2
    body.append(f'<line class="axis" x1="{label_w:g}" y1="{top}" x2="{label_w:g}" y2="{axis_y}" stroke="#d9dee7"/>')
    body.append(
        f'<text class="axis-label" x="{label_w + bar_w / 2:g}" y="{axis_y + 20}" text-anchor="middle">'
        f"{escape(value_label)}</text>"
    )
    return _svg(name, title, width, height, body, "bars")


def _nice_max(value: float) -> float:
    """A round top for an axis at or above `value` (1, 2, 2.5, 5 × 10ⁿ)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


def week_chart(
    weeks: Sequence[Any],
    *,
    name: str,
    title: str,
    x_label: str,
    y_label: str,
    series: Mapping[str, str],
    empty: str,
) -> Markup:
    """Grouped vertical bars, one group per week (`week.label`), one bar per series: `series`
    maps an attribute of the week (its count) to the series' translated name (the legend)."""
    if not weeks:
        return _empty(name, title, empty)
    keys = list(series)
    left, right, top, bottom = 44, 8, 26, 44
    group_w, gap = 64, 10
    plot_w, plot_h = group_w * len(weeks), 170
    width, height = left + plot_w + right, top + plot_h + bottom
    peak = _nice_max(max(float(getattr(w, key)) for w in weeks for key in keys))
    bar_w = (group_w - gap) / len(keys)
    body = []
    for i, key in enumerate(keys):  # the legend
        x = left + i * 130
        body.append(
            f'<g class="legend"><rect class="s-{escape(key)}" x="{x}" y="6" width="10" height="10" fill="#1f5fbf"/>'
            f'<text x="{x + 14}" y="15">{escape(series[key])}</text></g>'
        )
    base = top + plot_h
    for tick in (0, peak / 2, peak):
        y = base - plot_h * tick / peak
        body.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#d9dee7"/>')
        body.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for i, week in enumerate(weeks):
        x0 = left + i * group_w + gap / 2
        for j, key in enumerate(keys):
            value = float(getattr(week, key))
            h = plot_h * value / peak
            x = x0 + j * bar_w
            body.append(
                f'<g class="bar"><title>{escape(week.label)} · {escape(series[key])}: {value:g}</title>'
                f'<rect class="s-{escape(key)}" x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="#1f5fbf"/></g>'
            )
        short = str(week.label).rsplit("-", 1)[-1]
        middle = x0 + (group_w - gap) / 2
        body.append(f'<text x="{middle:.1f}" y="{base + 14}" text-anchor="middle">{escape(short)}</text>')
    body.append(f'<line class="axis" x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#5b6475"/>')
    body.append(
        f'<text class="axis-label" x="{left + plot_w / 2:g}" y="{height - 8}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    body.append(
        f'<text class="axis-label" x="12" y="{top + plot_h / 2:g}" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + plot_h / 2:g})">{escape(y_label)}</text>'
    )
    return _svg(name, title, width, height, body, "weeks")
