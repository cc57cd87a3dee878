"""A day as the notifications tell it: date, counts, topic breakdown and the papers, independent of any platform."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from digest.core.record import DayRecord, Entry
from digest.core.urls import page_url, paper_anchor

# Titles are capped so one paper always fits in the smallest message (WeCom's 4096 bytes): 300 English characters
# and 150 Chinese ones (3 UTF-8 bytes each) leave room for the link and topics.
MAX_TITLE = 300
MAX_TITLE_ZH = 150
# The gist under a mailed title: the first sentence of the Chinese abstract, cut at this many characters.
MAX_GIST = 200
_SENTENCE_END = re.compile(r"[。！？]")

TopicSource = Mapping[str, Sequence[str]] | Callable[[Entry], Sequence[str]] | None


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def first_sentence(text: str) -> str:
    """The first sentence of a Chinese text, up to and with its 。！？ (the whole first paragraph when it has none)."""
    para = " ".join((text.strip().split("\n\n") or [""])[0].split())
    m = _SENTENCE_END.search(para)
    return para[: m.end()] if m else para


@dataclass(frozen=True)
class PaperItem:
    id: str
    title: str
    link: str  # the paper's anchor in the site's post, or its arXiv page
    abs_url: str
    topics: tuple[str, ...]
    abstract: str = ""  # for keyword filters only; never sent
    title_zh: str = ""  # the Chinese title, "" while the paper has none
    gist: str = ""  # the first sentence of the Chinese abstract (mail only), "" without a translation


@dataclass(frozen=True)
class TopicCount:
    slug: str
    label: str
    count: int


@dataclass(frozen=True)
class DayDigest:
    """What every channel's message is made from; `select` narrows it to a channel's filters."""

    date: str
    fetched: int  # 抓取总数
    shown: int  # 本页显示
    papers: tuple[PaperItem, ...]
    labels: Mapping[str, str]
    post_url: str | None  # None without site.url: links then go to arXiv
    day_papers: int  # papers in the day's post, before a channel's filters

    def label(self, slug: str) -> str:
        return self.labels.get(slug, slug)

    @property
    def filtered(self) -> bool:
        return len(self.papers) != self.day_papers

    def topic_counts(self) -> list[TopicCount]:
        """Papers per topic among `papers`, the taxonomy's topics in its order first, none with zero."""
        counts: dict[str, int] = {}
        for p in self.papers:
            for t in p.topics:
                counts[t] = counts.get(t, 0) + 1
        order = [t for t in self.labels if t in counts] + sorted(t for t in counts if t not in self.labels)
        return [TopicCount(t, self.label(t), counts[t]) for t in order]

    def topic_line(self, sep: str = " · ") -> str:
        return sep.join(f"{tc.label} {tc.count}" for tc in self.topic_counts())

    def paper_topics(self, paper: PaperItem, sep: str = " / ") -> str:
        return sep.join(self.label(t) for t in paper.topics)

    def select(self, topics: Sequence[str] = (), keywords: Sequence[str] = ()) -> DayDigest:
        """Only the papers with one of `topics` (if any given) and one of `keywords` as a whole word (if any)."""
        wanted = set(topics)
        pattern = _keyword_pattern(keywords)
        kept = tuple(
            p
            for p in self.papers
            if (not wanted or wanted.intersection(p.topics))
            and (pattern is None or pattern.search(p.title) or pattern.search(p.abstract))
        )
        return replace(self, papers=kept)


def _keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str] | None:
    if not keywords:
        return None
    # Whole words: no letter or digit right before or after ("TTS" matches "TTS," but not "TTSR").
    alts = "|".join(re.escape(k) for k in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alts})(?!\w)", re.IGNORECASE)


def _gist(entry: Entry) -> str:
    """The first sentence of the paper's Chinese abstract: no model call, "" while it is not translated."""
    t = entry.translation
    return shorten(first_sentence(t.text), MAX_GIST) if t is not None and t.status == "done" else ""


def _topics_of(entry: Entry, source: TopicSource) -> tuple[str, ...]:
    if source is None:
        return ()
    if callable(source):
        return tuple(source(entry))
    found = source.get(entry.id)
    if found is None:
        found = source.get(entry.base_id, ())
    return tuple(found)


def build_digest(
    record: DayRecord,
    *,
    topics: TopicSource = None,
    labels: Mapping[str, str] | None = None,
    site_url: str | None = None,
    anchor_for: Callable[[Entry], str] = paper_anchor,
) -> DayDigest:
    """The neutral digest of a record; `topics` maps a paper id (with or without version) to slugs, or is a callable.

    Links go to the paper's anchor in the site's post when `site_url` is given, else to its arXiv page.
    """
    page = page_url(site_url, record.date) if site_url else None
    papers = tuple(
        PaperItem(
            id=e.id,
            title=shorten(" ".join(e.title.split()), MAX_TITLE),
            link=f"{page}#{anchor_for(e)}" if page else e.abs_url,
            abs_url=e.abs_url,
            topics=_topics_of(e, topics),
            abstract=e.abstract,
            title_zh=shorten(" ".join(e.title_zh.split()), MAX_TITLE_ZH),
            gist=_gist(e),
        )
        for e in record.papers
    )
    return DayDigest(
        date=record.date,
        fetched=record.counts.fetched,
        shown=record.counts.shown,
        papers=papers,
        labels=dict(labels or {}),
        post_url=page,
        day_papers=len(papers),
    )
