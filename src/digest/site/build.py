"""`digest build`: the static HTML site made from the day records, without Ruby or Jekyll.

The site reads `_data/digest/*.json`, never the Markdown posts, so a changed post template cannot break it.
`build_site` turns each record into a page model (`DayPage` of `PaperCard`s) and the templates in
`templates/site/` lay it out with Jinja autoescaping; the only HTML passed through unescaped is what
`markdown_html` made from sanitized abstracts and deep reads, and MathML made from their TeX. Abstracts and
deep reads are Markdown rendered with markdown-it-py in CommonMark mode, which reads lists the way GitHub
Pages does; math becomes MathML at build time (digest.site.mathml), so pages need no script and no other host.
Pages use the URLs Jekyll would give the posts, so links survive a move between the two; links between
pages are relative, so the folder works at any base path, and feeds use `site.url` for absolute links.
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from digest.core.config import Config
from digest.core.errors import DigestError, UsageError
from digest.core.files import write_or_fail
from digest.core.record import DayRecord, Entry
from digest.core.store import read_record, record_days, record_path
from digest.core.urls import paper_anchors, post_path
from digest.enrich.topics import OTHER, Taxonomy, apply_topics, load_taxonomy
from digest.publish.markdown import paper_view, template_env, tz_labels
from digest.publish.provenance import new_version_note, provenance_line
from digest.site.mathml import math_plugin, render_text
from digest.site.search import SEARCH_PAGE

POST_NAME = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-(?P<slug>.+)\.(?:md|markdown)$")
FEED_LIMIT = 20  # posts in feed.xml (and days in a topic feed)
TOPIC_PAGE_SIZE = 40  # papers per topic page
OLD_MANIFEST = ".digest-site"  # where builds before issue 15 kept the manifest: inside the published folder
FILE_MODE = 0o644
DIR_MODE = 0o755

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
    abstract_html: str  # sanitized Markdown rendered to HTML
    note_html: str  # the missing-translation notice as HTML; empty when the translation is there
    deep_read_html: str | None  # None: no deep read was asked for
    deep_read_failed: bool
    title_html: str = ""  # the title escaped, its TeX as MathML
    topics: list[TopicChip] = field(default_factory=list)
    # "none" (not asked), "done", "pending" (not read yet, deferred reads too) or "failed"
    deep_read_state: str = "none"
    entry: Entry | None = None  # the record entry, for templates that show more (provenance, versions)
    provenance: str = ""  # the line under the deep read (digest.publish.provenance)
    new_version_label: str = ""  # 有新版本 v2, when a replacement was announced after posting
    new_version_url: str = ""


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


@dataclass
class BuildResult:
    """What `build_site` wrote."""

    out_dir: Path
    pages: list[Path] = field(default_factory=list)
    posts: int = 0
    topics: dict[str, int] = field(default_factory=dict)  # slug -> papers, for topics in use
    search_pages: int | None = None  # pages in the search index; None when no index was built


def post_url(path: Path) -> str:
    """The URL Jekyll gives a post file by default: `2026-01-07-arxiv.md` -> `/2026/01/07/arxiv.html`."""
    m = POST_NAME.match(path.name)
    if not m:
        raise UsageError(f"{path.name}: not a post file name (expected YYYY-MM-DD-<slug>.md)")
    year, month, day = m.group("date").split("-")
    return f"/{year}/{month}/{day}/{m.group('slug')}.html"


def site_env(user_dir: Path | None = None) -> jinja2.Environment:
    """The site's template environment: like the post templates', but autoescaping HTML and XML."""
    env = template_env(user_dir)
    env.autoescape = jinja2.select_autoescape(["html", "xml", "html.j2", "xml.j2"], default_for_string=True)
    return env


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
    return md.render(kramdown_compat(text))


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
        abstract_html=markdown_html(str(view["abstract"]), md),
        note_html=markdown_html(str(view["note"]), md) if view["note"] else "",
        deep_read_html=None if deep is None else markdown_html(str(deep), md),
        deep_read_failed=state == "failed",
        title_html=render_text(title),
        topics=[TopicChip(slug, taxonomy.label(slug) if taxonomy else slug) for slug in entry.topics],
        deep_read_state=state,
        entry=entry,
        **_provenance_fields(entry, zone),
    )


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
    anchors = paper_anchors(record)
    zone = record.window.timezone
    cards = [paper_card(e, md, anchor, taxonomy, zone) for e, anchor in zip(record.papers, anchors, strict=True)]
    name = post_path(Path(), record.date)
    return DayPage(
        date=record.date,
        slug=name.stem[11:],
        title=title_template.replace("{date}", record.date),
        url=post_url(name),
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


def load_records(records_dir: Path) -> list[DayRecord]:
    """Every day record, newest first; a clear error when the folder is missing."""
    if records_dir.is_file():
        raise UsageError(f"{records_dir}: is a file, not a folder; set site.records_dir in the config to a folder")
    if not records_dir.is_dir():
        raise UsageError(
            f"{records_dir}: no such folder; set site.records_dir in the config, or run or import a day first"
        )
    return [read_record(record_path(records_dir, d)) for d in sorted(record_days(records_dir), reverse=True)]


def load_pages(
    records_dir: Path, title_template: str, md: MarkdownIt | None = None, taxonomy: Taxonomy | None = None
) -> list[DayPage]:
    """Every day record as a page model, newest first (topics recomputed in memory when stale)."""
    md = md or markdown_renderer()
    taxonomy = taxonomy or load_taxonomy()
    pages = []
    for record in load_records(records_dir):
        apply_topics(record, taxonomy)
        pages.append(day_page(record, md, title_template, taxonomy))
    return pages


# ---------------------------------------------------------------- pages


class _Linker:
    """Links between pages, always relative so the folder works at any base path; absolute ones under site_url."""

    def __init__(self, site_url: str) -> None:
        self.base = site_url.rstrip("/")

    def __call__(self, page: str, target: str) -> str:
        target = target.lstrip("/")
        rel = posixpath.relpath(target or ".", posixpath.dirname(page) or ".")
        if target.endswith("/") and rel != ".":
            rel += "/"
        return "./" if rel == "." else rel

    def absolute(self, target: str) -> str:
        """For the feeds: absolute under site.url when it is set, else relative to the site root."""
        target = target.lstrip("/")
        return f"{self.base}/{target}" if self.base else target


def _date_text(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return f"{d.year} 年 {d.month} 月 {d.day} 日"


def site_name(title_template: str) -> str:
    """The site's name from the post title template: "arXiv Daily – {date}" -> "arXiv Daily"."""
    return title_template.replace("{date}", "").strip(" \t-–—·|:：,，") or title_template.replace("{date}", "").strip()


@dataclass(frozen=True)
class TopicPaper:
    """A paper on a topic page: the card and the day it was posted."""

    day: DayPage
    card: PaperCard


@dataclass
class TopicPage:
    """A topic in use: its papers newest first, and the days that have them."""

    slug: str
    label: str
    papers: list[TopicPaper] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"topics/{self.slug}/"

    def days(self) -> list[tuple[DayPage, list[PaperCard]]]:
        """(day, its papers on this topic), newest day first."""
        out: list[tuple[DayPage, list[PaperCard]]] = []
        for tp in self.papers:
            if out and out[-1][0] is tp.day:
                out[-1][1].append(tp.card)
            else:
                out.append((tp.day, [tp.card]))
        return out


@dataclass
class Month:
    """An archive month: its posts newest first."""

    key: str  # 2026-01
    label: str  # 2026 年 1 月
    posts: list[DayPage]

    @property
    def papers(self) -> int:
        return sum(len(p.papers) for p in self.posts)


def topic_pages(posts: list[DayPage], taxonomy: Taxonomy) -> list[TopicPage]:
    """The topics in use, in the taxonomy's order (`other` last), each with its papers newest first."""
    by_slug: dict[str, TopicPage] = {}
    for post in posts:
        for card in post.papers:
            for chip in card.topics:
                page = by_slug.setdefault(chip.slug, TopicPage(chip.slug, chip.label))
                page.papers.append(TopicPaper(post, card))
    order = {t.slug: i for i, t in enumerate(taxonomy.topics)}
    return sorted(by_slug.values(), key=lambda t: (t.slug == OTHER, order.get(t.slug, len(order)), t.slug))


def archive_months(posts: list[DayPage]) -> list[Month]:
    """Posts grouped by month, newest month first."""
    months: list[Month] = []
    for post in posts:
        key = post.date[:7]
        if not months or months[-1].key != key:
            year, month = key.split("-")
            months.append(Month(key, f"{int(year)} 年 {int(month)} 月", []))
        months[-1].posts.append(post)
    return months


class _Writer:
    """Writes the site's files (0644, folders 0755 whatever the umask) and remembers what it wrote."""

    def __init__(self, out_dir: Path, result: BuildResult) -> None:
        self.out_dir = out_dir
        self.result = result

    def __call__(self, rel: str, text: str) -> None:
        path = self.out_dir / rel
        write_or_fail(path, text, "site page")
        os.chmod(path, FILE_MODE)  # atomic writes go through a private temp file (0600)
        self.result.pages.append(path)


def make_public(out_dir: Path, files: Iterable[Path]) -> None:
    """Files 0644 and every folder from out_dir down to them 0755, so a web server running as anyone reads them."""
    out = out_dir.resolve()
    folders = {out}
    for f in files:
        os.chmod(f, FILE_MODE)
        parent = f.resolve().parent
        while parent != out and out in parent.parents:
            folders.add(parent)
            parent = parent.parent
    for d in folders:
        os.chmod(d, DIR_MODE)


def manifest_path(out_dir: Path) -> Path:
    """Where a build lists the files it owns: beside the output folder, so it is never published."""
    out = out_dir.resolve()
    return out.parent / f".{out.name}.digest-site"


def _owned_before(out_dir: Path) -> list[str]:
    lines: list[str] = []
    for manifest in (manifest_path(out_dir), out_dir / OLD_MANIFEST):
        if manifest.is_file():
            lines += manifest.read_text(encoding="utf-8").splitlines()
    return lines


def _remove_stale(out_dir: Path, owned: list[str], written: set[str]) -> None:
    # Only files a previous build listed are removed: --out may point at a folder with other things in it.
    for rel in owned:
        if rel and rel not in written and ".." not in rel.split("/"):
            path = out_dir / rel
            path.unlink(missing_ok=True)
            parent = path.parent
            while parent != out_dir and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()  # an emptied topic or page folder
                parent = parent.parent


def build_site(
    records_dir: Path,
    out_dir: Path,
    *,
    config: Config | None = None,
    site_title: str | None = None,
    base_url: str = "",
    env: jinja2.Environment | None = None,
    taxonomy: Taxonomy | None = None,
    search: bool = False,
) -> BuildResult:
    """Write the static site for the day records into out_dir.

    Home, archive by month, one page per day, topic pages and feeds, the search page, the Atom feed; with
    `search` also the Pagefind index. `base_url` (else `site.url`) is the public URL feeds link under.
    """
    cfg = config or Config()
    env = env or site_env()
    taxonomy = taxonomy or load_taxonomy(cfg.topics_file)
    posts = load_pages(records_dir, cfg.site.title, taxonomy=taxonomy)
    link = _Linker(base_url or cfg.site.url)
    result = BuildResult(out_dir=out_dir, posts=len(posts))
    topics = topic_pages(posts, taxonomy)
    result.topics = {t.slug: len(t.papers) for t in topics}
    common = {
        "site_title": site_title or site_name(cfg.site.title),
        "categories": cfg.arxiv.categories,
        "date_text": _date_text,
        "link": link,
        "search_page": SEARCH_PAGE,
        "all_topics": topics,
    }
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DigestError(f"cannot create {out_dir}: {exc.strerror}; choose another --out folder") from None
    owned = _owned_before(out_dir)
    write = _Writer(out_dir, result)

    write("assets/style.css", env.get_template("site/style.css").render())
    day_template = env.get_template("site/day.html.j2")

    def day_html(day: DayPage, page: str) -> Markup:
        html = day_template.render(common, day=day, page=page)
        check_safe(html, str(record_path(records_dir, day.date)))
        return Markup(html)

    post_template = env.get_template("site/post.html.j2")
    for i, post in enumerate(posts):
        page = post.url.lstrip("/")
        post.html = day_html(post, page)
        html = post_template.render(
            common,
            page=page,
            post=post,
            newer=posts[i - 1] if i > 0 else None,
            older=posts[i + 1] if i + 1 < len(posts) else None,
        )
        write(page, html)
    latest = posts[0] if posts else None
    home = env.get_template("site/home.html.j2").render(
        common,
        page="index.html",
        latest=latest,
        latest_html=day_html(latest, "index.html") if latest else "",
        recent=posts[1:11],
    )
    write("index.html", home)
    archive = env.get_template("site/archive.html.j2").render(common, page="archive.html", months=archive_months(posts))
    write("archive.html", archive)
    write(SEARCH_PAGE, env.get_template("site/search.html.j2").render(common, page=SEARCH_PAGE))
    _write_topics(env, common, topics, write)
    write("feed.xml", _feed(env, common, link, posts[:FEED_LIMIT], "feed.xml", None))

    written = {p.relative_to(out_dir).as_posix() for p in result.pages}
    _remove_stale(out_dir, owned, written)
    (out_dir / OLD_MANIFEST).unlink(missing_ok=True)
    if search:
        from digest.site.search import build_search_index

        index = build_search_index(out_dir)
        result.search_pages = index.pages
        make_public(out_dir, [p for p in index.bundle_dir.rglob("*") if p.is_file()])
    make_public(out_dir, result.pages)
    write_or_fail(manifest_path(out_dir), "\n".join(sorted(written)) + "\n", "site manifest")
    return result


def _write_topics(env: jinja2.Environment, common: dict[str, object], topics: list[TopicPage], write: _Writer) -> None:
    """topics/index.html, and per topic its pages (topics/<slug>/, then page/2/ ...) and its feed."""
    write("topics/index.html", env.get_template("site/topics.html.j2").render(common, page="topics/index.html"))
    template = env.get_template("site/topic.html.j2")
    link = common["link"]
    assert isinstance(link, _Linker)
    for topic in topics:
        chunks = [topic.papers[i : i + TOPIC_PAGE_SIZE] for i in range(0, len(topic.papers), TOPIC_PAGE_SIZE)]
        urls = [topic.url + ("" if n == 0 else f"page/{n + 1}/") for n in range(len(chunks))]
        for n, chunk in enumerate(chunks):
            page = urls[n] + "index.html"
            write(page, template.render(
                common, page=page, topic=topic, papers=chunk, number=n + 1, pages=len(chunks),
                newer=urls[n - 1] if n > 0 else None, older=urls[n + 1] if n + 1 < len(chunks) else None,
            ))
        days = topic.days()[:FEED_LIMIT]
        write(topic.url + "feed.xml", _feed(env, common, link, [d for d, _ in days], topic.url + "feed.xml", topic))


def _feed(
    env: jinja2.Environment,
    common: dict[str, object],
    link: _Linker,
    posts: list[DayPage],
    self_url: str,
    topic: TopicPage | None,
) -> str:
    """An Atom feed: one entry per post, its summary the table of contents and counts (of one topic's papers)."""
    absolute = link.base.startswith(("http://", "https://"))
    entries = []
    for post in posts:
        papers = post.papers
        if topic is not None:
            papers = [c for c in post.papers if any(t.slug == topic.slug for t in c.topics)]
        url = link.absolute(post.url)
        entries.append({
            "post": post,
            "papers": papers,
            "url": url,
            "id": (url + (f"#topic-{topic.slug}" if topic else "")) if absolute
            else f"urn:digest:post:{post.date}-{post.slug}" + (f":{topic.slug}" if topic else ""),
        })
    updated = max((p.published for p in posts), key=dt.datetime.fromisoformat, default="1970-01-01T00:00:00+00:00")
    return env.get_template("site/feed.xml.j2").render(
        common,
        page=self_url,
        entries=entries,
        topic=topic,
        updated=updated,
        self_url=link.absolute(self_url),
        home_url=link.absolute(topic.url if topic else "") or "./",
        feed_id=link.absolute(self_url) if absolute else f"urn:digest:feed:{self_url}",
    )
