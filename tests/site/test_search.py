"""The search index (Pagefind) over Chinese pages, queried as the browser would, and the search page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.core.errors import DigestError
from digest.core.templates import template_env
from digest.site.search import (
    BUNDLE_DIR,
    SEARCH_PAGE,
    build_search_index,
    pagefind_binary,
    search_page_url,
    segments_chinese,
)
from helpers import serve_folder

NODE = shutil.which("node")

PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head>
<body><nav>最新 归档 订阅</nav>
<main data-pagefind-body><h1>{title}</h1>{papers}</main></body></html>
"""
PAPER = """<h2 id="{anchor}">{title}</h2>
<ul><li><strong>Authors</strong>: {authors}</li></ul>
<p>{abstract}</p>
<details><summary>详细解读</summary><p>{deep}</p></details>
"""


def paper(anchor: str, title: str, authors: str, abstract: str, deep: str) -> str:
    return PAPER.format(anchor=anchor, title=title, authors=authors, abstract=abstract, deep=deep)


def small_site(root: Path) -> Path:
    site = root / "site"
    (site / "2026" / "01" / "07").mkdir(parents=True)
    (site / "2026" / "01" / "08").mkdir(parents=True)
    one = PAGE.format(
        title="arXiv Daily – 2026-01-07",
        papers=paper("2601-00001", "Fast Speech Enhancement", "Li Wei, Anna Schmidt",
                     "本文提出一种低复杂度的单通道语音增强网络，可在嵌入式设备上实时降噪。",
                     "方法部分使用互补滤波器缓解状态漂移。")
        + paper("2601-00002", "Deepfake Detection at the First Greeting", "Zhang San",
                "我们研究通话开头超短语音的深度伪造检测。", "实验在电话信道上进行。"),
    )
    two = PAGE.format(
        title="arXiv Daily – 2026-01-08",
        papers=paper("2601-00003", "Bangla Music Genre Classification", "Rahim Uddin",
                     "构建孟加拉音乐流派数据集并用循环网络分类。", "特征采用梅尔倒谱系数与双向长短期记忆网络。"),
    )
    (site / "2026" / "01" / "07" / "arxiv.html").write_text(one, encoding="utf-8")
    (site / "2026" / "01" / "08" / "arxiv.html").write_text(two, encoding="utf-8")
    # no data-pagefind-body: skipped once other pages have one (home/archive must not duplicate results)
    (site / "index.html").write_text(PAGE.replace(" data-pagefind-body", "").format(title="首页", papers="语音增强"),
                                     encoding="utf-8")
    return site


def need_extended_pagefind() -> None:
    """Skip unless the extended Pagefind binary (the one that splits Chinese into words) is installed."""
    try:
        binary = pagefind_binary()
    except DigestError as exc:
        pytest.skip(str(exc))
    if not segments_chinese(binary):
        pytest.skip(f"{binary} is not the extended Pagefind build")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_extended_pagefind()
    site = small_site(tmp_path_factory.mktemp("search"))
    result = build_search_index(site)
    assert result.pages == 2
    assert result.bundle_dir == site / BUNDLE_DIR
    return site


def test_index_is_written_for_both_chinese_pages(indexed: Path) -> None:
    bundle = indexed / BUNDLE_DIR
    entry = json.loads((bundle / "pagefind-entry.json").read_text(encoding="utf-8"))
    assert entry["languages"]["zh-cn"]["page_count"] == 2
    # the UI the search page loads is in the same bundle: nothing comes from another host
    for name in ("pagefind.js", "pagefind-ui.js", "pagefind-ui.css"):
        assert (bundle / name).is_file()
    fragments = b"".join(_gunzip(p) for p in (bundle / "fragment").iterdir())
    assert b'"url":"/2026/01/07/arxiv.html"' in fragments
    assert b'"url":"/2026/01/08/arxiv.html"' in fragments
    assert b'"url":"/index.html"' not in fragments
    assert b'"id":"2601-00002"' in fragments  # paper headings become sub-results
    # Chinese was split into words: 语音 and 增强 are separate index words, not one long run
    words = b"".join(_gunzip(p) for p in (bundle / "index").iterdir())
    assert "语音".encode() in words and "增强".encode() in words
    assert "低复杂度的单通道语音增强网络".encode() not in words


def _gunzip(path: Path) -> bytes:
    import gzip

    return gzip.decompress(path.read_bytes())


@pytest.fixture(scope="module")
def served(indexed: Path) -> Iterator[str]:
    with serve_folder(indexed) as base:
        yield base


QUERY_JS = """
const [bundle, base, term] = process.argv.slice(2);
const pagefind = await import(bundle);
await pagefind.options({ basePath: base });
const search = await pagefind.search(term);
const out = [];
for (const r of search.results) {
  const d = await r.data();
  out.push({ url: d.url, subs: d.sub_results.map((s) => s.url) });
}
console.log(JSON.stringify(out));
process.exit(0);
"""


def run_query(indexed: Path, served: str, term: str, tmp_path: Path) -> list[dict[str, object]]:
    script = tmp_path / "query.mjs"
    script.write_text(QUERY_JS, encoding="utf-8")
    bundle = (indexed / BUNDLE_DIR / "pagefind.js").as_uri()
    proc = subprocess.run(
        [str(NODE), str(script), bundle, f"{served}/{BUNDLE_DIR}/", term],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: list[dict[str, object]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.skipif(NODE is None, reason="needs node to run Pagefind's search library")
@pytest.mark.parametrize(
    ("term", "page", "anchor"),
    [
        ("语音增强", "/2026/01/07/arxiv.html", "2601-00001"),
        ("深度伪造", "/2026/01/07/arxiv.html", "2601-00002"),
        ("音乐流派", "/2026/01/08/arxiv.html", "2601-00003"),
        ("双向长短期记忆网络", "/2026/01/08/arxiv.html", "2601-00003"),  # only in the deep read
        ("Schmidt", "/2026/01/07/arxiv.html", "2601-00001"),  # authors
        ("genre", "/2026/01/08/arxiv.html", "2601-00003"),  # English title
    ],
)
def test_chinese_and_english_queries_find_the_right_paper(
    indexed: Path, served: str, tmp_path: Path, term: str, page: str, anchor: str
) -> None:
    results = run_query(indexed, served, term, tmp_path)
    assert [r["url"] for r in results] == [f"{served}{page}"]
    subs = results[0]["subs"]
    assert isinstance(subs, list) and f"{served}{page}#{anchor}" in subs


@pytest.mark.skipif(NODE is None, reason="needs node to run Pagefind's search library")
def test_a_term_on_no_page_finds_nothing(indexed: Path, served: str, tmp_path: Path) -> None:
    assert run_query(indexed, served, "区块链", tmp_path) == []


def test_rebuild_replaces_the_old_bundle(tmp_path: Path) -> None:
    need_extended_pagefind()
    site = small_site(tmp_path)
    build_search_index(site)
    stale = site / BUNDLE_DIR / "fragment" / "zh-cn_stale.pf_fragment"
    stale.write_bytes(b"old")
    (site / "2026" / "01" / "08" / "arxiv.html").unlink()
    again = build_search_index(site)
    assert again.pages == 1
    assert not stale.exists()


def test_a_foreign_pagefind_folder_is_not_deleted(tmp_path: Path) -> None:
    site = small_site(tmp_path)
    mine = site / BUNDLE_DIR / "notes.txt"
    mine.parent.mkdir()
    mine.write_text("keep", encoding="utf-8")
    with pytest.raises(DigestError, match="holds no Pagefind index; move it away"):
        build_search_index(site, require_chinese=False)
    assert mine.read_text(encoding="utf-8") == "keep"


def test_missing_site_folder(tmp_path: Path) -> None:
    with pytest.raises(DigestError, match="no such site folder; run `digest build` first"):
        build_search_index(tmp_path / "nope", require_chinese=False)


def test_plain_binary_is_refused_for_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "pagefind"
    plain.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    plain.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(plain))
    assert not segments_chinese(pagefind_binary())
    with pytest.raises(DigestError, match=r"plain Pagefind build.*pagefind\[extended\]"):
        build_search_index(small_site(tmp_path))


def test_missing_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(tmp_path / "absent"))
    with pytest.raises(DigestError, match=r"no Pagefind binary found; install it with"):
        build_search_index(small_site(tmp_path))


def test_a_dying_indexer_fails_instead_of_hanging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dying = tmp_path / "pagefind_extended"
    dying.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    dying.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(dying))
    with pytest.raises(DigestError, match="Pagefind"):
        build_search_index(small_site(tmp_path))


# ---------------------------------------------------------------- the page


def render_search_page(link: object) -> str:
    env = template_env()
    return env.get_template("site/search.html.j2").render(
        page=SEARCH_PAGE, link=link, site_title="arXiv Daily", mathjax_url="", date_text=str, categories=["cs.SD"]
    )


def test_search_page_loads_pagefind_from_the_site_and_reads_q() -> None:
    html = render_search_page(lambda page, target: target)
    block = html.split('<h1 class="page-title">搜索</h1>', 1)[1]
    assert '<script src="pagefind/pagefind-ui.js"></script>' in block
    assert '<link rel="stylesheet" href="pagefind/pagefind-ui.css">' in html.split("</head>", 1)[0]
    assert 'bundlePath: root + "pagefind/"' in block and "baseUrl: root" in block  # works under a base path
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", block)  # nothing from another host
    assert 'new URLSearchParams(window.location.search).get("q")' in block
    assert "ui.triggerSearch(q)" in block
    assert 'url.searchParams.set("q", term)' in block  # the URL follows the typed query
    assert 'data-pagefind-ignore="all"' in block


def test_search_page_links_follow_the_site_linker() -> None:
    html = render_search_page(lambda page, target: "/blog/" + target.lstrip("/"))
    assert '<script src="/blog/pagefind/pagefind-ui.js"></script>' in html


def test_search_page_url() -> None:
    assert SEARCH_PAGE == "search/index.html"
    assert search_page_url() == "search/"
    assert search_page_url("语音 增强") == "search/?q=%E8%AF%AD%E9%9F%B3+%E5%A2%9E%E5%BC%BA"


# ---------------------------------------------------------------- the built site's index


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from digest.core.store import write_record
    from digest.site.build import build_site
    from helpers import make_entry, make_record

    need_extended_pagefind()
    root = tmp_path_factory.mktemp("built")
    records = root / "records"
    write_record(records, make_record([
        make_entry("2603.00001v1", title="Streaming Speech Recognition", abstract="Speech recognition.",
                   translation="我们提出一种流式语音识别方法，降低首字延迟。", authors=["Wang Fang"],
                   deep_read="1) 背景\n- 方法使用块状注意力与前瞻缓存。"),
        make_entry("2603.00002v1", title="Neural Audio Codec", abstract="A neural audio codec.",
                   translation="一种低码率神经音频编解码器。", authors=["Karl Weber"]),
    ], day="2026-03-02"))
    write_record(records, make_record([
        make_entry("2603.00003v1", title="Bird Song Detection", abstract="Bioacoustics.",
                   translation="利用被动声学监测识别鸟类鸣叫。", authors=["Ana Costa"]),
    ], day="2026-03-03"))
    result = build_site(records, root / "site", search=True)
    assert result.search_pages == 3  # the paper pages, each paper once; day, home, archive, topic pages are not
    return root / "site"


def test_built_site_index_holds_each_paper_page_once(built_site: Path) -> None:
    fragments = b"".join(_gunzip(p) for p in (built_site / BUNDLE_DIR / "fragment").iterdir())
    for paper in (b"2603.00001", b"2603.00002", b"2603.00003"):
        assert fragments.count(b'"url":"/papers/' + paper + b'/"') == 1
    for page in (b"/index.html", b"/archive.html", b"/topics/", b"/search/", b"/2026/"):
        assert b'"url":"' + page not in fragments
    assert "语音识别".encode() in fragments  # the topic chip's label is indexed with the paper
    assert '"主题":["'.encode() in fragments  # and is a filter, named as the search page shows it


@pytest.mark.skipif(NODE is None, reason="needs node to run Pagefind's search library")
@pytest.mark.parametrize(
    ("term", "page"),
    [
        ("流式语音识别", "/papers/2603.00001/"),  # Chinese abstract
        ("前瞻缓存", "/papers/2603.00001/"),  # deep read
        ("Weber", "/papers/2603.00002/"),  # authors
        ("鸟类", "/papers/2603.00003/"),
        ("2603.00003", "/papers/2603.00003/"),  # the arXiv id
        ("2603.00003v1", "/papers/2603.00003/"),  # with its version
    ],
)
def test_built_site_finds_papers_by_chinese_and_english_terms(
    built_site: Path, tmp_path: Path, term: str, page: str
) -> None:
    with serve_folder(built_site) as base:
        results = run_query(built_site, base, term, tmp_path)
    assert [r["url"] for r in results][:1] == [f"{base}{page}"]
