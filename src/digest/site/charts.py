"""Small inline SVG charts for the topics page: each topic's papers per month, drawn at build time.

No script and no other host: the SVG is part of the page, every topic on one month axis so the bars compare,
and each chart says what it shows in its <title> and aria-label for screen readers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from markupsafe import Markup, escape

WIDTH = 168  # px; the bars share it
HEIGHT = 36
GAP = 1  # px between bars


def month_axis(days: Iterable[str]) -> list[str]:
    """Every month (YYYY-MM) from the first day's to the last day's, none skipped."""
    months = sorted({d[:7] for d in days})
    if not months:
        return []
    year, month = (int(x) for x in months[0].split("-"))
    out = []
    while f"{year:04d}-{month:02d}" <= months[-1]:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def per_month(days: Iterable[str], axis: list[str]) -> list[int]:
    """How many of `days` (one per paper) fall in each month of the axis."""
    counts = Counter(d[:7] for d in days)
    return [counts.get(m, 0) for m in axis]


def _month_label(month: str) -> str:
    year, m = month.split("-")
    return f"{year} 年 {int(m)} 月"


def month_chart(label: str, axis: list[str], counts: list[int], scale: int | None = None) -> Markup:
    """An SVG bar chart of papers per month; `scale` is the count a full-height bar stands for."""
    top = max(scale or 0, *counts, 1)
    step = WIDTH / max(len(axis), 1)
    said = "，".join(f"{_month_label(m)} {n} 篇" for m, n in zip(axis, counts, strict=True))
    text = f"{label}每月论文数：{said}" if axis else f"{label}：还没有论文"
    bars = []
    for i, (month, n) in enumerate(zip(axis, counts, strict=True)):
        h = round((HEIGHT - 2) * n / top, 1) if n else 0.0
        x = round(i * step, 1)
        w = round(max(step - GAP, 1.0), 1)
        bars.append(
            f'<rect x="{x}" y="{round(HEIGHT - 1 - h, 1)}" width="{w}" height="{h}">'
            f"<title>{escape(_month_label(month))}：{n} 篇</title></rect>"
        )
    svg = (
        f'<svg class="chart" role="img" aria-label="{escape(text)}" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(text)}</title>"
        f'<line class="chart-base" x1="0" y1="{HEIGHT - 0.5}" x2="{WIDTH}" y2="{HEIGHT - 0.5}"/>'
        + "".join(bars)
        + "</svg>"
    )
    return Markup(svg)
