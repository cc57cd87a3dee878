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
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from markupsafe import Markup

from digest.core.config import Config
from digest.core.errors import DigestError
from digest.core.files import write_or_fail
from digest.core.record import DayRecord
from digest.core.store import DamagedRecord, record_path, restore_hint
from digest.core.templates import template_env
from digest.core.urls import paper_anchors, post_path, post_url
from digest.enrich.topics import OTHER, Taxonomy, load_taxonomy
from digest.publish.markdown import parse_post
from digest.site.charts import month_axis, month_chart, per_month
from digest.site.manifest import (
    OLD_MANIFEST,
    Manifest,
    digest_of,
    manifest_path,
    read_manifest,
    record_hashes,
    write_manifest,
)
from digest.site.pages import (  # re-exported: callers elsewhere import the page model from here
    DayPage,
    PaperCard,
    check_safe,
    day_page,
    load_pages,
    markdown_renderer,
)
from digest.site.papers import PaperPage, bibtex, citation_meta, paper_pages
from digest.site.search import SEARCH_PAGE
from digest.site.sitemap import sitemap_xml

__all__ = ["BuildResult", "DayPage", "PaperCard", "SiteOptions", "build_site", "day_page", "manifest_path",
           "markdown_renderer", "paper_anchors", "post_url", "site_env"]

FEED_LIMIT = 20  # posts in feed.xml (and days in a topic feed)
TOPIC_PAGE_SIZE = 40  # papers per topic page
FILE_MODE = 0o644
DIR_MODE = 0o755


@dataclass
class BuildResult:
    """What `build_site` wrote."""

    out_dir: Path
    pages: list[Path] = field(default_factory=list)
    posts: int = 0
    topics: dict[str, int] = field(default_factory=dict)  # slug -> papers, for topics in use
    search_pages: int | None = None  # pages in the search index; None when no index was built
    written: list[str] = field(default_factory=list)  # site-root paths whose bytes this build changed
    rendered: int = 0  # pages rendered (the others' inputs were unchanged since the last build)
    removed: list[str] = field(default_factory=list)  # site-root paths an earlier build wrote and this one dropped
    indexed: bool = False  # whether Pagefind ran (it is skipped when no indexed page changed)
    damaged: list[str] = field(default_factory=list)  # one line per damaged record: what the site shows instead
    kept_stale: bool = False  # a damaged day had no readable post: no earlier page was removed


@dataclass(frozen=True)
class SiteOptions:
    """How the site looks: templates, topics, title and public URL (the build's defaults when left out)."""

    env: jinja2.Environment | None = None
    taxonomy: Taxonomy | None = None


def site_env(user_dir: Path | None = None) -> jinja2.Environment:
    """The site's template environment: like the post templates', but autoescaping HTML and XML."""
    env = template_env(user_dir)
    env.autoescape = jinja2.select_autoescape(["html", "xml", "html.j2", "xml.j2"], default_for_string=True)
    return env



# ---------------------------------------------------------------- pages


class _Linker:
    """Links between pages, always relative so the folder works at any base path and opened from disk.

    A link to a folder names its index.html: a browser reading files (file://) shows no folder's index page.
    """

    def __init__(self, site_url: str) -> None:
        self.base = site_url.rstrip("/")

    def __call__(self, page: str, target: str) -> str:
        target = target.lstrip("/")
        if not target or target.endswith("/"):
            target += "index.html"
        return posixpath.relpath(target, posixpath.dirname(page) or ".")

    def root(self, page: str) -> str:
        """The site's root folder relative to a page, ending in a slash: ./ or ../../ (for scripts)."""
        rel = posixpath.relpath(".", posixpath.dirname(page) or ".")
        return "./" if rel == "." else rel + "/"

    @property
    def is_absolute(self) -> bool:
        """Whether site.url is a web address, so feeds, canonical links and the sitemap can be absolute."""
        return self.base.startswith(("http://", "https://"))

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
    """Writes the site's files (0644, folders 0755 whatever the umask) and remembers what it wrote.

    `keys` maps a page to the hash of its inputs; a page whose inputs match the last build's and whose file
    is still there is kept as it is, without rendering (`fresh`).
    """

    def __init__(self, out_dir: Path, result: BuildResult, before: Manifest) -> None:
        self.out_dir = out_dir
        self.result = result
        self.before = before
        self.keys: dict[str, str] = {}

    def fresh(self, rel: str, key: str) -> bool:
        """Whether the page made from inputs hashed `key` is already on disk (then it counts as written)."""
        if not key or self.before.pages.get(rel) != key or not (self.out_dir / rel).is_file():
            return False
        self.keys[rel] = key
        self.result.pages.append(self.out_dir / rel)
        return True

    def __call__(self, rel: str, text: str, key: str = "") -> None:
        path = self.out_dir / rel
        self.keys[rel] = key
        self.result.pages.append(path)
        self.result.rendered += 1
        data = text.encode("utf-8")
        try:
            if path.read_bytes() == data:
                return  # unchanged: a rebuild rewrites only what changed (make_public still sets the mode)
        except OSError:
            pass
        # No fsync: every page is made again by the next build, and an archive has thousands (one per paper).
        write_or_fail(path, text, "site page", durable=False)
        os.chmod(path, FILE_MODE)  # atomic writes go through a private temp file (0600)
        self.result.written.append(rel)


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


def _remove_stale(out_dir: Path, owned: list[str], written: set[str]) -> list[str]:
    """Remove what an earlier build wrote and this one did not; the paths removed."""
    removed = []
    # Only files a previous build listed are removed: --out may point at a folder with other things in it.
    for rel in owned:
        if rel and rel not in written and ".." not in rel.split("/"):
            path = out_dir / rel
            if path.is_file():
                removed.append(rel)
            path.unlink(missing_ok=True)
            parent = path.parent
            while parent != out_dir and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()  # an emptied topic or page folder
                parent = parent.parent
    return sorted(removed)


def _site_key(env: jinja2.Environment, common: dict[str, object], cfg: Config, taxonomy: Taxonomy) -> str:
    """The hash of what every page depends on: templates, site settings, topics' rules, the code's version."""
    from digest import __version__

    sources = []
    for name in sorted(n for n in env.list_templates() if n.startswith("site/")):
        assert env.loader is not None
        sources.append(name + "\0" + env.loader.get_source(env, name)[0])
    link = common["link"]
    assert isinstance(link, _Linker)
    # The code that turns records into pages: a change to it (without a version bump) must show everywhere.
    package = Path(__file__).resolve().parents[1]
    code = [f.read_bytes() for part in ("site", "publish", "core") for f in sorted((package / part).glob("*.py"))]
    return digest_of(__version__, digest_of(*code), "\0".join(sources), str(common["site_title"]), cfg.site.title,
                     link.base, " ".join(cfg.arxiv.categories), taxonomy.fingerprint, str(common["serve_command"]))


def build_site(
    records_dir: Path,
    out_dir: Path,
    options: SiteOptions | None = None,
    *,
    config: Config | None = None,
    site_title: str | None = None,
    base_url: str = "",
    search: bool = False,
) -> BuildResult:
    """Write the static site for the day records into out_dir, rendering only pages whose inputs changed.

    Home, archive by month, one page per day and per paper, topic pages and feeds, the search page, the Atom
    feed and sitemap.xml; with `search` also the Pagefind index. `base_url` (else `site.url`) is the public URL
    feeds, canonical links and the sitemap use.
    """
    cfg = config or Config()
    options = options or SiteOptions()
    env = options.env or site_env()
    taxonomy = options.taxonomy or load_taxonomy(cfg.topics_file)
    result = BuildResult(out_dir=out_dir)
    posts = load_pages(records_dir, cfg.site.title, taxonomy=taxonomy, fallback=_PostStandIn(cfg, result))
    result.posts = len(posts)
    link = _Linker(base_url or cfg.site.url)
    topics = topic_pages(posts, taxonomy)
    result.topics = {t.slug: len(t.papers) for t in topics}
    common = {
        "site_title": site_title or site_name(cfg.site.title),
        "categories": cfg.arxiv.categories,
        "date_text": _date_text,
        "link": link,
        "search_page": SEARCH_PAGE,
        "all_topics": topics,
        "serve_command": f"python -m http.server -d {shlex.quote(out_dir.resolve().name)}",
    }
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DigestError(f"cannot create {out_dir}: {exc.strerror}; choose another --out folder") from None
    write = _Writer(out_dir, result, read_manifest(out_dir))
    site_key = _site_key(env, common, cfg, taxonomy)
    hashes = record_hashes((p.date, record_path(records_dir, p.date)) for p in posts)

    write("assets/style.css", env.get_template("site/style.css").render())
    _write_days(env, common, posts, write, records_dir, {d: digest_of(site_key, h) for d, h in hashes.items()})
    _write_papers(env, common, paper_pages(posts), write, {d: digest_of(site_key, h) for d, h in hashes.items()})
    write("archive.html", env.get_template("site/archive.html.j2").render(
        common, page="archive.html", months=archive_months(posts)))
    write(SEARCH_PAGE, env.get_template("site/search.html.j2").render(common, page=SEARCH_PAGE))
    _write_topics(env, common, topics, write)
    write("feed.xml", _feed(env, common, link, posts[:FEED_LIMIT], "feed.xml", None))
    html_pages = [p.relative_to(out_dir).as_posix() for p in result.pages if p.suffix == ".html"]
    write("sitemap.xml", sitemap_xml(html_pages, link.base if link.is_absolute else ""))
    _finish(out_dir, write, result, search)
    return result


class _PostStandIn:
    """A damaged record's day is shown from its post; without a readable post its old pages stay as they were."""

    def __init__(self, cfg: Config, result: BuildResult) -> None:
        self.cfg, self.result = cfg, result

    def __call__(self, exc: DamagedRecord) -> DayRecord | None:
        post = post_path(self.cfg.posts_dir, exc.path.stem)
        try:
            record = parse_post(post.read_text(encoding="utf-8"), str(post)).record
        except (OSError, UnicodeDecodeError):
            record = None
        if record is None or record.date != exc.path.stem:
            self.result.kept_stale, record = True, None
            shown = "its pages are kept as the last build left them"
        else:
            shown = f"its page is built from {post}"
        self.result.damaged.append(f"{exc.path}: {exc.problem}; {shown}; {restore_hint(exc.path, post)}")
        return record


def _finish(out_dir: Path, write: _Writer, result: BuildResult, search: bool) -> None:
    """Drop what an earlier build wrote and this one did not, index for search, make it all public."""
    written = {p.relative_to(out_dir).as_posix() for p in result.pages}
    if result.kept_stale:  # still ours: a later build removes them once the day is back
        write.keys.update({rel: key for rel, key in write.before.pages.items() if rel not in write.keys})
    else:
        result.removed = _remove_stale(out_dir, write.before.owned(), written)
    (out_dir / OLD_MANIFEST).unlink(missing_ok=True)
    if search:
        from digest.site.search import update_search_index

        index = update_search_index(out_dir, changed=result.written, removed=result.removed)
        result.search_pages = index.pages
        result.indexed = index.ran
        if index.ran:
            make_public(out_dir, [p for p in index.bundle_dir.rglob("*") if p.is_file()])
    make_public(out_dir, result.pages)
    write_manifest(out_dir, write.keys)


def _write_days(
    env: jinja2.Environment,
    common: dict[str, object],
    posts: list[DayPage],
    write: _Writer,
    records_dir: Path,
    keys: dict[str, str],
) -> None:
    """One page per day at its Jekyll URL (rendered when its record or its neighbours' titles changed), and the
    home page with the newest day in full."""
    day_template = env.get_template("site/day.html.j2")

    def day_html(day: DayPage, page: str) -> Markup:
        html = day_template.render(common, day=day, page=page)
        check_safe(html, str(record_path(records_dir, day.date)))
        return Markup(html)

    post_template = env.get_template("site/post.html.j2")
    for i, post in enumerate(posts):
        page = post.url.lstrip("/")
        newer = posts[i - 1] if i > 0 else None
        older = posts[i + 1] if i + 1 < len(posts) else None
        around = [text for p in (newer, older) for text in ((p.url, p.title) if p else ("", ""))]
        key = digest_of(keys[post.date], *around)
        if write.fresh(page, key):
            continue
        post.html = day_html(post, page)
        write(page, post_template.render(common, page=page, post=post, newer=newer, older=older), key)
    latest = posts[0] if posts else None
    home = env.get_template("site/home.html.j2").render(
        common,
        page="index.html",
        latest=latest,
        latest_html=day_html(latest, "index.html") if latest else "",
        recent=posts[1:11],
    )
    write("index.html", home)


def _write_papers(
    env: jinja2.Environment, common: dict[str, object], papers: list[PaperPage], write: _Writer, keys: dict[str, str]
) -> None:
    """papers/<id>/index.html for every paper, rendered when a record it is posted in changed: the search index
    holds these pages only, each paper once."""
    template = env.get_template("site/paper.html.j2")
    link = common["link"]
    assert isinstance(link, _Linker)
    for paper in papers:
        key = digest_of(*(keys[day.date] for day, _ in paper.posted))
        if write.fresh(paper.file, key):
            continue
        canonical = link.absolute(paper.url) if link.is_absolute else link(paper.file, paper.url)
        write(paper.file, template.render(
            common, page=paper.file, paper=paper, p=paper.card, canonical=canonical,
            citation=citation_meta(paper), bibtex=bibtex(paper),
        ), key)


def _write_topics(env: jinja2.Environment, common: dict[str, object], topics: list[TopicPage], write: _Writer) -> None:
    """topics/index.html with each topic's papers per month, and per topic its pages (topics/<slug>/, then
    page/2/ ...) and its feed."""
    axis = month_axis(tp.day.date for t in topics for tp in t.papers)
    charts = {t.slug: month_chart(t.label, axis, per_month((tp.day.date for tp in t.papers), axis)) for t in topics}
    write("topics/index.html", env.get_template("site/topics.html.j2").render(
        common, page="topics/index.html", charts=charts, axis=axis))
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
    absolute = link.is_absolute
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
        paper_link=lambda card: link.absolute(card.paper_url),
        topic=topic,
        updated=updated,
        self_url=link.absolute(self_url),
        home_url=link.absolute(topic.url if topic else "") or "./",
        feed_id=link.absolute(self_url) if absolute else f"urn:digest:feed:{self_url}",
    )
