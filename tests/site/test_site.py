"""`digest build`: the static site made from day records (the seeds' and crafted hostile ones), page by page."""

from __future__ import annotations

import posixpath
import re
import subprocess
import sys
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest

from digest.core.errors import UsageError
from digest.core.record import TaskResult
from digest.core.store import read_record, write_record
from digest.publish.importer import parse_post
from digest.publish.markdown import render_post
from digest.site.build import build_site, post_url
from helpers import make_entry, make_record
from postfixtures import golden_posts

HOSTILE_TITLE = 'Quoted "Title": Colons {{ site.title }} and {% include evil.html %}'
HOSTILE_ABSTRACT = "本文研究 {{ page.secret }} 与 {% if x %} 条件，当 $$a_1 < b_2$$ 时成立。"
HOSTILE_DEEP = (
    "## 1) 背景\n"
    "- **要点**：旧工具的解读里出现过标题。\n"
    '<script>alert("deep")</script>\n'
    "<img src=x onerror=alert(1)>\n\n"
    "2)  \n"
    "- 方法：损失为 $$L = \\sum_{i} w_i x_i^2$$，其中 \\(x_i\\) 为特征。\n"
    "- 作者写了 {% endraw %} 这样的标签。\n\n"
    "3)  \n"
    "- 结果：[点我](javascript:alert(1)) 无效。"
)


def hostile_record(day: str = "2026-02-03"):
    """A day whose model output and metadata try every trick the sanitizer and the raw wrapper must stop."""
    return make_record(
        [
            make_entry("2602.00002v1", title=HOSTILE_TITLE, translation=HOSTILE_ABSTRACT, deep_read=HOSTILE_DEEP),
            make_entry("2602.00001v2", title="A Calm Paper About Speech: Part II"),
        ],
        day=day,
    )


def write_post(posts_dir: Path, record) -> Path:
    posts_dir.mkdir(parents=True, exist_ok=True)
    path = posts_dir / f"{record.date}-arxiv.md"
    path.write_text(render_post(record), encoding="utf-8")
    return path


def import_into(records_dir: Path, post: Path) -> Path:
    """A post's record, as `digest import` would write it."""
    record = parse_post(post.read_text(encoding="utf-8"), post.name).record
    assert record is not None
    return write_record(records_dir, record)


@pytest.fixture
def seed_site(tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    """Records of the hand-made standard posts, plus the seeds' when ../shared is there; newest post last."""
    records = tmp_path / "_data" / "digest"
    posts = golden_posts(tmp_path / "posts")
    for post in posts:
        import_into(records, post)
    out = tmp_path / "_site"
    return records, out, posts


def _page(out: Path, url: str) -> str:
    return (out / url.lstrip("/")).read_text(encoding="utf-8")


def _paper_ids(post_text: str) -> list[str]:
    return re.findall(r"^- \*\*arXiv\*\*: \[https://arxiv\.org/abs/(\d{4}\.\d{4,5})v\d+\]", post_text, re.MULTILINE)


def _record(post: Path):
    record = parse_post(post.read_text(encoding="utf-8"), post.name).record
    assert record is not None
    return record


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(a[key] or "")
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "script":
            self.scripts.append(a)


def _parse(html: str) -> _Links:
    p = _Links()
    p.feed(html)
    return p


def test_post_url_is_jekylls_default() -> None:
    assert post_url(Path("_posts/2026-01-07-arxiv.md")) == "/2026/01/07/arxiv.html"
    assert post_url(Path("2025-12-31-year-end.markdown")) == "/2025/12/31/year-end.html"
    with pytest.raises(UsageError, match="not a post file name"):
        post_url(Path("notes.md"))


def test_every_record_builds_one_page_at_the_jekyll_url(seed_site) -> None:
    records, out, posts = seed_site
    result = build_site(records, out)
    assert result.posts == len(posts) >= 2
    assert result.out_dir == out
    for post in posts:
        page = out / post_url(post).lstrip("/")
        assert page in result.pages and page.is_file()
        assert f"arXiv Daily – {post.name[:10]}" in page.read_text(encoding="utf-8")
    for name in ("index.html", "archive.html", "feed.xml", "assets/style.css"):
        assert (out / name) in result.pages


def test_home_shows_the_newest_post_in_full(seed_site) -> None:
    records, out, posts = seed_site
    build_site(records, out, site_title="Speech Daily")
    home = _page(out, "index.html")
    newest, oldest = posts[-1], posts[0]
    assert "Speech Daily" in home
    assert f"arXiv Daily – {newest.name[:10]}" in home
    for pid in _paper_ids(newest.read_text(encoding="utf-8")):
        assert f'id="{pid.replace(".", "-")}"' in home
    # Older posts appear only as links, not in full.
    assert not any(f'id="{pid.replace(".", "-")}"' in home for pid in _paper_ids(oldest.read_text(encoding="utf-8")))
    assert "<details>" in home


def test_archive_groups_posts_by_month_and_shows_each_date_once(seed_site) -> None:
    records, out, posts = seed_site
    build_site(records, out)
    archive = _page(out, "archive.html")
    days = re.findall(r'<time datetime="(\d{4}-\d{2}-\d{2})">', archive)
    assert days == sorted((p.name[:10] for p in posts), reverse=True)  # each date once, newest first
    assert "arXiv Daily – " not in archive.split('<h1 class="page-title">', 1)[1]
    assert 'href="2025/06/04/arxiv.html"' in archive
    assert "4 篇" in archive  # the hand-made post of 2025-06-04 shows 4 papers
    months = re.findall(r'<section class="month" id="m-(\d{4}-\d{2})">\n<h2 class="list-heading">([^<]+) '
                        r'<span class="count">(\d+) 期 · (\d+) 篇论文</span>', archive)
    expected: dict[str, list[int]] = {}
    for post in posts:
        expected.setdefault(post.name[:7], []).append(len(_record(post).papers))
    assert [m[0] for m in months] == sorted(expected, reverse=True)
    for key, label, count, papers in months:
        assert label == f"{int(key[:4])} 年 {int(key[5:])} 月"
        assert int(count) == len(expected[key]) and int(papers) == sum(expected[key])


def test_feed_is_valid_atom_of_summaries_with_absolute_links(seed_site) -> None:
    records, out, posts = seed_site
    build_site(records, out, base_url="https://example.org/blog/")
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.id == "https://example.org/blog/feed.xml"
    days = sorted((p.name[:10] for p in posts), reverse=True)
    assert [e.title for e in feed.entries] == [f"arXiv Daily – {d}" for d in days]
    entry = feed.entries[days.index("2025-06-04")]
    assert entry.link == "https://example.org/blog/2025/06/04/arxiv.html"
    assert entry.id == "https://example.org/blog/2025/06/04/arxiv.html"
    # dated at the post's anchor time in its zone, not midnight UTC
    record = _record(next(p for p in posts if p.name.startswith("2025-06-04")))
    assert entry.published == f"2025-06-04T{record.window.anchor}:00+08:00"
    assert entry.updated == entry.published
    # a summary (table of contents and counts), not the full text
    assert "content" not in entry
    summary = entry.summary
    assert f"本期 {record.counts.shown} 篇（抓取 {record.counts.fetched} 篇）" in summary
    assert '<a href="https://example.org/blog/papers/2506.00001/">' in summary  # each paper's own page
    assert "<details>" not in summary and "详细解读" not in summary
    raw = (out / "feed.xml").read_text(encoding="utf-8")
    assert "T00:00:00Z" not in raw and "urn:" not in raw
    for href in re.findall(r'href="([^"]+)"', raw):
        assert href.startswith("https://example.org/blog/"), href


def test_feed_holds_the_latest_20_posts(tmp_path: Path) -> None:
    records = tmp_path / "records"
    start = date(2026, 3, 1)
    for n in range(23):
        day = (start + timedelta(days=n)).isoformat()
        write_record(records, make_record([make_entry(f"2603.{n:05d}v1")], day=day))
    build_site(records, tmp_path / "out", base_url="https://example.org/")
    feed = feedparser.parse((tmp_path / "out" / "feed.xml").read_bytes())
    assert len(feed.entries) == 20
    assert feed.entries[0].title.endswith("2026-03-23") and feed.entries[-1].title.endswith("2026-03-04")
    assert feed.feed.updated == feed.entries[0].published


def test_every_paper_heading_has_a_stable_anchor(seed_site) -> None:
    records, out, posts = seed_site
    build_site(records, out)
    for post in posts:
        html = _page(out, post_url(post))
        ids = _paper_ids(post.read_text(encoding="utf-8"))
        assert ids, post.name
        parsed = _parse(html)
        headings = re.findall(r'<h2 id="([^"]+)">', html)
        assert headings == [pid.replace(".", "-") for pid in ids]
        for anchor in headings:
            assert anchor in parsed.ids
            assert f'href="#{anchor}"' in html


def test_every_paper_shows_its_metadata_links_and_placeholders(seed_site) -> None:
    records, out, posts = seed_site
    build_site(records, out)
    for post in posts:
        record = _record(post)
        html = _page(out, post_url(post))
        for paper in record.papers:
            assert f'<a href="{paper.abs_url}">{paper.abs_url}</a>' in html
            assert f'<a href="{paper.pdf_url}">{paper.pdf_url}</a>' in html
            assert ", ".join(paper.categories) in html
    day = _page(out, "/2025/06/04/arxiv.html")
    assert '<a href="https://arxiv.org/abs/2506.00005v1">A Left-Out Paper on Codecs</a>' in day
    assert "另有 2 篇因每日上限" in day
    assert "<p>（译文暂缺：模型服务超时，下次运行将重试）</p>" in day
    assert "<p>We study speech codecs at very low bit rates and report listening tests.</p>" in day


def test_details_blocks_render_their_markdown(seed_site) -> None:
    records, out, posts = seed_site
    build_site(records, out)
    for post in posts:
        html = _page(out, post_url(post))
        blocks = re.findall(r"<details>(.*?)</details>", html, re.DOTALL)
        assert len(blocks) == sum(1 for p in _record(post).papers if p.deep_read is not None)
        for block in blocks:
            assert "<summary>详细解读</summary>" in block
            if "全文解读失败" in block:  # the failure note: one line of text
                assert re.search(r"<p>（全文解读失败：[^<]+）</p>", block)
                continue
            assert "<li>" in block and "<strong>" in block
            assert "**" not in block  # no bold left unrendered
            assert 'markdown="1"' not in block
    # Two-space nested lists nest, as on GitHub Pages; "1)" part numbers stay text.
    first = _page(out, "/2025/06/04/arxiv.html")
    assert re.search(r"<li><strong>研究背景</strong>[^<]*\n<ul>\n<li><strong>难点一</strong>", first)
    assert "<p>1)</p>" in first


def test_math_is_mathml_with_no_script(seed_site, tmp_path: Path) -> None:
    records, out, _ = seed_site
    write_record(records, hostile_record())
    build_site(records, out)
    day_page = _page(out, "/2025/06/04/arxiv.html")
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML"' in day_page
    assert "\\(" not in day_page and "\\sum" not in day_page  # no TeX left for a script to find
    hostile = _page(out, "/2026/02/03/arxiv.html")
    # `$$…$$` inside a sentence stays inline; the sentence is not broken in three
    assert re.search(r'损失为 <math [^>]*display="inline"[^>]*>.*?</math>，其中 <math ', hostile)
    assert 'display="block"' not in hostile
    assert "$$" not in hostile.split('<div class="post-content">', 1)[1]
    assert "<mo>&lt;</mo>" in hostile  # a_1 < b_2: the comparison is escaped MathML, not a tag
    assert not _parse(hostile).scripts


def test_display_math_on_its_own_line_is_a_block(tmp_path: Path) -> None:
    records = tmp_path / "records"
    deep = "1) 方法\n- 目标函数：\n\n$$\nL = \\sum_i x_i^2\n$$\n\n其中 $x_i$ 为特征，\\(p_s\\) 为概率。"
    write_record(records, make_record([make_entry(deep_read=deep, title="A $k$-means Study")]))
    build_site(records, tmp_path / "out")
    html = _page(tmp_path / "out", "/2026/01/07/arxiv.html")
    assert html.count('display="block"') == 1
    assert "<msub><mi>p</mi><mi>s</mi></msub>" in html
    assert '<h2 id="2601-00001">A <math' in html  # TeX in titles too


def test_hostile_post_shows_as_text_and_runs_nothing(tmp_path: Path) -> None:
    records = tmp_path / "_data" / "digest"
    write_record(records, hostile_record())
    out = tmp_path / "site"
    build_site(records, out)
    html = _page(out, "/2026/02/03/arxiv.html")
    body = html.split('<div class="post-content">', 1)[1].split('<nav class="post-nav">', 1)[0]
    # Liquid braces and the guarded endraw are plain text; the raw wrapper itself is gone.
    assert "{{ site.title }}" in body and "{% include evil.html %}" in body
    assert "{{ page.secret }}" in body and "{% if x %}" in body
    assert "{% endraw %} 这样的标签" in body
    assert "{% raw %}" not in html and "&#37;" not in body
    assert 'Quoted "Title": Colons' in body  # text (quotes need no escape outside attributes)
    # Model HTML is text, not markup.
    assert "<script" not in body.lower()
    assert "&lt;script&gt;alert(&quot;deep&quot;)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert not re.search(r"<[a-z][^>]*\son\w+\s*=", body, re.IGNORECASE)
    assert "javascript:" not in body
    # The model's heading became bold text; the only h2 are the two papers.
    assert re.findall(r'<h2 id="([^"]+)"', body) == ["2602-00002", "2602-00001"]
    assert "<strong>1) 背景</strong>" in body
    # No script at all on a post page: math is MathML made at build time.
    assert _parse(html).scripts == []


def test_a_hand_edited_record_with_a_script_shows_it_as_text(tmp_path: Path) -> None:
    records = tmp_path / "_data" / "digest"
    record = make_record([make_entry(title="Paper <script>steal()</script>", deep_read='1) <p onclick="x()">hi</p>')])
    record.papers[0].abs_url = "javascript:alert(1)"
    write_record(records, record)
    build_site(records, tmp_path / "out")
    html = _page(tmp_path / "out", "/2026/01/07/arxiv.html")
    body = html.split('<div class="post-content">', 1)[1]
    assert "<script" not in body and "&lt;script&gt;steal()&lt;/script&gt;" in body
    assert "onclick" not in re.sub(r"&lt;p onclick=[^<]*", "", body)
    assert "javascript:" not in body and 'href="#"' in body


def test_relative_links_resolve_inside_the_built_folder(seed_site) -> None:
    posts, out, _ = seed_site
    result = build_site(posts, out, search=True)  # the search page links into the index's bundle
    checked = 0
    for page in result.pages:
        if page.suffix != ".html":
            continue
        rel_page = page.relative_to(out).as_posix()
        for link in _parse(page.read_text(encoding="utf-8")).links:
            if link.startswith(("http://", "https://", "#", "mailto:")):
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(rel_page), link.split("#")[0]))
            path = out / target
            assert path.is_file() or (path / "index.html").is_file(), f"{rel_page}: broken link {link}"
            checked += 1
    assert checked > 20


def test_rebuild_removes_pages_of_deleted_posts_only(seed_site) -> None:
    posts, out, seeds = seed_site
    out.mkdir()
    (out / "CNAME").write_text("example.org\n", encoding="utf-8")
    build_site(posts, out)
    assert (out / "2025/06/04/arxiv.html").is_file()
    (posts / "2025-06-04.json").unlink()
    result = build_site(posts, out)
    assert result.posts == len(seeds) - 1
    assert not (out / "2025/06/04/arxiv.html").exists()
    assert (out / "CNAME").read_text(encoding="utf-8") == "example.org\n"
    assert "2025-06-04" not in _page(out, "archive.html")


def test_empty_and_missing_records_folder(tmp_path: Path) -> None:
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "README.txt").write_text("not a record", encoding="utf-8")
    result = build_site(tmp_path / "records", tmp_path / "out")
    assert result.posts == 0
    assert "还没有文章" in _page(tmp_path / "out", "index.html")
    assert not feedparser.parse((tmp_path / "out" / "feed.xml").read_bytes()).bozo
    with pytest.raises(UsageError, match="no such folder"):
        build_site(tmp_path / "nowhere", tmp_path / "out")


# ---------------------------------------------------------------- issue 15: the reader's site


def _marks_record():
    """A day with a finished, a failed, a deferred and an unasked deep read, on clear topics."""
    done = make_entry("2603.00001v1", title="Streaming Speech Recognition with Transducers",
                      abstract="We improve automatic speech recognition.", translation="我们改进语音识别。")
    failed = make_entry("2603.00002v1", title="Neural Audio Codec at 1 kbps", deep_error="模型服务超时，下次运行将重试",
                        abstract="A neural audio codec with discrete tokens.", translation="一种离散令牌神经音频编解码器。")
    deferred = make_entry("2603.00003v1", title="Singing Voice Synthesis with Diffusion",
                          abstract="Singing voice synthesis.", translation="歌声合成。")
    deferred.deep_read = TaskResult(status="deferred", error="token budget")
    unasked = make_entry("2603.00004v1", title="Sound Event Detection in Homes", deep_read=None,
                         abstract="Sound event detection.", translation="声音事件检测。")
    return make_record([done, failed, deferred, unasked], day="2026-03-02")


def test_post_page_starts_with_a_table_of_contents_marking_unfinished_reads(tmp_path: Path) -> None:
    records = tmp_path / "records"
    write_record(records, _marks_record())
    build_site(records, tmp_path / "out")
    html = _page(tmp_path / "out", "/2026/03/02/arxiv.html")
    content = html.split('<div class="post-content">', 1)[1]
    toc = content.split('<nav class="toc"', 1)[1].split("</nav>", 1)[0]
    assert content.index('<nav class="toc"') < content.index("<h2 ")  # before the first paper
    assert "本期目录</strong>（4 篇，2 篇解读待完成，1 篇解读失败）" not in toc  # deferred is pending, not failed
    assert "本期目录</strong>（4 篇，1 篇解读待完成，1 篇解读失败）" in toc
    items = re.findall(r"<li>(.*?)</li>", toc)
    assert len(items) == 4
    anchors = [re.search(r'href="#([^"]+)"', i).group(1) for i in items]  # type: ignore[union-attr]
    assert anchors == ["2603-00001", "2603-00002", "2603-00003", "2603-00004"]
    assert all(f'<h2 id="{a}">' in content for a in anchors)
    assert "mark" not in items[0] and "mark" not in items[3]
    assert 'class="mark mark-failed"' in items[1] and "解读失败" in items[1]
    assert 'class="mark mark-pending"' in items[2] and "解读待完成" in items[2]
    assert 'href="../../../topics/asr/index.html">语音识别</a>' in items[0]  # opens from disk too
    assert 'href="../../../topics/codec/index.html">' in items[1]
    assert 'href="../../../topics/tts/index.html">' in items[2]
    assert 'href="../../../topics/sound/index.html">' in items[3]
    # chips on each paper; the day page is not a search result (its papers' own pages are), so no filters
    chips = re.findall(r'<p class="topics">(.*?)</p>', content)
    assert len(chips) == 4 and not any("data-pagefind" in c for c in chips)
    assert "data-pagefind-body" not in html and '<html lang="zh-CN">' in html
    for anchor, paper in zip(anchors, ("2603.00001", "2603.00002", "2603.00003", "2603.00004"), strict=True):
        section = content.split(f'<h2 id="{anchor}">', 1)[1].split("</section>", 1)[0]
        assert f'href="../../../papers/{paper}/index.html"' in section  # each paper links its own page


def test_topic_pages_list_papers_newest_first_paged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import digest.site.build as site

    monkeypatch.setattr(site, "TOPIC_PAGE_SIZE", 3)
    records = tmp_path / "records"
    for n in range(4):  # 8 ASR papers over 4 days, 2 a day
        entries = [make_entry(f"2603.{10 * n + k:05d}v1", title=f"Speech Recognition Paper {n}-{k}",
                              abstract="Speech recognition.", translation="语音识别。") for k in range(2)]
        write_record(records, make_record(entries, day=f"2026-03-0{n + 1}"))
    out = tmp_path / "out"
    result = build_site(records, out, base_url="https://example.org/blog")
    assert result.topics == {"asr": 8}
    first, second, third = (_page(out, p) for p in
                            ("topics/asr/index.html", "topics/asr/page/2/index.html", "topics/asr/page/3/index.html"))
    titles = [t for page in (first, second, third) for t in re.findall(r"Speech Recognition Paper (\d-\d)", page)]
    assert titles == ["3-0", "3-1", "2-0", "2-1", "1-0", "1-1", "0-0", "0-1"]
    assert "第 1 / 3 页" in first and 'href="page/2/index.html">较早 →' in first and "较新" not in first
    assert 'href="../3/index.html">较早 →' in second and 'href="../../index.html">← 较新' in second
    assert not (out / "topics/asr/page/4").exists()
    assert 'href="../../2026/03/04/arxiv.html#2603-00030"' in first  # the day it was posted
    assert 'class="paper-link" href="../../papers/2603.00030/index.html"' in first  # and its own page
    index = _page(out, "topics/index.html")
    assert 'href="asr/index.html">语音识别</a> <span class="count">8 篇</span>' in index
    assert "topics/tts" not in index and not (out / "topics" / "tts").exists()  # only topics in use


def test_every_topic_feed_parses_with_absolute_links(tmp_path: Path) -> None:
    records = tmp_path / "records"
    write_record(records, _marks_record())
    write_record(records, hostile_record())
    out = tmp_path / "out"
    result = build_site(records, out, base_url="https://example.org/blog/")
    assert set(result.topics) >= {"asr", "codec", "tts", "sound", "other"}
    for slug in result.topics:
        raw = (out / "topics" / slug / "feed.xml").read_bytes()
        feed = feedparser.parse(raw)
        assert not feed.bozo, (slug, feed.get("bozo_exception"))
        assert feed.feed.id == f"https://example.org/blog/topics/{slug}/feed.xml"
        assert feed.feed.link == f"https://example.org/blog/topics/{slug}/"
        assert feed.entries
        for entry in feed.entries:
            assert entry.link.startswith("https://example.org/blog/20") and entry.id.startswith(entry.link + "#topic-")
            assert entry.published.endswith("+08:00")
        for href in re.findall(rb'href="([^"]+)"', raw):
            assert href.startswith(b"https://example.org/blog/"), href
    codec = feedparser.parse((out / "topics/codec/feed.xml").read_bytes())
    assert [e.title for e in codec.entries] == ["arXiv Daily – 2026-03-02 · 编解码与表征（1 篇）"]
    assert "Neural Audio Codec" in codec.entries[0].summary and "Streaming Speech" not in codec.entries[0].summary


def _owned_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file())


def test_built_files_are_public_whatever_the_umask_and_nothing_internal_is_published(tmp_path: Path) -> None:
    records = tmp_path / "records"
    write_record(records, _marks_record())
    out = tmp_path / "site"
    out.mkdir(mode=0o700)
    (out / ".digest-site").write_text("old-page.html\n", encoding="utf-8")  # a manifest from an older build
    (out / "old-page.html").write_text("stale", encoding="utf-8")
    script = (
        "import os, sys; from pathlib import Path; os.umask(0o077)\n"
        "from digest.site.build import build_site\n"
        "build_site(Path(sys.argv[1]), Path(sys.argv[2]), search=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(records), str(out)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    files = _owned_files(out)
    assert any(p.parts[-2] == "pagefind" for p in files)  # the search index is checked too
    for f in files:
        assert f.stat().st_mode & 0o777 == 0o644, f
    for d in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        assert d.stat().st_mode & 0o777 == 0o755, d
    assert not (out / ".digest-site").exists() and not (out / "old-page.html").exists()
    assert not [f for f in files if f.name.startswith(".")]
    assert (tmp_path / ".site.digest-site").is_file()  # the manifest lives beside the site


def test_rebuild_drops_pages_of_topics_no_longer_in_use(tmp_path: Path) -> None:
    records = tmp_path / "records"
    write_record(records, _marks_record())
    out = tmp_path / "out"
    (tmp_path / "out").mkdir()
    (out / "CNAME").write_text("example.org\n", encoding="utf-8")
    build_site(records, out)
    assert (out / "topics/sound/index.html").is_file()
    record = _marks_record()
    record.papers = record.papers[:3]
    write_record(records, record)
    build_site(records, out)
    assert not (out / "topics/sound").exists()
    assert (out / "topics/asr/index.html").is_file() and (out / "CNAME").is_file()


HOST_REF = re.compile(
    r"""<(?:script|link|img|source|iframe|video|audio)\b[^>]*\b(?:src|href|srcset)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import\s+["']?(?:https?:)?//""",
    re.IGNORECASE,
)


def test_no_page_loads_anything_from_another_host(seed_site) -> None:
    records, out, _ = seed_site
    write_record(records, hostile_record())
    build_site(records, out, base_url="https://example.org/blog/", search=True)
    checked = 0
    for f in _owned_files(out):
        if f.suffix in (".html", ".css", ".js"):
            text = f.read_text(encoding="utf-8", errors="replace")
            # a canonical link names the page's public address; the browser loads nothing from it
            loads = re.sub(r'<link rel="canonical" href="[^"]*">', "", text)
            assert not HOST_REF.search(loads), (f, HOST_REF.search(loads))
            if f.suffix == ".html":
                assert "fonts.googleapis" not in text and "mathjax" not in text.lower()
            checked += 1
    assert checked > 10


def test_every_post_page_whose_source_has_formulas_contains_mathml(seed_site) -> None:
    records, out, posts = seed_site
    build_site(records, out)
    with_math = 0
    for post in posts:
        source = post.read_text(encoding="utf-8")
        html = _page(out, post_url(post))
        if re.search(r"\$[^$\s][^$]*\$|\\\(|\\\[", source):
            with_math += 1
            assert "<math " in html, post.name
    assert with_math >= 1  # not vacuous: the hand-made posts have formulas (the seeds add more when ../shared is there)


def test_search_page_is_written_where_search_q_finds_it(seed_site) -> None:
    records, out, _ = seed_site
    build_site(records, out)
    page = _page(out, "search/index.html")
    # the page's script (which reads ?q=) is written beside the index: tests/site/test_search.py
    assert '<script type="module" src="../pagefind/digest-search.js"' in page
    assert 'href="../search/index.html"' in _page(out, "topics/index.html")
    assert 'href="search/index.html"' in _page(out, "index.html")


def test_build_recomputes_stored_topics_when_the_taxonomy_changes(tmp_path: Path) -> None:
    from helpers import digest_cli

    site = tmp_path / "blog"
    records = site / "_data" / "digest"
    write_record(records, _marks_record())
    (site / "config.yaml").write_text("site:\n  url: https://example.org/blog\n", encoding="utf-8")
    proc = digest_cli(site, "build", "--no-search")
    assert proc.returncode == 0, proc.stderr
    stored = read_record(records / "2026-03-02.json")
    assert stored.topics_fingerprint and [e.topics for e in stored.papers] == [["asr"], ["codec"], ["tts", "music"], ["sound"]]
    assert "https://example.org/blog/2026/03/02/arxiv.html" in (site / "_site" / "feed.xml").read_text(encoding="utf-8")
    # the user's taxonomy: everything about codecs is now "compression"
    mine = site / "my-topics.yaml"
    mine.write_text(
        "topics:\n"
        "  - {slug: compression, label: 压缩, en: [codec], zh: [编解码]}\n"
        "  - {slug: other, label: 其他}\n",
        encoding="utf-8",
    )
    (site / "config.yaml").write_text("site:\n  topics_file: my-topics.yaml\n", encoding="utf-8")
    proc = digest_cli(site, "build", "--no-search")
    assert proc.returncode == 0, proc.stderr
    assert "topics recomputed for 1 record(s)" in proc.stderr + proc.stdout
    assert "site.url is not set" in proc.stderr + proc.stdout
    again = read_record(records / "2026-03-02.json")
    assert again.topics_fingerprint != stored.topics_fingerprint
    assert [e.topics for e in again.papers] == [["other"], ["compression"], ["other"], ["other"]]
    assert (site / "_site/topics/compression/index.html").is_file() and not (site / "_site/topics/asr").exists()
    proc = digest_cli(site, "build", "--no-search")
    assert "topics recomputed" not in proc.stderr + proc.stdout  # nothing changed: nothing rewritten
    (site / "config.yaml").write_text("site:\n  topics_file: nowhere.yaml\n", encoding="utf-8")
    proc = digest_cli(site, "build", "--no-search")
    assert proc.returncode != 0 and "topics file not found; fix site.topics_file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_site_url_must_be_a_web_address() -> None:
    from digest.core.config import SiteConfig

    assert SiteConfig(url="https://example.org/blog").url == "https://example.org/blog/"
    assert SiteConfig().url == ""
    with pytest.raises(ValueError, match="site URL with its base path"):
        SiteConfig(url="example.org/blog")


def test_imported_seed_posts_get_topic_pages_for_every_slug_in_use(tmp_path: Path) -> None:
    from helpers import seed_files

    seeds = seed_files()
    if not seeds:
        pytest.skip("no seed posts in ../shared/seeds")
    records = tmp_path / "records"
    for seed in seeds:
        import_into(records, seed)
    out = tmp_path / "out"
    result = build_site(records, out, base_url="https://example.org/")
    in_use: dict[str, int] = {}
    papers = sum(len(read_record(records / f"{seed.name[:10]}.json").papers) for seed in seeds)
    for seed in seeds:  # the chips on the post pages
        html = _page(out, post_url(seed))
        for slug in re.findall(r'<a class="topic topic-([a-z0-9-]+)" href="[^"]*">', html.split('<h2 id="', 1)[1]):
            in_use[slug] = in_use.get(slug, 0) + 1
    assert sum(in_use.values()) == sum(result.topics.values())
    assert set(in_use) == set(result.topics) and len(in_use) >= 8
    for slug in in_use:
        assert (out / "topics" / slug / "index.html").is_file() and (out / "topics" / slug / "feed.xml").is_file()
    assert sum(result.topics.values()) / papers <= 2.2
    assert not (out / "topics" / "nonexistent").exists()


def test_the_daily_workflow_builds_with_digest_and_deploys_with_pages_actions() -> None:
    import yaml

    workflow = yaml.safe_load((Path(__file__).resolve().parents[2] / ".github/workflows/daily.yml").read_text("utf-8"))
    steps = workflow["jobs"]["run"]["steps"]
    runs = [str(s.get("run", "")) for s in steps]
    uses = [str(s.get("uses", "")) for s in steps]
    run_at = next(i for i, r in enumerate(runs) if "digest run" in r)
    build_at = next(i for i, r in enumerate(runs) if "digest build --out _site" in r)
    upload_at = next(i for i, u in enumerate(uses) if u.startswith("actions/upload-pages-artifact@"))
    assert run_at < build_at < upload_at
    assert steps[upload_at]["with"]["path"] == "_site"
    assert "--url" in runs[build_at]  # absolute feed links from the Pages URL
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "run" and deploy["environment"]["name"] == "github-pages"
    assert any(str(s.get("uses", "")).startswith("actions/deploy-pages@") for s in deploy["steps"])
    assert workflow["permissions"]["pages"] == "write" and workflow["permissions"]["id-token"] == "write"
