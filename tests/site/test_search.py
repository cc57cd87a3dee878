"""The search index (Pagefind) over Chinese pages, queried as the browser would, and the search page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.core.errors import DigestError
from digest.core.templates import template_env
from digest.site.search import (
    BUNDLE_DIR,
    OTHER_PART,
    PARTS_FILE,
    SEARCH_PAGE,
    SEARCH_SCRIPT,
    build_search_index,
    one_word_per_character,
    pagefind_binary,
    search_page_url,
    search_script,
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
    # pages that are not a paper's own page go to one part of their own
    assert json.loads((bundle / PARTS_FILE).read_text(encoding="utf-8")) == {"parts": [OTHER_PART]}
    entry = json.loads((bundle / OTHER_PART / "pagefind-entry.json").read_text(encoding="utf-8"))
    assert entry["languages"]["zh-cn"]["page_count"] == 2
    # the library and the page's script are in the bundle folder: nothing comes from another host
    assert (bundle / OTHER_PART / "pagefind.js").is_file() and (bundle / SEARCH_SCRIPT).is_file()
    assert not (bundle / OTHER_PART / "pagefind-ui.js").exists()  # Pagefind's own UI is not used, not kept
    assert (bundle / SEARCH_SCRIPT).read_text(encoding="utf-8") == search_script()
    fragments = b"".join(_gunzip(p) for p in index_fragments(indexed))
    assert b'"url":"/2026/01/07/arxiv.html"' in fragments
    assert b'"url":"/2026/01/08/arxiv.html"' in fragments
    assert b'"url":"/index.html"' not in fragments
    assert b'"id":"2601-00002"' in fragments  # paper headings become sub-results
    # Chinese is indexed one character per word: a zero-width space ends every character's word
    text = fragments.decode()
    assert "语\u200b音\u200b增\u200b强" in text
    assert "语音增强" not in text
    # ...in the index only: the published pages are untouched
    assert "\u200b" not in (indexed / "2026" / "01" / "07" / "arxiv.html").read_text(encoding="utf-8")


def test_one_word_per_character_touches_chinese_text_only() -> None:
    page = '<p class="语音" data-pagefind-meta="title_zh:声码器">声码器 vocoder，2601.08537 高保真</p><!-- 注释 -->'
    spaced = one_word_per_character(page)
    assert spaced == ('<p class="语音" data-pagefind-meta="title_zh:声码器">声\u200b码\u200b器 vocoder，'
                      '2601.08537 高\u200b保\u200b真</p><!-- 注释 -->')
    assert spaced.replace("\u200b", "") == page
    chip = '<a class="topic" data-pagefind-filter="主题">语音增强与分离</a>'
    assert one_word_per_character(chip).startswith('<a data-pagefind-ignore class="topic" data-pagefind-filter=')


def test_a_topic_label_is_a_filter_not_the_papers_words(built_site: Path, tmp_path: Path) -> None:
    fragments = [json.loads(_gunzip(p)[12:]) for p in index_fragments(built_site)]
    asr = next(f for f in fragments if "2603.00001" in f["url"])
    assert [t.replace("\u200b", "") for t in asr["filters"]["主题"]] == ["语音识别"]
    header = asr["content"].replace("\u200b", "").split("摘要")[0]
    assert header.startswith("Streaming Speech Recognition") and "语音识别" not in header  # no chip label


def _gunzip(path: Path) -> bytes:
    import gzip

    return gzip.decompress(path.read_bytes())


def index_fragments(site: Path) -> list[Path]:
    """Every page record (fragment) of the site's index, over all its parts."""
    return sorted((site / BUNDLE_DIR).glob("*/fragment/*.pf_fragment"))


@pytest.fixture(scope="module")
def served(indexed: Path) -> Iterator[str]:
    with serve_folder(indexed) as base:
        yield base


# Runs the search page's own ranking (digest-search.js) on Pagefind's library, as the browser would.
QUERY_JS = """
const [bundle, base, term] = process.argv.slice(2);
const ranking = await import(bundle + "/digest-search.js");
const pagefind = await ranking.openIndex((folder) => import(bundle + "/" + folder + "pagefind.js"),
                                         base + "/pagefind/", base + "/");
const found = await ranking.rankedSearch(pagefind, term);
const out = [];
for (const [tier, list] of [["exact", found.exact], ["partial", found.partial]]) {
  for (const r of list) {
    const d = await r.data();
    out.push({ url: d.url, tier, id: ranking.plain(d.meta.id || ""), subs: d.sub_results.map((s) => s.url) });
  }
}
console.log(JSON.stringify({ results: out, count: ranking.countLine(found) }));
process.exit(0);
"""


def run_search(site: Path, base: str, term: str, tmp_path: Path) -> dict[str, Any]:
    """The ranked results of `term` ({"results": [{url, tier, id, subs}], "count": the page's count line})."""
    script = tmp_path / "query.mjs"
    script.write_text(QUERY_JS, encoding="utf-8")
    bundle = (site / BUNDLE_DIR).as_uri()
    proc = subprocess.run(
        [str(NODE), str(script), bundle, base, term], capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_query(indexed: Path, served: str, term: str, tmp_path: Path) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = run_search(indexed, served, term, tmp_path)["results"]
    return results


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
    assert results[0]["tier"] == "exact"
    subs = results[0]["subs"]
    assert isinstance(subs, list) and f"{served}{page}#{anchor}" in subs


@pytest.mark.skipif(NODE is None, reason="needs node to run Pagefind's search library")
def test_a_term_on_no_page_finds_nothing(indexed: Path, served: str, tmp_path: Path) -> None:
    found = run_search(indexed, served, "区块链", tmp_path)
    assert found["results"] == []
    assert found["count"] == "没有找到与“区块链”相关的论文"


def test_rebuild_replaces_the_old_bundle(tmp_path: Path) -> None:
    need_extended_pagefind()
    site = small_site(tmp_path)
    build_search_index(site)
    stale = site / BUNDLE_DIR / OTHER_PART / "fragment" / "zh-cn_stale.pf_fragment"
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


def test_search_page_runs_the_sites_own_script_from_the_bundle() -> None:
    html = render_search_page(lambda page, target: target)
    head, body = html.split("</head>", 1)
    block = body.split('<h1 class="page-title">搜索</h1>', 1)[1]
    assert '<script type="module" src="pagefind/digest-search.js"' in block
    assert "pagefind-ui" not in html  # our own results, in the site's type and colours
    assert "var(--accent)" in head and ".search-filters { display: flex; flex-wrap: wrap; gap:" in head
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", block)  # nothing from another host
    assert 'data-pagefind-ignore="all"' in block
    # opened from disk, the page says it needs a web server and how to start one
    assert 'window.location.protocol === "file:"' in block and "python -m http.server -d _site" in block


def test_search_page_links_follow_the_site_linker() -> None:
    html = render_search_page(lambda page, target: "/blog/" + target.lstrip("/"))
    assert 'src="/blog/pagefind/digest-search.js"' in html


def test_the_script_reads_q_keeps_it_in_the_url_and_finds_the_root_from_its_own_url() -> None:
    script = search_script()
    assert 'new URLSearchParams(window.location.search).get("q")' in script
    assert 'url.searchParams.set("q", text)' in script
    assert 'new URL("..", bundle)' in script and "import.meta.url" in script  # any base path
    assert not re.search(r"https?://", script.split("// ---", 1)[1])  # no other host in the page code


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
    fragments = b"".join(_gunzip(p) for p in index_fragments(built_site))
    for paper in (b"2603.00001", b"2603.00002", b"2603.00003"):
        assert fragments.count(b'"url":"/papers/' + paper + b'/"') == 1
    for page in (b"/index.html", b"/archive.html", b"/topics/", b"/search/", b"/2026/"):
        assert b'"url":"' + page not in fragments
    text = fragments.decode().replace("\u200b", "")
    assert "语音识别" in text  # the topic chip's label is indexed with the paper
    assert '"主题":["' in text  # and is a filter, named as the search page shows it


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
    assert [r["url"] for r in results if r["tier"] == "exact"] == [f"{base}{page}"]
    assert results[0]["url"] == f"{base}{page}"


# ---------------------------------------------------------------- ranking papers


PAPER_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head>
<body><nav>最新 主题 归档</nav>
<article data-pagefind-body>
<h1 data-pagefind-meta="title[data-title], id[data-id]" data-title="{title}" data-id="{id}">{title}</h1>
<p data-pagefind-meta="title_zh">{title_zh}</p>
<p><time data-pagefind-meta="date[datetime]" datetime="{date}">{date}</time></p>
<p><a data-pagefind-filter="主题">{topic}</a></p>
<h2>摘要</h2><p>{abstract}</p>
<h2>引用</h2><p>arXiv:{id}v2（{id}） · {authors}</p>
</article></body></html>
"""

# 10 papers say 声码器; 20 only share its characters, more often and in their titles (声学, 编码, 器件),
# so that a character-by-character match would rank them first.
VOCODER = "我们提出一种轻量的神经声码器，在保持音质的同时将推理速度提高三倍。"
LOOKALIKE = "声学编码器件声音码本乐器：本文研究声学场景中的编码方法，讨论器件噪声与声音码率，以及乐器识别。"


def pid(n: int) -> str:
    """Paper n's id: the papers' months cycle over four quarters, so the index has four parts to merge."""
    return f"26{(n % 4) * 3 + 1:02d}.{10000 + n}"


def paper_site(root: Path) -> Path:
    """30 paper pages (papers/<id>/index.html) for the ranking tests, plus a day page that is not indexed."""
    site = root / "papers-site"
    for n in range(30):
        exact = n % 3 == 2  # interleaved, so the right order is not the page order
        page = PAPER_PAGE.format(
            id=pid(n),
            title=f"Paper {n}: {'Fast Vocoder' if exact else 'Acoustic Codes'}",
            title_zh="快速声码器" if exact and n < 9 else f"声学编码器件研究 {n}",
            date=f"2026-01-{n % 28 + 1:02d}",
            topic="语音合成" if exact else "编解码与表征",
            abstract=(VOCODER if exact else LOOKALIKE * 3) + (f" 另见 arXiv:{pid(3)}v1 的结果。" if n == 7 else ""),
            authors="Anna Schmidt, Li Wei" if n in (4, 5) else "Rahim Uddin",
        )
        folder = site / "papers" / pid(n)
        folder.mkdir(parents=True)
        (folder / "index.html").write_text(page, encoding="utf-8")
    (site / "index.html").write_text("<html lang='zh-CN'><body>声码器 首页</body></html>", encoding="utf-8")
    return site


@pytest.fixture(scope="module")
def papers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    need_extended_pagefind()
    if NODE is None:
        pytest.skip("needs node to run Pagefind's search library")
    site = paper_site(tmp_path_factory.mktemp("ranking"))
    index = build_search_index(site)
    assert (index.pages, index.parts) == (30, 4)
    assert json.loads((site / BUNDLE_DIR / PARTS_FILE).read_text(encoding="utf-8")) == {
        "parts": ["2026q4", "2026q3", "2026q2", "2026q1"]}
    with serve_folder(site) as base:
        yield site, base


def _ids(found: dict[str, Any]) -> list[str]:
    return [r["id"] for r in found["results"]]


def test_papers_containing_the_exact_term_come_first(papers: tuple[Path, str], tmp_path: Path) -> None:
    site, base = papers
    found = run_search(site, base, "声码器", tmp_path)
    exact = {pid(n) for n in range(30) if n % 3 == 2}
    assert set(_ids(found)[:10]) == exact
    assert [r["tier"] for r in found["results"]] == ["exact"] * 10 + ["partial"] * 20
    assert found["count"] == "找到 10 篇论文"
    # one result per paper, each the paper's own page
    assert len(set(_ids(found))) == 30
    assert all(r["url"] == f"{base}/papers/{r['id']}/" for r in found["results"])


def test_without_the_whole_term_the_count_says_so(papers: tuple[Path, str], tmp_path: Path) -> None:
    site, base = papers
    found = run_search(site, base, "码器声", tmp_path)  # its characters are everywhere, the string nowhere
    assert found["results"] and all(r["tier"] == "partial" for r in found["results"])
    assert found["count"].startswith(f"找到 {len(found['results'])} 篇论文（都不含完整的“码器声”")


@pytest.mark.parametrize("query", [pid(3), f"{pid(3)}v2", f"arXiv:{pid(3)}", f"{pid(3)}v7"])
def test_an_arxiv_id_finds_its_paper_first(papers: tuple[Path, str], tmp_path: Path, query: str) -> None:
    site, base = papers
    found = run_search(site, base, query, tmp_path)
    # paper 7 quotes the id in its abstract; the id's own page comes first
    assert _ids(found)[0] == pid(3)
    assert found["results"][0]["tier"] == "exact"


def test_an_authors_name_finds_their_papers(papers: tuple[Path, str], tmp_path: Path) -> None:
    site, base = papers
    found = run_search(site, base, "Anna Schmidt", tmp_path)
    assert sorted(r["id"] for r in found["results"] if r["tier"] == "exact") == sorted([pid(4), pid(5)])


def test_a_term_and_a_filter_value_are_found_in_the_title_and_topics(papers: tuple[Path, str], tmp_path: Path) -> None:
    site, base = papers
    found = run_search(site, base, "快速声码器", tmp_path)  # only in the Chinese title of 3 papers
    assert sorted(r["id"] for r in found["results"] if r["tier"] == "exact") == sorted([pid(2), pid(5), pid(8)])


# ---------------------------------------------------------------- the script's own rules


UNIT_JS = """
const ranking = await import(process.argv[2]);
const q = (s) => ranking.parseQuery(s);
const text = (pieces) => pieces.map((p) => (p.mark ? `[${p.text}]` : p.text)).join("");
const content = "Fast Vocoder. 快速声码器. 语音合成. 摘要. " + "背景介绍。".repeat(20) +
  "我们提出一种轻量的神经声码器，在保持音质的同时提高推理速度。" + "实验部分。".repeat(30);
console.log(JSON.stringify({
  id: q("2601.08537v2"), arxiv: q("arXiv:2601.08537"), words: q("  “扩散模型”   语音 "),
  form: ranking.indexForm("Whisper 声码器2"), plain: ranking.plain("声\\u200b码"),
  snippet: text(ranking.snippet(content, q("声码器"), ["Fast Vocoder", "快速声码器", "语音合成"])),
  none: text(ranking.snippet("Title only. " + "中文摘要内容很长。".repeat(5), q("区块链"))),
}));
"""


@pytest.mark.skipif(NODE is None, reason="needs node to run the search page's script")
def test_query_parsing_and_snippets(tmp_path: Path) -> None:
    (tmp_path / "digest-search.mjs").write_text(search_script(), encoding="utf-8")
    (tmp_path / "unit.mjs").write_text(UNIT_JS, encoding="utf-8")
    proc = subprocess.run([str(NODE), str(tmp_path / "unit.mjs"), (tmp_path / "digest-search.mjs").as_uri()],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["id"] == {"text": "2601.08537", "terms": ["2601.08537"], "id": "2601.08537"}
    assert out["arxiv"]["id"] == "2601.08537"
    assert out["words"] == {"text": "扩散模型 语音", "terms": ["扩散模型", "语音"], "id": ""}
    assert out["form"] == "Whisper 声 码 器2"
    assert out["plain"] == "声码"
    # around the match in the Chinese prose, from the start of its sentence, not the title's mention
    assert out["snippet"].startswith("…我们提出一种轻量的神经[声码器]，")
    assert out["snippet"].endswith("…")
    # no match: where the Chinese text starts
    assert out["none"].startswith("…中文摘要内容很长。") or out["none"].startswith("中文摘要")


@pytest.mark.skipif(NODE is None, reason="needs node to run Pagefind's search library")
def test_a_term_in_the_chinese_title_ranks_above_the_same_term_in_the_text(tmp_path: Path) -> None:
    from digest.core.store import write_record
    from digest.site.build import build_site
    from helpers import make_entry, make_record

    need_extended_pagefind()
    records = tmp_path / "records"
    long_text = "本文研究语音合成中的若干问题，讨论声学特征、编码方式与器件噪声。" * 3
    entries = [
        make_entry(f"2603.0010{n}v1", title=f"Paper {n}", abstract="English.", deep_read=None,
                   translation=long_text + "我们还比较了多种声码器，" + "并分析了声码器的延迟。" * n)
        for n in range(1, 5)
    ]
    titled = make_entry("2603.00109v1", title="Paper 9", abstract="English.", deep_read=None,
                        translation=long_text + "实验在公开数据集上进行。")
    titled.title_zh = "快速神经声码器"
    write_record(records, make_record([*entries, titled], day="2026-03-04"))
    site = tmp_path / "site"
    build_site(records, site, search=True)
    with serve_folder(site) as base:
        found = run_search(site, base, "声码器", tmp_path)
    exact = [r["id"] for r in found["results"] if r["tier"] == "exact"]
    assert sorted(exact) == ["2603.00101", "2603.00102", "2603.00103", "2603.00104", "2603.00109"]
    assert exact[0] == "2603.00109"  # the paper named for it, before those that mention it
