"""`digest build`: the static HTML site made from the day records, without Ruby or Jekyll.

The site reads `_data/digest/*.json`, never the Markdown posts, so a changed post template cannot break it.
`build_site` turns each record into a page model (`DayPage` of `PaperCard`s) and the templates in
`templates/site/` lay it out with Jinja autoescaping; the only HTML passed through unescaped is what
`markdown_html` made from sanitized abstracts and deep reads. The abstract and deep read are Markdown
rendered with markdown-it-py in CommonMark mode, which reads lists the way GitHub Pages does; math
(`$$…$$`, `\\(…\\)`, `\\[…\\]`) is kept verbatim for MathJax. Pages use the URLs Jekyll would give the
posts, so links survive a move between the two.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from .config import Config
from .errors import DigestError, UsageError
from .fsutil import write_or_fail
from .models import DayRecord, Entry, split_id
from .provenance import new_version_note, provenance_line
from .records import read_record, record_days, record_path
from .render import paper_view, post_path, template_env, tz_labels

POST_NAME = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-(?P<slug>.+)\.(?:md|markdown)$")
FEED_LIMIT = 30
MANIFEST = ".digest-site"
MATHJAX_URL = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"

_MATH_DELIMS = (("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"))
_UNSAFE_TAG = re.compile(r"<\s*/?\s*(script|iframe|frame|object|embed|style|base|meta|link)\b", re.IGNORECASE)
_TAG = re.compile(r"<[A-Za-z][^<>]*>")
_EVENT_ATTR = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
_JS_URL = re.compile(r"""(?:href|src)\s*=\s*["']?\s*(?:javascript|vbscript|data):""", re.IGNORECASE)
_PAREN_ITEM = re.compile(r"^( {0,3}\d{1,9})\)(?=[ \t]|$)")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_NOT_ANCHOR = re.compile(r"[^A-Za-z0-9]+")


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
    provenance: str = ""  # the line under the deep read (digest.provenance)
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
    html: str = ""  # the day's content rendered by site/day.html.j2 (pages embed it, the feed escapes it)


@dataclass
class BuildResult:
    """What `build_site` wrote."""

    out_dir: Path
    pages: list[Path] = field(default_factory=list)
    posts: int = 0


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


def _math_rule(state: StateInline, silent: bool) -> bool:
    """Keep `$$…$$`, `\\(…\\)` and `\\[…\\]` whole, so neither escapes nor emphasis touch TeX."""
    src, pos = state.src, state.pos
    for opener, closer in _MATH_DELIMS:
        if not src.startswith(opener, pos):
            continue
        end = src.find(closer, pos + len(opener), state.posMax)
        if end < 0 or end == pos + len(opener):
            return False
        if not silent:
            token = state.push("math", "", 0)
            token.content = src[pos : end + len(closer)]
            token.markup = opener
        state.pos = end + len(closer)
        return True
    return False


def _render_math(self: object, tokens: Sequence[Token], idx: int, options: object, env: object) -> str:
    token = tokens[idx]
    kind = "math display" if token.markup in ("$$", "\\[") else "math"
    return f'<span class="{kind}">{escapeHtml(token.content)}</span>'


def markdown_renderer() -> MarkdownIt:
    """CommonMark with the raw HTML the sanitizer lets through, tables, strikethrough, math kept for MathJax."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.inline.ruler.before("escape", "math", _math_rule)
    md.add_render_rule("math", _render_math)
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


def paper_card(entry: Entry, md: MarkdownIt, anchor: str) -> PaperCard:
    """The page model of one paper, built from its record entry."""
    view = paper_view(entry)  # the same sanitized texts and placeholders the post shows
    deep = view["deep_read"]
    failed = entry.deep_read is not None and entry.deep_read.status == "failed"
    return PaperCard(
        id=entry.id,
        anchor=anchor,
        title=" ".join(entry.title.split()),
        authors=list(entry.authors),
        categories=list(entry.categories),
        abs_url=_safe_url(entry.abs_url),
        pdf_url=_safe_url(entry.pdf_url),
        abstract_html=markdown_html(str(view["abstract"]), md),
        note_html=markdown_html(str(view["note"]), md) if view["note"] else "",
        deep_read_html=None if deep is None else markdown_html(str(deep), md),
        deep_read_failed=failed,
        **_provenance_fields(entry),
    )


def _provenance_fields(entry: Entry) -> dict[str, str]:
    newer = new_version_note(entry)
    return {
        "provenance": provenance_line(entry),
        "new_version_label": newer.label if newer else "",
        "new_version_url": _safe_url(newer.url) if newer else "",
    }


def day_page(record: DayRecord, md: MarkdownIt, title_template: str) -> DayPage:
    """The page model of one day record."""
    start = dt.datetime.fromisoformat(record.window.start)
    short, long = tz_labels(record.window.timezone, start)
    used: set[str] = set()
    cards = []
    for entry in record.papers:
        base = _anchor_base(entry)
        anchor, n = base, 2
        while anchor in used:
            anchor, n = f"{base}-{n}", n + 1
        used.add(anchor)
        cards.append(paper_card(entry, md, anchor))
    name = post_path(Path(), record.date)
    return DayPage(
        date=record.date,
        slug=name.stem[11:],
        title=title_template.replace("{date}", record.date),
        url=post_url(name),
        window_start=start.strftime("%Y-%m-%d %H:%M"),
        window_end=dt.datetime.fromisoformat(record.window.end).strftime("%Y-%m-%d %H:%M"),
        anchor_time=record.window.anchor,
        tz_label=short,
        tz_long=long,
        fetched=record.counts.fetched,
        shown=record.counts.shown,
        papers=cards,
        left_out=[LeftOutLink(lo.title, _safe_url(lo.abs_url)) for lo in record.left_out],
    )


def _anchor_base(entry: Entry) -> str:
    try:
        base = split_id(entry.id)[0]
    except ValueError:  # an imported paper whose id could not be read
        base = entry.id
    return _NOT_ANCHOR.sub("-", base).strip("-") or "paper"


def load_pages(records_dir: Path, title_template: str, md: MarkdownIt | None = None) -> list[DayPage]:
    """Every day record as a page model, newest first."""
    if records_dir.is_file():
        raise UsageError(f"{records_dir}: is a file, not a folder; set site.records_dir in the config to a folder")
    if not records_dir.is_dir():
        raise UsageError(
            f"{records_dir}: no such folder; set site.records_dir in the config, or run or import a day first"
        )
    md = md or markdown_renderer()
    days = sorted(record_days(records_dir), reverse=True)
    return [day_page(read_record(record_path(records_dir, d)), md, title_template) for d in days]


# ---------------------------------------------------------------- pages


class _Linker:
    """Links between pages: under base_url when given, else relative so the folder works anywhere."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def __call__(self, page: str, target: str) -> str:
        target = target.lstrip("/")
        if self.base:
            return f"{self.base}/{target}"
        rel = posixpath.relpath(target or ".", posixpath.dirname(page) or ".")
        return "./" if rel == "." else rel

    def absolute(self, target: str) -> str:
        """For the feed: absolute when base_url is an absolute URL, else relative to the site root."""
        target = target.lstrip("/")
        return f"{self.base}/{target}" if self.base else target


def _date_text(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return f"{d.year} 年 {d.month} 月 {d.day} 日"


def _write(out_dir: Path, rel: str, text: str, result: BuildResult) -> None:
    path = out_dir / rel
    write_or_fail(path, text, "site page")
    result.pages.append(path)


def _remove_stale(out_dir: Path, written: set[str]) -> None:
    # Only files a previous build listed are removed: --out may point at a folder with other things in it.
    manifest = out_dir / MANIFEST
    if not manifest.is_file():
        return
    for rel in manifest.read_text(encoding="utf-8").splitlines():
        if rel and rel not in written and ".." not in rel.split("/"):
            (out_dir / rel).unlink(missing_ok=True)


def site_name(title_template: str) -> str:
    """The site's name from the post title template: "arXiv Daily – {date}" -> "arXiv Daily"."""
    return title_template.replace("{date}", "").strip(" \t-–—·|:：,，") or title_template.replace("{date}", "").strip()


def build_site(
    records_dir: Path,
    out_dir: Path,
    *,
    config: Config | None = None,
    site_title: str | None = None,
    base_url: str = "",
    env: jinja2.Environment | None = None,
) -> BuildResult:
    """Write the static site for the day records into out_dir: home, archive, one page per day, feed."""
    cfg = config or Config()
    env = env or site_env()
    posts = load_pages(records_dir, cfg.site.title)
    day_template = env.get_template("site/day.html.j2")
    for post in posts:
        post.html = day_template.render(day=post)
        check_safe(post.html, str(record_path(records_dir, post.date)))
    link = _Linker(base_url)
    result = BuildResult(out_dir=out_dir, posts=len(posts))
    common = {
        "site_title": site_title or site_name(cfg.site.title),
        "categories": cfg.arxiv.categories,
        "mathjax_url": MATHJAX_URL,
        "date_text": _date_text,
        "link": link,
    }
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DigestError(f"cannot create {out_dir}: {exc.strerror}; choose another --out folder") from None

    css = env.get_template("site/style.css").render()
    _write(out_dir, "assets/style.css", css, result)
    for i, post in enumerate(posts):
        page = post.url.lstrip("/")
        html = env.get_template("site/post.html.j2").render(
            common,
            page=page,
            post=post,
            newer=posts[i - 1] if i > 0 else None,
            older=posts[i + 1] if i + 1 < len(posts) else None,
        )
        _write(out_dir, page, html, result)
    home = env.get_template("site/home.html.j2").render(
        common, page="index.html", latest=posts[0] if posts else None, recent=posts[1:11]
    )
    _write(out_dir, "index.html", home, result)
    archive = env.get_template("site/archive.html.j2").render(common, page="archive.html", posts=posts)
    _write(out_dir, "archive.html", archive, result)
    feed_posts = posts[:FEED_LIMIT]
    feed = env.get_template("site/feed.xml.j2").render(
        common,
        page="feed.xml",
        posts=feed_posts,
        updated=f"{feed_posts[0].date}T00:00:00Z" if feed_posts else "1970-01-01T00:00:00Z",
        feed_id=link.absolute("feed.xml") if link.base.startswith(("http://", "https://")) else "urn:digest:feed",
    )
    _write(out_dir, "feed.xml", feed, result)

    written = {p.relative_to(out_dir).as_posix() for p in result.pages}
    _remove_stale(out_dir, written)
    write_or_fail(out_dir / MANIFEST, "\n".join(sorted(written)) + "\n", "site manifest")
    return result
