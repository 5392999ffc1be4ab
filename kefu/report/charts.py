"""Small SVG charts for the report: horizontal bars, columns (histograms, per-day counts), pies.

Every chart is a standalone SVG document (a string) with its labels as text, so Chinese shows in
whatever font the reader's browser has.  Labels are escaped and stripped of characters XML does
not allow, so no label can add markup (``<script>`` stays text).  The page embeds charts as
images (:func:`data_uri`), where a browser runs no script anyway.
"""

from __future__ import annotations

import base64
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape

FONT = "'PingFang SC','Microsoft YaHei','Noto Sans CJK SC','Helvetica Neue',Arial,sans-serif"
FONT_SIZE = 12
PALETTE = (
    "#2f6fb0", "#e07b39", "#3a9a5b", "#c9464b", "#7c5fb0",
    "#8c6d4f", "#d36aa8", "#6f7b86", "#b5a52a", "#2aa5b5",
)  # fmt: skip
BAR_COLOR = PALETTE[0]
TEXT_COLOR = "#333333"
GRID_COLOR = "#dddddd"
NO_DATA = "无数据 No data"
MAX_LABEL_WIDTH = 180.0

# characters XML 1.0 does not allow (control characters, lone surrogates, U+FFFE/U+FFFF)
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

Item = tuple[str, float]


def clean(label: object) -> str:
    """``label`` as one line of text that XML allows (not yet escaped)."""
    text = _INVALID_XML.sub("", str(label if label is not None else ""))
    return " ".join(text.split())


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Approximate width in pixels: wide (CJK, full-width) characters 1 em, others 0.6 em."""
    return sum(size if unicodedata.east_asian_width(c) in ("W", "F") else size * 0.6 for c in text)


def fit(text: str, width: float, size: float = FONT_SIZE) -> str:
    """``text`` cut with "…" to fit ``width`` pixels."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _attr(value: object) -> str:
    return escape(clean(value), {'"': "&quot;", "'": "&apos;"})


def _text(x: float, y: float, content: str, anchor: str = "start", **extra: object) -> str:
    attributes = "".join(f' {k.replace("_", "-")}="{_attr(v)}"' for k, v in extra.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{attributes}>'
        f"{escape(clean(content))}</text>"
    )


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" font-family="{_attr(FONT)}" '
        f'font-size="{FONT_SIZE}" fill="{TEXT_COLOR}">'
        f"<title>{escape(clean(title))}</title>" + "".join(body) + "</svg>"
    )


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _values(items: Sequence[Item]) -> list[tuple[str, float]]:
    result = []
    for label, value in items:
        number = float(value) if value is not None else 0.0
        result.append((clean(label), number if math.isfinite(number) and number > 0 else 0.0))
    return result


def _no_data(title: str, width: float) -> str:
    height = 60.0
    body = [_text(width / 2, height / 2 + 4, NO_DATA, anchor="middle", fill="#888888")]
    return _svg(width, height, title, body)


def bar_chart(
    items: Sequence[Item],
    title: str = "",
    width: float = 560,
    value_text: Callable[[float], str] = _number,
) -> str:
    """Horizontal bars, one per ``(label, value)``, in the given order."""
    data = _values(items)
    if not data:
        return _no_data(title, width)
    row, top = 24.0, 8.0
    label_width = min(max(text_width(label) for label, _ in data) + 8, MAX_LABEL_WIDTH)
    value_room = 64.0
    plot = max(width - label_width - value_room, 40.0)
    peak = max(v for _, v in data) or 1.0
    height = top * 2 + row * len(data)
    body: list[str] = []
    for index, (label, value) in enumerate(data):
        y = top + index * row
        length = plot * value / peak
        body.append(
            _text(label_width - 6, y + row / 2 + 4, fit(label, label_width - 8), anchor="end")
        )
        body.append(
            f'<rect x="{label_width:.1f}" y="{y + 4:.1f}" width="{length:.1f}" '
            f'height="{row - 8:.1f}" fill="{BAR_COLOR}"/>'
        )
        body.append(_text(label_width + length + 4, y + row / 2 + 4, value_text(value)))
    return _svg(width, height, title, body)


def column_chart(
    items: Sequence[Item],
    title: str = "",
    width: float = 560,
    height: float = 220,
    value_text: Callable[[float], str] = _number,
    color: str = BAR_COLOR,
) -> str:
    """Vertical columns (a histogram, counts per day), labels below; with many columns only
    every n-th label is written, and values are written when they fit."""
    data = _values(items)
    if not data:
        return _no_data(title, width)
    left, right, top, bottom = 36.0, 8.0, 18.0, 28.0
    plot_width, plot_height = width - left - right, height - top - bottom
    step = plot_width / len(data)
    peak = max(v for _, v in data) or 1.0
    label_room = max(max(text_width(label) for label, _ in data), 1.0) + 6
    every = max(1, math.ceil(label_room / step))
    body = [
        f'<line x1="{left:.1f}" y1="{top + plot_height:.1f}" x2="{width - right:.1f}" '
        f'y2="{top + plot_height:.1f}" stroke="{GRID_COLOR}"/>',
        _text(left - 4, top + 4, _number(peak), anchor="end", fill="#888888"),
        _text(left - 4, top + plot_height, "0", anchor="end", fill="#888888"),
    ]
    show_values = step >= text_width(_number(peak)) + 2
    for index, (label, value) in enumerate(data):
        x = left + index * step
        bar = plot_height * value / peak
        body.append(
            f'<rect x="{x + step * 0.1:.1f}" y="{top + plot_height - bar:.1f}" '
            f'width="{step * 0.8:.1f}" height="{bar:.1f}" fill="{_attr(color)}"/>'
        )
        if show_values and value:
            body.append(
                _text(x + step / 2, top + plot_height - bar - 3, value_text(value), "middle")
            )
        if index % every == 0:
            body.append(_text(x + step / 2, height - bottom + 16, fit(label, label_room), "middle"))
    return _svg(width, height, title, body)


def histogram(counts: Sequence[Item], title: str = "", width: float = 360) -> str:
    """Counts per bucket (e.g. ratings 1-5) as columns."""
    return column_chart(counts, title=title, width=width, height=200)


def pie_chart(items: Sequence[Item], title: str = "", width: float = 460) -> str:
    """A pie with a legend (label, value, share); zero values appear in the legend only."""
    data = _values(items)
    total = sum(v for _, v in data)
    if not data or total <= 0:
        return _no_data(title, width)
    radius = 80.0
    cx, cy = radius + 10, radius + 10
    height = max(2 * radius + 20, 24.0 * len(data) + 20)
    body: list[str] = []
    angle = -math.pi / 2
    nonzero = [(i, v) for i, (_, v) in enumerate(data) if v > 0]
    for index, value in nonzero:
        color = PALETTE[index % len(PALETTE)]
        if len(nonzero) == 1:
            body.append(f'<circle cx="{cx}" cy="{cy}" r="{radius}" fill="{color}"/>')
            break
        sweep = 2 * math.pi * value / total
        x1, y1 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        angle += sweep
        x2, y2 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        large = 1 if sweep > math.pi else 0
        body.append(
            f'<path d="M{cx:.1f},{cy:.1f} L{x1:.2f},{y1:.2f} '
            f'A{radius:.1f},{radius:.1f} 0 {large} 1 {x2:.2f},{y2:.2f} Z" fill="{color}"/>'
        )
    legend_x = 2 * radius + 30
    for index, (label, value) in enumerate(data):
        y = 16 + index * 24.0
        color = PALETTE[index % len(PALETTE)]
        body.append(f'<rect x="{legend_x:.1f}" y="{y - 10:.1f}" width="12" height="12" '
                    f'fill="{color}"/>')  # fmt: skip
        share = f"{value / total:.0%}"
        text = f"{label} {_number(value)} ({share})"
        body.append(_text(legend_x + 18, y, fit(text, width - legend_x - 20)))
    return _svg(width, height, title, body)


def data_uri(svg: str) -> str:
    """``svg`` as a ``data:image/svg+xml;base64,…`` URI for an ``<img>``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
