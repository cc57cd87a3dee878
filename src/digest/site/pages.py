"""The site's page model: day records turned into what the templates show (`DayPage` of `PaperCard`s).

Abstracts and deep reads are Markdown rendered with markdown-it-py in CommonMark mode, which reads lists the
way GitHub Pages does; math becomes MathML at build time (digest.site.mathml), so pages need no script and no
other host. The only HTML the templates pass through unescaped is what `markdown_html` made from sanitized
texts, and `check_safe` refuses a page that carries anything that runs code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

from digest.core.errors import DigestError, UsageError
from digest.core.record import DayRecord, Entry, split_id
from digest.core.store import DamagedRecord, read_record, record_days, record_path
from digest.core.urls import page_url, paper_anchors, paper_url, post_path
from digest.enrich.topics import Taxonomy, apply_topics, load_taxonomy
from digest.publish.markdown import paper_view, tz_labels
from digest.publish.provenance import new_version_note, provenance_line
from digest.site.mathml import math_plugin, render_text

_UNSAFE_TAG = re.compile(r"<\s*/?\s*(script|iframe|frame|object|embed|style|base|meta|link)\b", re.IGNORECASE)
_TAG = re.compile(r"<[A-Za-z][^<>]*>")
_EVENT_ATTR = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
_JS_URL = re.compile(r"""(?:href|src)\s*=\s*["']?\s*(?:javascript|vbscript|data):""", re.IGNORECASE)
_PAREN_ITEM = re.compile(r"^( {0,3}\d{1,9})\)(?=[ \t]|$)")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class TopicChip:
    """One topic of a paper as the site shows it."""

    slug: str
    label: str


@dataclass(frozen=True)
class PaperCard:
    """One paper as a page shows it: plain strings (the templates escape them) and sanitized HTML."""

    id: str
    anchor: str  # the base id written as 2601-03227: a stable in-page link
    title: str
    authors: list[str]
    categories: list[str]
    abs_url: str
    pdf_url: str
    abstract_html: str | LazyHtml  # sanitized Markdown rendered to HTML
    note_html: str | LazyHtml  # the missing-translation notice as HTML; empty when the translation is there
    deep_read_html: str | LazyHtml | None  # None: no deep read was asked for
    deep_read_failed: bool
    title_html: str = ""  # the title escaped, its TeX as MathML
    topics: list[TopicChip] = field(default_factory=list)
    # "none" (not asked), "done", "pending" (not read yet, deferred reads too) or "failed"
    deep_read_state: str = "none"
    entry: Entry | None = None  # the record entry, for templates that show more (provenance, versions)
    provenance: str = ""  # the line under the deep read (digest.publish.provenance)
    new_version_label: str = ""  # 有新版本 v2, when a replacement was announced after posting
    new_version_url: str = ""
    title_zh: str = ""  # the Chinese title, when the title task has run
    paper_url: str = ""  # site-root path of the paper's own page, e.g. papers/2601.03227/


@dataclass(frozen=True)
class LeftOutLink:
    title: str
    url: str


@dataclass
class DayPage:
    """One day as the site shows it: the page model its templates lay out."""

    date: str
    slug: str
    title: str
    url: str  # site-root path, e.g. /2026/01/07/arxiv.html
    window_start: str
    window_end: str
    anchor_time: str
    tz_label: str  # CST
    tz_long: str  # CST，北京时间
    fetched: int
    shown: int
    papers: list[PaperCard]
    left_out: list[LeftOutLink]
    html: str = ""  # the day's content as the post page shows it (site/day.html.j2)
    published: str = ""  # the post's anchor time in its zone, ISO 8601 (the feeds' dates)

    @property
    def pending(self) -> int:
        """Papers whose deep read is not there yet (deferred ones included)."""
        return sum(1 for p in self.papers if p.deep_read_state == "pending")

    @property
    def failed(self) -> int:
        """Papers whose deep read failed."""
        return sum(1 for p in self.papers if p.deep_read_state == "failed")


# ---------------------------------------------------------------- Markdown


def kramdown_compat(body: str) -> str:
    """Make CommonMark read a post as kramdown does: `1)` starts no list there (the deep reads' part numbers)."""
    out: list[str] = []
    fence: str | None = None
    for line in body.split("\n"):
        m = _FENCE.match(line)
        if fence is not None:
            if m and m.group(1)[0] == fence:
                fence = None
        elif m:
            fence = m.group(1)[0]
        else:
            line = _PAREN_ITEM.sub(r"\1\\)", line)
        out.append(line)
    return "\n".join(out)


def markdown_renderer() -> MarkdownIt:
    """CommonMark with the raw HTML the sanitizer lets through, tables, strikethrough, and TeX as MathML."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.use(math_plugin)
    return md


def check_safe(html: str, where: str) -> None:
    """Raise if a day's HTML carries anything that runs code; record texts are sanitized, so this is a bug."""
    problem = None
    if m := _UNSAFE_TAG.search(html):
        problem = f"a <{m.group(1).lower()}> element"
    else:
        for tag in _TAG.finditer(html):
            if _EVENT_ATTR.search(tag.group(0)):
                problem = "an event-handler attribute"
            elif _JS_URL.search(tag.group(0)):
                problem = "a script URL"
            if problem:
                break
    if problem:
        raise DigestError(
            f"{where}: the day's HTML contains {problem}; refusing to publish it "
            "(the record's text escaped the sanitizer: fix the record by hand and report a bug)"
        )


# ---------------------------------------------------------------- page model (records -> what templates show)


def markdown_html(text: str, md: MarkdownIt) -> str:
    """Sanitized Markdown (sanitize.clean_block output) as HTML for a page."""
    return str(md.render(kramdown_compat(text)))


class LazyHtml:
    """Sanitized Markdown rendered to HTML when a template first shows it.

    Rendering Markdown is most of a build's own work, and an incremental build shows only the changed days'
    papers in full: the cards of the other days are still made (topic pages and feeds list them) but never
    render their texts.
    """

    __slots__ = ("_html", "_md", "_text")

    def __init__(self, text: str, md: MarkdownIt) -> None:
        self._text = text
        self._md = md
        self._html: str | None = None

    def __html__(self) -> str:
        if self._html is None:
            self._html = markdown_html(self._text, self._md)
        return self._html

    def __str__(self) -> str:
        return self.__html__()

    def __bool__(self) -> bool:
        return bool(self._text)

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def _safe_url(url: str) -> str:
    # Record links come from arXiv or an import; anything but a web link is shown as a dead one.
    return url if url.startswith(("https://", "http://")) else "#"


def deep_read_state(entry: Entry) -> str:
    """none (not asked or skipped), done, pending (not read yet; deferred counts) or failed."""
    d = entry.deep_read
    if d is None or d.status == "skipped":
        return "none"
    if d.status == "deferred":
        return "pending"
    if d.status == "done" and d.text.strip():
        return "done"
    return "failed"


def paper_card(
    entry: Entry, md: MarkdownIt, anchor: str, taxonomy: Taxonomy | None = None, zone: str = "UTC"
) -> PaperCard:
    """The page model of one paper, built from its record entry."""
    view = paper_view(entry)  # the same sanitized texts and placeholders the post shows
    deep = view["deep_read"]
    state = deep_read_state(entry)
    title = " ".join(entry.title.split())
    return PaperCard(
        id=entry.id,
        anchor=anchor,
        title=title,
        authors=list(entry.authors),
        categories=list(entry.categories),
        abs_url=_safe_url(entry.abs_url),
        pdf_url=_safe_url(entry.pdf_url),
        abstract_html=LazyHtml(str(view["abstract"]), md),
        note_html=LazyHtml(str(view["note"]), md) if view["note"] else "",
        deep_read_html=None if deep is None else LazyHtml(str(deep), md),
        deep_read_failed=state == "failed",
        title_html=render_text(title),
        topics=[TopicChip(slug, taxonomy.label(slug) if taxonomy else slug) for slug in entry.topics],
        deep_read_state=state,
        entry=entry,
        title_zh=chinese_title(entry),
        paper_url=paper_url(entry),
        **_provenance_fields(entry, zone),
    )


def chinese_title(entry: Entry) -> str:
    """The entry's Chinese title, whitespace collapsed; empty when it has none yet."""
    # read defensively: the field is being added to Entry (a string, or a result carrying its text)
    value = getattr(entry, "title_zh", "") or ""
    if not isinstance(value, str):
        value = getattr(value, "text", "") or ""
    return " ".join(str(value).split())


def base_id(entry: Entry) -> str:
    """The arXiv id without its version; an imported paper's unreadable id as it is."""
    try:
        return split_id(entry.id)[0]
    except ValueError:
        return entry.id


def _provenance_fields(entry: Entry, zone: str) -> dict[str, str]:
    newer = new_version_note(entry)
    return {
        "provenance": provenance_line(entry, zone),
        "new_version_label": newer.label if newer else "",
        "new_version_url": _safe_url(newer.url) if newer else "",
    }


def day_page(record: DayRecord, md: MarkdownIt, title_template: str, taxonomy: Taxonomy | None = None) -> DayPage:
    """The page model of one day record."""
    start = dt.datetime.fromisoformat(record.window.start)
    end = dt.datetime.fromisoformat(record.window.end)
    short, long = tz_labels(record.window.timezone, start)
    anchors = paper_anchors(record.papers)
    zone = record.window.timezone
    cards = [paper_card(e, md, anchor, taxonomy, zone) for e, anchor in zip(record.papers, anchors, strict=True)]
    name = post_path(Path(), record.date)
    return DayPage(
        date=record.date,
        slug=name.stem[11:],
        title=title_template.replace("{date}", record.date),
        url=page_url("", record.date),
        window_start=start.strftime("%Y-%m-%d %H:%M"),
        window_end=end.strftime("%Y-%m-%d %H:%M"),
        anchor_time=record.window.anchor,
        tz_label=short,
        tz_long=long,
        fetched=record.counts.fetched,
        shown=record.counts.shown,
        papers=cards,
        left_out=[LeftOutLink(lo.title, _safe_url(lo.abs_url)) for lo in record.left_out],
        published=_anchor_iso(record, end),
    )


def _anchor_iso(record: DayRecord, end: dt.datetime) -> str:
    # The post is dated at its anchor (the window's end) in the window's zone: 2026-01-07T08:50:00+08:00.
    try:
        hh, mm = (int(x) for x in record.window.anchor.split(":"))
        day = dt.date.fromisoformat(record.date)
        if end.tzinfo is not None:
            return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=end.tzinfo).isoformat()
    except ValueError:
        pass
    return end.isoformat()


# What a build shows for a day whose record is damaged (its post, read back), or None to leave the day out.
Fallback = Callable[[DamagedRecord], DayRecord | None]


def load_records(records_dir: Path, fallback: Fallback | None = None) -> list[DayRecord]:
    """Every day record, newest first; a clear error when the folder is missing.

    A damaged record raises, unless `fallback` gives what stands in for it (None: the day is left out).
    """
    if records_dir.is_file():
        raise UsageError(f"{records_dir}: is a file, not a folder; set site.records_dir in the config to a folder")
    if not records_dir.is_dir():
        raise UsageError(
            f"{records_dir}: no such folder; set site.records_dir in the config, or run or import a day first"
        )
    records = []
    for d in sorted(record_days(records_dir), reverse=True):
        try:
            records.append(read_record(record_path(records_dir, d)))
        except DamagedRecord as exc:
            if fallback is None:
                raise
            if (stand_in := fallback(exc)) is not None:
                records.append(stand_in)
    return records


def load_pages(
    records_dir: Path, title_template: str, md: MarkdownIt | None = None, taxonomy: Taxonomy | None = None,
    fallback: Fallback | None = None,
) -> list[DayPage]:
    """Every day record as a page model, newest first (topics recomputed in memory when stale)."""
    md = md or markdown_renderer()
    taxonomy = taxonomy or load_taxonomy()
    pages = []
    for record in load_records(records_dir, fallback):
        apply_topics(record, taxonomy)
        pages.append(day_page(record, md, title_template, taxonomy))
    return pages
