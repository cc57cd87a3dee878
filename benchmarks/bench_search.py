"""Search index build time for an archive-sized site: 140 day pages of ~21 papers (~3,000 paper sections).

    /work/venv/bin/python benchmarks/bench_search.py [--posts 140] [--papers 21]

Pages are synthetic but Chinese like the real ones: each paper's abstract and deep read are sentences drawn
at random from the seed posts (../shared/seeds), so the vocabulary is real while no two papers are alike.
Target (issue 15): the whole build, search index included, within 30 s for 140 posts. Wall time depends
on the machine's load, so the indexer's CPU time is printed too.
"""

from __future__ import annotations

import argparse
import html
import random
import re
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from digest.site.search import build_search_index

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
TARGET_S = 30.0

PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head>
<body><header><a href="/">arXiv Daily</a> <a href="/archive.html">归档</a></header>
<main><article data-pagefind-body><h1>{title}</h1>
{papers}</article></main></body></html>
"""
PAPER = """<h2 id="{anchor}">{title} <a class="anchor" href="#{anchor}">#</a></h2>
<ul><li><strong>Authors</strong>: {authors}</li><li><strong>Categories</strong>: cs.SD, eess.AS</li>
<li><strong>Topics</strong>: {topics}</li></ul>
<p>{abstract}</p>
<details><summary>详细解读</summary><div><p>{deep}</p></div></details>
<hr>
"""


def material() -> tuple[list[str], list[str]]:
    """Sentences (Chinese) and titles (English) from the seed posts."""
    sentences: list[str] = []
    titles: list[str] = []
    for f in sorted(SEEDS.glob("*.md")):
        text = f.read_text(encoding="utf-8")
        titles += re.findall(r"^## (.+)$", text, flags=re.M)
        for line in text.splitlines():
            if line.startswith(("#", "- **", "---", "<")):
                continue
            sentences += [s.strip(" -*") + "。" for s in line.split("。") if len(s.strip()) > 12]
    if not sentences:
        raise SystemExit(f"no seed posts under {SEEDS}")
    return sentences, titles


def make_site(root: Path, posts: int, papers: int, seed: int = 7) -> int:
    """Write `posts` day pages plus a home page into root; returns the number of paper sections."""
    rng = random.Random(seed)
    sentences, titles = material()
    names = ["Li Wei", "Anna Schmidt", "Rahim Uddin", "Sato Yuki", "Maria Rossi", "Chen Jing", "Omar Haddad"]
    topics = ["语音识别", "语音合成", "语音增强与分离", "说话人与语种", "安全与伪造检测", "音乐", "声音事件与音频生成"]
    day = date(2026, 1, 1)
    sections = 0
    for p in range(posts):
        d = day + timedelta(days=p)
        body = []
        for k in range(papers):
            sections += 1
            body.append(PAPER.format(
                anchor=f"26{d.month:02d}-{p:03d}{k:02d}",
                title=html.escape(f"{rng.choice(titles)} ({p}.{k})"),
                authors=html.escape(", ".join(rng.sample(names, 3))),
                topics="、".join(rng.sample(topics, 2)),
                abstract=html.escape("".join(rng.choices(sentences, k=6))),
                deep=html.escape("".join(rng.choices(sentences, k=20))),
            ))
        folder = root / f"{d.year}" / f"{d.month:02d}" / f"{d.day:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        title = f"arXiv Daily – {d.isoformat()}"
        (folder / "arxiv.html").write_text(PAGE.format(title=title, papers="".join(body)), encoding="utf-8")
    (root / "index.html").write_text("<!DOCTYPE html><html lang=\"zh-CN\"><body>首页</body></html>", encoding="utf-8")
    return sections


def main() -> None:
    """Build the synthetic site, index it, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--posts", type=int, default=140)
    ap.add_argument("--papers", type=int, default=21, help="papers per post")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        site = Path(tmp)
        t0 = time.perf_counter()
        sections = make_site(site, args.posts, args.papers)
        html_mb = sum(f.stat().st_size for f in site.rglob("*.html")) / 1e6
        gen_s = time.perf_counter() - t0
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = build_search_index(site)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # Pagefind runs as a child process; its CPU time does not depend on how busy the machine is.
        cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rss_mb = after.ru_maxrss / 1024
        bundle_mb = sum(f.stat().st_size for f in result.bundle_dir.rglob("*") if f.is_file()) / 1e6
        files = sum(1 for f in result.bundle_dir.rglob("*") if f.is_file())
    print(f"site: {args.posts} pages, {sections} paper sections, {html_mb:.1f} MB of HTML (written in {gen_s:.1f} s)")
    print(f"indexed pages: {result.pages} (of {result.files} HTML files read)")
    print(f"index time: {result.seconds:.2f} s (whole-build target {TARGET_S:.0f} s) "
          f"{'OK' if result.seconds < TARGET_S else 'FAIL'}")
    print(f"indexer CPU time: {cpu_s:.2f} s (user+sys; Pagefind uses every core), peak RSS {rss_mb:.0f} MB")
    print(f"bundle: {files} files, {bundle_mb:.1f} MB")


if __name__ == "__main__":
    main()
