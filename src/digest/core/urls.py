"""Where a day lives: its post file, the URL of its page, and each paper's anchor on that page.

The post, the site and the notifications all link to the same places, so these rules live here once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from digest.core.errors import UsageError
from digest.core.record import Entry, split_id

# The post file's slug after the date: 2026-01-07-arxiv.md.
POST_SLUG = "arxiv"
# A Jekyll post file name: its date and slug make its URL.
POST_NAME = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-(?P<slug>.+)\.(?:md|markdown)$")
_NOT_ANCHOR = re.compile(r"[^A-Za-z0-9]+")
_NOT_SLUG = re.compile(r"[^A-Za-z0-9.]+")  # old-style ids (cs/0112017) keep no slash in their folder name


def post_path(posts_dir: Path, day: str) -> Path:
    """The post file of a day (YYYY-MM-DD): `<posts_dir>/2026-01-07-arxiv.md`."""
    return posts_dir / f"{day}-{POST_SLUG}.md"


def post_url(path: Path) -> str:
    """The URL Jekyll gives a post file by default: `2026-01-07-arxiv.md` -> `/2026/01/07/arxiv.html`."""
    m = POST_NAME.match(path.name)
    if not m:
        raise UsageError(f"{path.name}: not a post file name (expected YYYY-MM-DD-<slug>.md)")
    year, month, day = m.group("date").split("-")
    return f"/{year}/{month}/{day}/{m.group('slug')}.html"


def page_url(site_url: str, day: str) -> str:
    """The page of a day's post under the site's URL ("" gives the site-root path /2026/01/07/arxiv.html)."""
    return site_url.rstrip("/") + post_url(post_path(Path(), day))


def _base_of(paper: Entry | str) -> str:
    """The paper's arXiv id without version; an imported paper's unreadable id as it is."""
    pid = paper.id if isinstance(paper, Entry) else paper
    try:
        return split_id(pid)[0]
    except ValueError:
        return pid


def paper_anchor(paper: Entry | str) -> str:
    """A paper's heading id on its day page: its arXiv id without version, runs of other characters as '-'."""
    return _NOT_ANCHOR.sub("-", _base_of(paper)).strip("-") or "paper"


def paper_anchors(papers: Iterable[Entry | str]) -> list[str]:
    """Each paper's heading id in page order; a repeated one gets -2, -3 so every id stays unique."""
    used: set[str] = set()
    out = []
    for paper in papers:
        base = paper_anchor(paper)
        anchor, n = base, 2
        while anchor in used:
            anchor, n = f"{base}-{n}", n + 1
        used.add(anchor)
        out.append(anchor)
    return out


def paper_url(paper: Entry | str) -> str:
    """The site-root path of a paper's own page: papers/<arXiv id without version>/, stable across versions."""
    return f"papers/{_NOT_SLUG.sub('-', _base_of(paper)).strip('-.') or 'paper'}/"
