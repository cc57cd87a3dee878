"""The select stage: one entry per paper, nothing posted twice, filters, the cap; every drop says why."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from digest.core.config import FilterConfig
from digest.core.record import Paper, newest_versions
from digest.fetch.arxiv import sort_newest_first


@dataclass
class Selection:
    """What the post shows (kept), what was removed and why (dropped), what the cap cut (left_out)."""

    kept: list[Paper] = field(default_factory=list)
    dropped: list[tuple[Paper, str]] = field(default_factory=list)
    left_out: list[Paper] = field(default_factory=list)
    fetched: int = 0


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive match; the words of a phrase may be split by any whitespace."""
    words = [re.escape(w) for w in keyword.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


Keywords = list[tuple[str, re.Pattern[str]]]


def _compiled(keywords: list[str]) -> Keywords:
    return [(kw, keyword_pattern(kw)) for kw in keywords if kw.strip()]


def _first_match(paper: Paper, keywords: Keywords) -> str | None:
    text = f"{paper.title}\n{paper.abstract}"
    for kw, pattern in keywords:
        if pattern.search(text):
            return kw
    return None


def select(papers: list[Paper], cfg: FilterConfig, posted: dict[str, str], categories: list[str]) -> Selection:
    """Dedupe, drop what earlier posts have, apply the filters, cap at max_papers (newest kept)."""
    sel = Selection(fetched=len(papers))
    best = newest_versions(papers)
    claimed: set[str] = set()
    for p in papers:
        winner = best[p.base_id]
        if p is winner and p.base_id not in claimed:
            claimed.add(p.base_id)
        else:
            sel.dropped.append((p, f"duplicate of {winner.id}"))
    candidates: list[Paper] = []
    include, exclude = _compiled(cfg.include_keywords), _compiled(cfg.exclude_keywords)
    for p in sort_newest_first(best.values()):
        reason = _reason(p, cfg, posted, categories, include, exclude)
        if reason:
            sel.dropped.append((p, reason))
        else:
            candidates.append(p)
    if cfg.max_papers is not None and len(candidates) > cfg.max_papers:
        sel.kept, sel.left_out = candidates[: cfg.max_papers], candidates[cfg.max_papers :]
    else:
        sel.kept = candidates
    return sel


def _reason(
    p: Paper, cfg: FilterConfig, posted: dict[str, str], categories: list[str], include: Keywords, exclude: Keywords
) -> str:
    if p.base_id in posted:
        return f"already in the post of {posted[p.base_id]}"
    if cfg.primary_only and p.primary_category not in categories:
        return f"not primary in {'/'.join(categories)} (primary: {p.primary_category or 'unknown'})"
    hit = _first_match(p, exclude)
    if hit is not None:
        return f"matches exclude keyword '{hit}'"
    if include and _first_match(p, include) is None:
        return "no include keyword"
    return ""
