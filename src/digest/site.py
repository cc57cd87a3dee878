"""`digest build`: the static HTML site made from the posts, without Ruby or Jekyll.

Posts are Markdown meant for Jekyll (kramdown, GFM flavour). We render them with markdown-it-py in
CommonMark mode because it reads lists the way GitHub Pages does (a list may follow a text line
directly; two-space indents nest), which python-markdown does not. Math (`$$…$$`, `\\(…\\)`, `\\[…\\]`)
is kept verbatim for MathJax. Pages use the URLs Jekyll would give them, so links survive a move
between the two.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import yaml
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from .errors import DigestError, UsageError
from .fsutil import write_or_fail
from .models import ARXIV_ID
from .render import unwrap_liquid

POST_NAME = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-(?P<slug>.+)\.(?:md|markdown)$")
FEED_LIMIT = 30
MANIFEST = ".digest-site"
MATHJAX_URL = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"

_MD_ATTR = re.compile(r'\s+markdown="(?:1|block|span)"')
_MATH_DELIMS = (("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"))
_UNSAFE_TAG = re.compile(r"<\s*/?\s*(script|iframe|frame|object|embed|style|base|meta|link)\b", re.IGNORECASE)
_TAG = re.compile(r"<[A-Za-z][^<>]*>")
_EVENT_ATTR = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
_JS_URL = re.compile(r"""(?:href|src)\s*=\s*["']?\s*(?:javascript|vbscript|data):""", re.IGNORECASE)
_SLUG_DROP = re.compile(r"[^\w]+")
_PAREN_ITEM = re.compile(r"^( {0,3}\d{1,9})\)(?=[ \t]|$)")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class SitePost:
    """One post as the site shows it."""

    source: Path
    date: str  # YYYY-MM-DD, from the file name as Jekyll takes it
    slug: str
    title: str
    url: str  # site-root path, e.g. /2026/01/07/arxiv.html
    html: str  # the rendered body
    papers: int  # paper headings in the body


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


def find_post_files(posts_dir: Path) -> list[Path]:
    """The post files of a Jekyll `_posts` folder, newest date first."""
    if posts_dir.is_file():
        raise UsageError(f"{posts_dir}: is a file, not a folder; set site.posts_dir in the config to a folder")
    if not posts_dir.is_dir():
        raise UsageError(f"{posts_dir}: no such folder; set site.posts_dir in the config or run `digest run` first")
    files = [p for p in posts_dir.iterdir() if p.is_file() and POST_NAME.match(p.name)]
    return sorted(files, key=lambda p: p.name, reverse=True)


def split_front_matter(text: str) -> tuple[dict[str, object], str]:
    """(front matter as a dict, body) of a Jekyll file; an unreadable front matter reads as empty."""
    text = text.replace("\r\n", "\n")
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 3)
    if end < 0:
        return {}, text
    try:
        data = yaml.safe_load(text[4:end]) or {}
    except yaml.YAMLError:
        data = {}
    return (data if isinstance(data, dict) else {}), text[end + 5 :]


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


def _paper_anchor(tokens: Sequence[Token], start: int) -> str | None:
    """The arXiv id (no version) of the first abs link after a heading, written as 2601-03227."""
    for token in tokens[start:]:
        if token.type == "heading_open":
            return None
        for child in token.children or ():
            href = str(child.attrs.get("href", "")) if child.type == "link_open" else ""
            if "/abs/" in href:
                tail = href.rstrip("/").split("/abs/")[-1]
                m = ARXIV_ID.match(tail)
                if m:
                    return re.sub(r"[^A-Za-z0-9]+", "-", m.group("base"))
    return None


def _slugify(text: str) -> str:
    return _SLUG_DROP.sub("-", text.lower()).strip("-")[:60] or "section"


def _anchor_rule(state: StateCore) -> None:
    """Give every paper heading (`##`) a stable, unique id and a link to itself."""
    tokens = state.tokens
    used: set[str] = set()
    for i, token in enumerate(tokens):
        if token.type != "heading_open" or token.tag != "h2":
            continue
        base = _paper_anchor(tokens, i + 2) or _slugify(tokens[i + 1].content)
        anchor, n = base, 2
        while anchor in used:
            anchor, n = f"{base}-{n}", n + 1
        used.add(anchor)
        token.attrSet("id", anchor)
        tokens[i + 2].meta["anchor"] = anchor


def _render_heading_close(self: object, tokens: Sequence[Token], idx: int, options: object, env: object) -> str:
    token = tokens[idx]
    anchor = token.meta.get("anchor") if token.meta else None
    link = f' <a class="anchor" href="#{escapeHtml(anchor)}" aria-label="本文链接">#</a>' if anchor else ""
    return f"{link}</{token.tag}>\n"


def _drop_markdown_attr(state: StateCore) -> None:
    # `<div markdown="1">` is for kramdown; CommonMark already reads Markdown between blank lines.
    for token in state.tokens:
        if token.type == "html_block":
            token.content = _MD_ATTR.sub("", token.content)


def markdown_renderer() -> MarkdownIt:
    """CommonMark with raw HTML (details blocks), tables, strikethrough, math kept for MathJax, paper anchors."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.inline.ruler.before("escape", "math", _math_rule)
    md.core.ruler.push("paper_anchors", _anchor_rule)
    md.core.ruler.push("kramdown_attrs", _drop_markdown_attr)
    md.add_render_rule("math", _render_math)
    md.add_render_rule("heading_close", _render_heading_close)
    return md


def check_safe(html: str, where: str) -> None:
    """Raise if rendered post HTML carries anything that runs code; posts are sanitized, so this is a bug."""
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
            f"{where}: the post's HTML contains {problem}; refusing to publish it "
            "(re-render the post with `digest render`, or remove the markup from the file)"
        )


def load_post(path: Path, md: MarkdownIt) -> SitePost:
    """Read one post file and render its body."""
    m = POST_NAME.match(path.name)
    if not m:
        raise UsageError(f"{path.name}: not a post file name (expected YYYY-MM-DD-<slug>.md)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DigestError(f"cannot read post {path}: {exc}; check the file") from None
    front, body = split_front_matter(text)
    title = front.get("title")
    html = md.render(kramdown_compat(unwrap_liquid(body)))
    check_safe(html, str(path))
    return SitePost(
        source=path,
        date=m.group("date"),
        slug=m.group("slug"),
        title=str(title) if title else f"{m.group('date')} {m.group('slug')}",
        url=post_url(path),
        html=html,
        papers=html.count('<a class="anchor"'),
    )


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


def build_site(
    posts_dir: Path,
    out_dir: Path,
    *,
    site_title: str = "arXiv Daily",
    base_url: str = "",
    env: jinja2.Environment | None = None,
) -> BuildResult:
    """Write the static site for the posts in posts_dir into out_dir: home, archive, one page per post, feed."""
    if env is None:
        from .render import template_env

        env = template_env()
    md = markdown_renderer()
    posts = [load_post(p, md) for p in find_post_files(posts_dir)]
    link = _Linker(base_url)
    result = BuildResult(out_dir=out_dir, posts=len(posts))
    common = {
        "site_title": site_title,
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
