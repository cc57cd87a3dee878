"""Paper pages (citation meta, BibTeX, canonical), Chinese titles, sitemap, topic charts and a site that opens from disk."""

from __future__ import annotations

import posixpath
import re
import types
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from digest.core.store import write_record
from digest.site import pages
from digest.site.build import build_site
from digest.site.charts import month_axis, month_chart, per_month
from helpers import make_entry, make_record
from postfixtures import golden_posts
from tests.site.test_site import hostile_record, import_into

OLDBLOG = Path(__file__).resolve().parents[2].parent.parent / "shared" / "oldblog" / "_posts"
ZH = {"2603.00001v2": "流式语音识别的前瞻缓存", "2603.00002v1": "低码率神经音频编解码器"}


class _Head(HTMLParser):
    """The meta tags, canonical link and every href/src of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: list[tuple[str, str]] = []
        self.canonical: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and a.get("name", "").startswith("citation_"):
            self.meta.append((a["name"], a.get("content", "")))
        if tag == "link" and a.get("rel") == "canonical":
            self.canonical.append(a["href"])
        self.links += [a[k] for k in ("href", "src") if a.get(k)]


def _head(html: str) -> _Head:
    p = _Head()
    p.feed(html)
    return p


@pytest.fixture
def two_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two days; 2603.00001 is posted on both (v1, then v2); two papers carry a Chinese title."""
    monkeypatch.setattr(pages, "chinese_title", lambda entry: ZH.get(entry.id, ""))
    records = tmp_path / "records"
    first = make_entry("2603.00001v1", title="Streaming ASR with {Lookahead} Caches",
                       authors=["José Müller", "Wang Fang"], abstract="We cache lookahead frames.")
    first.published = "2026-02-27T18:00:00+00:00"
    write_record(records, make_record([first], day="2026-03-02"))
    second = first.model_copy(update={"id": "2603.00001v2", "pdf_url": "https://arxiv.org/pdf/2603.00001v2"})
    codec = make_entry("2603.00002v1", title="A Neural Audio Codec", authors=["Karl Weber"], abstract="")
    write_record(records, make_record([second, codec], day="2026-04-03"))
    return records


def test_each_paper_has_one_page_with_citation_meta_and_canonical(two_days: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(two_days, out, base_url="https://example.org/blog/")
    assert sorted(p.name for p in (out / "papers").iterdir()) == ["2603.00001", "2603.00002"]
    html = (out / "papers/2603.00001/index.html").read_text(encoding="utf-8")
    head = _head(html)
    assert head.meta == [
        ("citation_title", "Streaming ASR with {Lookahead} Caches"),
        ("citation_author", "José Müller"),
        ("citation_author", "Wang Fang"),
        ("citation_publication_date", "2026/02/27"),
        ("citation_pdf_url", "https://arxiv.org/pdf/2603.00001v2"),  # the newest version posted
        ("citation_arxiv_id", "2603.00001"),
        ("citation_abstract", "We cache lookahead frames."),
    ]
    assert head.canonical == ["https://example.org/blog/papers/2603.00001/"]
    # both days it was posted on, newest first, each linking the paper's place on the day page
    assert 'href="../../2026/04/03/arxiv.html#2603-00001"' in html and 'href="../../2026/03/02/arxiv.html#2603-00001"' in html
    assert '<p class="title-zh" lang="zh-CN" data-pagefind-meta="title_zh" data-pagefind-weight="7">流式语音识别的前瞻缓存</p>' in html
    codec = _head((out / "papers/2603.00002/index.html").read_text(encoding="utf-8"))
    assert ("citation_date", "2026/04/03") in codec.meta  # no first-version date in the record: the day posted
    assert not any(name == "citation_abstract" for name, _ in codec.meta)  # no English abstract, no tag


def test_bibtex_is_arxivs_misc_form(two_days: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(two_days, out)
    html = (out / "papers/2603.00001/index.html").read_text(encoding="utf-8")
    bib = unescape(re.search(r'<pre class="bibtex"[^>]*><code>(.*?)</code></pre>', html, re.S).group(1))  # type: ignore[union-attr]
    assert bib == (
        "@misc{muller2026streaming,\n"
        "      title={Streaming ASR with {Lookahead} Caches},\n"
        "      author={José Müller and Wang Fang},\n"
        "      year={2026},\n"
        "      eprint={2603.00001},\n"
        "      archivePrefix={arXiv},\n"
        "      primaryClass={cs.SD},\n"
        "      url={https://arxiv.org/abs/2603.00001},\n"
        "}"
    )
    assert _head(html).canonical == ["index.html"]  # no site.url: relative


def test_search_indexes_paper_pages_only_with_their_meta(two_days: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(two_days, out)
    marked = [p.relative_to(out).as_posix() for p in out.rglob("*.html") if "data-pagefind-body" in p.read_text("utf-8")]
    assert sorted(marked) == ["papers/2603.00001/index.html", "papers/2603.00002/index.html"]
    html = (out / "papers/2603.00001/index.html").read_text(encoding="utf-8")
    article = html.split("data-pagefind-body", 1)[1]
    assert 'data-pagefind-meta="title[data-title], id[data-id]"' in article and 'data-id="2603.00001"' in article
    assert 'data-pagefind-meta="date[datetime]"' in article and 'data-pagefind-filter="主题"' in article
    # the id with and without version, and the authors, are indexed text; the metadata list is not
    cite = article.split('<section class="cite">', 1)[1].split("</section>", 1)[0]
    assert "arXiv:2603.00001v2（2603.00001）" in cite and "José Müller, Wang Fang" in cite
    assert '<ul class="paper-meta" data-pagefind-ignore>' in article
    assert article.index('<section class="abstract">') < article.index('<section class="cite">')


def test_chinese_titles_beside_english_ones_and_links_to_paper_pages(two_days: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(two_days, out, base_url="https://example.org/blog")
    day = (out / "2026/04/03/arxiv.html").read_text(encoding="utf-8")
    toc = day.split('<nav class="toc"', 1)[1].split("</nav>", 1)[0]
    assert '<span class="title-zh">流式语音识别的前瞻缓存</span>' in toc and "低码率神经音频编解码器" in toc
    assert 'href="../../../papers/2603.00002/index.html"' in day
    topic = next((out / "topics").glob("*/index.html")).read_text(encoding="utf-8")
    assert '<div class="title-zh">' in topic and 'class="paper-link" href="../../papers/' in topic
    feed = (out / "feed.xml").read_text(encoding="utf-8")
    assert "https://example.org/blog/papers/2603.00002/&#34;&gt;A Neural Audio Codec&lt;/a&gt; 低码率神经音频编解码器" in feed


def test_chinese_title_reads_a_string_or_a_result() -> None:
    entry = make_entry()
    assert pages.chinese_title(entry) == ""  # the record has no field yet
    assert pages.chinese_title(types.SimpleNamespace(title_zh="  神经 编解码器\n")) == "神经 编解码器"  # type: ignore[arg-type]
    result = types.SimpleNamespace(text="语音增强")
    assert pages.chinese_title(types.SimpleNamespace(title_zh=result)) == "语音增强"  # type: ignore[arg-type]


def test_sitemap_lists_every_page_absolute(two_days: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(two_days, out, base_url="https://example.org/blog/")
    locs = re.findall(r"<loc>([^<]+)</loc>", (out / "sitemap.xml").read_text(encoding="utf-8"))
    html = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    assert len(locs) == len(html) == len(set(locs))
    assert "https://example.org/blog/papers/2603.00001/" in locs and "https://example.org/blog/" in locs
    assert "https://example.org/blog/2026/03/02/arxiv.html" in locs and "https://example.org/blog/topics/" in locs
    build_site(two_days, out)  # no site.url: paths from the site root
    assert "<loc>papers/2603.00002/index.html</loc>" in (out / "sitemap.xml").read_text(encoding="utf-8")


def test_month_chart_draws_each_month_and_says_it_in_words() -> None:
    axis = month_axis(["2025-11-30", "2026-02-01", "2025-12-05"])
    assert axis == ["2025-11", "2025-12", "2026-01", "2026-02"]  # the empty January too, across the year
    counts = per_month(["2025-11-30", "2025-11-02", "2026-02-01"], axis)
    assert counts == [2, 0, 0, 1]
    svg = str(month_chart("语音识别", axis, counts))
    assert svg.startswith('<svg class="chart" role="img" aria-label="语音识别每月论文数：2025 年 11 月 2 篇，')
    assert "<title>语音识别每月论文数：2025 年 11 月 2 篇，2025 年 12 月 0 篇，2026 年 1 月 0 篇，2026 年 2 月 1 篇</title>" in svg
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 4 and heights[0] == 2 * heights[3] > 0 and heights[1] == heights[2] == 0
    assert "<script" not in svg


def test_topics_page_has_a_chart_per_topic(two_days: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = build_site(two_days, out)
    html = (out / "topics/index.html").read_text(encoding="utf-8")
    charts = re.findall(r'<svg class="chart" role="img" aria-label="([^"]+)"', html)
    assert len(charts) == len(result.topics) >= 1
    assert all("2026 年 3 月" in c and "2026 年 4 月" in c for c in charts)
    assert "<script" not in html


def _broken_links(out: Path, skip: str = "//") -> tuple[int, list[str]]:
    """Every href/src of every page resolved as a browser reading files would: it must name a file."""
    checked, broken = 0, []
    for page in out.rglob("*.html"):
        rel = page.relative_to(out).as_posix()
        for link in _head(page.read_text(encoding="utf-8")).links:
            if link.startswith(("http://", "https://", "mailto:", "#")):
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), link.split("#")[0].split("?")[0]))
            checked += 1
            if target.startswith(skip):
                continue
            if target.startswith("..") or not (out / target).is_file():
                broken.append(f"{rel}: {link}")
    return checked, broken


def test_every_internal_link_works_from_disk_under_a_base_path(tmp_path: Path) -> None:
    records = tmp_path / "records"
    for post in golden_posts(tmp_path / "posts"):
        import_into(records, post)
    write_record(records, hostile_record())
    out = tmp_path / "www" / "blog"  # a base path: the site is a folder inside another
    build_site(records, out, base_url="https://example.org/blog", search=True)  # search links the index bundle
    checked, broken = _broken_links(out)
    assert checked > 100 and broken == []
    search = (out / "search/index.html").read_text(encoding="utf-8")
    notice = search.split('<div id="search-offline" class="notice" hidden>', 1)[1].split("</div>", 1)[0]
    assert "需要通过网页服务器" in notice and "python -m http.server -d blog" in notice
    assert 'window.location.protocol === "file:"' in search


@pytest.mark.skipif(not OLDBLOG.is_dir(), reason="no old blog posts in ../shared/oldblog")
def test_old_blog_paper_pages_carry_meta_and_bibtex(tmp_path: Path) -> None:
    records = tmp_path / "records"
    posts = sorted(OLDBLOG.glob("*.md"))
    for post in posts:
        import_into(records, post)
    out = tmp_path / "_site"
    build_site(records, out, base_url="https://example.org/blog")
    papers = list((out / "papers").iterdir())
    assert len(papers) > 300
    for folder in papers[:: max(1, len(papers) // 25)]:
        html = (folder / "index.html").read_text(encoding="utf-8")
        head = _head(html)
        names = [n for n, _ in head.meta]
        assert names[0] == "citation_title" and names.count("citation_author") >= 1
        assert ("citation_arxiv_id", folder.name) in head.meta and "citation_pdf_url" in names
        assert head.canonical == [f"https://example.org/blog/papers/{folder.name}/"]
        assert f"      eprint={{{folder.name}}},\n      archivePrefix={{arXiv}}," in unescape(html)
    day = (out / "2025/10/16/arxiv.html").read_text(encoding="utf-8")
    assert 'href="../../../papers/2510.13632/index.html"' in day
    checked, broken = _broken_links(out, skip="pagefind/")  # built without the index, to keep the test quick
    assert checked > 1000 and broken == []
