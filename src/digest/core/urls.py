"""Where a day lives: its post file, its page URL and each paper's anchor on that page (one rule each)."""

from __future__ import annotations

import re
from pathlib import Path

from digest.core.record import DayRecord, Entry, split_id

_NOT_ANCHOR = re.compile(r"[^A-Za-z0-9]+")


def post_path(posts_dir: Path, day: str) -> Path:
    """The Jekyll post of a day: {posts_dir}/YYYY-MM-DD-arxiv.md."""
    return posts_dir / f"{day}-arxiv.md"


def page_url(site_url: str, day: str) -> str:
    """The page Jekyll (and `digest build`) makes of a day's post: {site}/YYYY/MM/DD/arxiv.html."""
    y, m, d = day.split("-")
    return f"{site_url.rstrip('/')}/{y}/{m}/{d}/arxiv.html"


def _anchor_base(entry: Entry) -> str:
    try:
        base = split_id(entry.id)[0]
    except ValueError:  # an imported paper whose id could not be read
        base = entry.id
    return _NOT_ANCHOR.sub("-", base).strip("-") or "paper"


def paper_anchors(record: DayRecord) -> list[str]:
    """Each paper's heading id on its day page, in record order (a repeated base id gets -2, -3)."""
    used: set[str] = set()
    out = []
    for entry in record.papers:
        base = _anchor_base(entry)
        anchor, n = base, 2
        while anchor in used:
            anchor, n = f"{base}-{n}", n + 1
        used.add(anchor)
        out.append(anchor)
    return out


def paper_anchor(record: DayRecord, paper_id: str) -> str:
    """The heading id of one paper (the first with this id) on its day page; "" when the day does not show it."""
    for entry, anchor in zip(record.papers, paper_anchors(record), strict=True):
        if entry.id == paper_id:
            return anchor
    return ""
