"""`digest build` on an archive-sized site made of the old blog's real posts: topics, pages, search index.

    /work/venv/bin/python benchmarks/bench_site.py [--posts 140] [--keep]

The real posts are imported from ../shared/oldblog/_posts (else ../shared/seeds) with the importer (as
`digest import` does). When there are
fewer real posts than --posts, their records are repeated on consecutive earlier dates (paper ids made unique
per day) until there are --posts days, so the site has the archive's size with real text. The whole
`digest build` (topics recomputed, every page, the Pagefind index) runs as a child process, the way the
workflow runs it; it is timed twice, the second time with the records' topics already stored.

Targets (issue 15): topic pages for every slug in use; on the hand-labelled sample (tests/data/
topics_labelled.yaml, the seeds' papers with their real imported Chinese abstracts), the main subject among
the topics for >= 85%; <= 2.2 topics per paper; the build, search index included, within 30 s.
Issue 22: a page per paper (papers/<id>/index.html), every one of them in the search index.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import yaml

from digest.core.store import read_record, record_days, record_path, write_record
from digest.enrich.topics import entry_topics, load_taxonomy
from digest.publish.importer import parse_post

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
OLDBLOG = ROOT.parent / "shared" / "oldblog" / "_posts"
POSTS = OLDBLOG if OLDBLOG.is_dir() else SEEDS  # the most real posts there are
LABELLED = ROOT / "tests" / "data" / "topics_labelled.yaml"
TARGET_S = 30.0


def make_records(records: Path, posts: int) -> tuple[int, int]:
    """Import the seeds and repeat their records back in time up to `posts` days; (real posts, papers)."""
    real = []
    for f in sorted(POSTS.glob("*.md")):
        record = parse_post(f.read_text(encoding="utf-8"), f.name).record
        if record is not None:
            real.append(record)
    if not real:
        raise SystemExit(f"no posts under {POSTS}")
    oldest = min(date.fromisoformat(r.date) for r in real)
    papers = 0
    for n in range(posts):
        source = real[n % len(real)].model_copy(deep=True)
        day = oldest - timedelta(days=n - len(real) + 1) if n >= len(real) else date.fromisoformat(source.date)
        if n >= len(real):
            source.date = day.isoformat()
            end = f"{day.isoformat()}T{source.window.anchor}:00+08:00"
            source.window = source.window.model_copy(update={"end": end, "start": f"{(day - timedelta(days=1))}"
                                                              f"T{source.window.anchor}:00+08:00"})
            for k, entry in enumerate(source.papers):
                # ids of the day's month, as arXiv's are (the search index has a part per quarter); numbers
                # from 90000 up, which no real paper of those months in the old blog has
                entry.id = f"{day:%y%m}.{90000 + day.day * 100 + k}v1"
        papers += len(source.papers)
        write_record(records, source)
    return len(real), papers


def labelled_figures() -> tuple[int, float, float, list[str]]:
    """Hit rate and mean topics on the hand-labelled seed papers, classified from their imported texts."""
    tax = load_taxonomy()
    labels = {" ".join(p["title"].split()): p["main"] for p in yaml.safe_load(LABELLED.read_text("utf-8"))["papers"]}
    n = hits = total = 0
    misses = []
    for f in sorted(SEEDS.glob("*.md")):
        record = parse_post(f.read_text(encoding="utf-8"), f.name).record
        for entry in record.papers if record else []:
            title = " ".join(entry.title.split())
            if title not in labels:
                continue
            got = entry_topics(entry, tax)
            n += 1
            total += len(got)
            if labels[title] in got:
                hits += 1
            else:
                misses.append(f"  {labels[title]:>14} -> {','.join(got):<28} {title[:60]}")
    return n, hits / max(n, 1), total / max(n, 1), misses


def build(site: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "digest", "build", "--out", "_site", "--url",
                           "https://example.org/blog/", "--config", "config.yaml"],
                          cwd=site, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"digest build failed:\n{proc.stderr}")
    return seconds, (proc.stdout + proc.stderr).strip()


def main() -> int:
    """Print the figures and one JSON line; exit 1 when a target is missed."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--posts", type=int, default=140)
    ap.add_argument("--keep", action="store_true", help="keep the temporary site and print its path")
    args = ap.parse_args()
    site = Path(tempfile.mkdtemp(prefix="digest-bench-site-"))
    try:
        (site / "config.yaml").write_text("site: {}\n", encoding="utf-8")
        records = site / "_data" / "digest"
        real, papers = make_records(records, args.posts)
        first_s, said = build(site)
        second_s, _ = build(site)
        out = site / "_site"
        topic_count: Counter[str] = Counter()
        sizes: Counter[int] = Counter()
        for day in record_days(records):
            for entry in read_record(record_path(records, day)).papers:
                topic_count.update(entry.topics)
                sizes[len(entry.topics)] += 1
        mean_topics = sum(k * v for k, v in sizes.items()) / max(sum(sizes.values()), 1)
        missing_pages = [s for s in topic_count if not (out / "topics" / s / "index.html").is_file()
                         or not (out / "topics" / s / "feed.xml").is_file()]
        n, hit_rate, labelled_mean, misses = labelled_figures()
        files = [p for p in out.rglob("*") if p.is_file()]
        index_files = [p for p in files if "pagefind" in p.relative_to(out).parts]
        paper_pages = len(list((out / "papers").glob("*/index.html")))
        indexed_pages = 0
        for entry in (out / "pagefind").glob("*/pagefind-entry.json"):  # one per part of the index
            languages = json.loads(entry.read_text("utf-8"))["languages"]
            indexed_pages += sum(int(lang.get("page_count", 0)) for lang in languages.values())
        figures = {
            "real_posts": real,
            "posts": args.posts,
            "papers": papers,
            "build_s_first": round(first_s, 2),
            "build_s_again": round(second_s, 2),
            "topics_in_use": len(topic_count),
            "topic_pages_missing": len(missing_pages),
            "mean_topics_archive": round(mean_topics, 2),
            "labelled_papers": n,
            "labelled_hit_rate": round(hit_rate, 4),
            "labelled_mean_topics": round(labelled_mean, 2),
            "site_files": len(files),
            "site_mb": round(sum(p.stat().st_size for p in files) / 1e6, 1),
            "paper_pages": paper_pages,
            "indexed_pages": indexed_pages,
            "index_files": len(index_files),
            "index_mb": round(sum(p.stat().st_size for p in index_files) / 1e6, 1),
            "feed_kb": round((out / "feed.xml").stat().st_size / 1e3, 1),
        }
        ok = {
            "build": max(first_s, second_s) <= TARGET_S,
            "topic pages": not missing_pages,
            "paper pages": paper_pages == indexed_pages > 0,
            "hit rate": hit_rate >= 0.85,
            "mean topics": mean_topics <= 2.2 and labelled_mean <= 2.2,
        }
        print(f"digest build said: {said.splitlines()[-1] if said else ''}")
        print(f"{real} real posts imported from {POSTS}; {args.posts} days, {papers} papers "
              f"({args.posts - real} days are the real records repeated on earlier dates)")
        print(f"build incl. search index: {first_s:.2f} s (topics recomputed), {second_s:.2f} s (again); "
              f"target <= {TARGET_S:.0f} s {'OK' if ok['build'] else 'FAIL'}")
        print("topics in use: " + ", ".join(f"{s} {c}" for s, c in topic_count.most_common())
              + f"; pages and feeds missing: {missing_pages or 'none'}")
        print(f"topics per paper (archive): {mean_topics:.2f}; " + ", ".join(f"{k}: {sizes[k]}" for k in sorted(sizes)))
        print(f"hand-labelled seed papers: {n}, main subject among topics {hit_rate:.1%} (target >= 85%), "
              f"{labelled_mean:.2f} topics each (target <= 2.2)")
        print("misses (labelled -> classified):\n" + ("\n".join(misses) or "  none"))
        print(f"paper pages: {paper_pages}, pages in the search index: {indexed_pages}")
        print(f"site: {len(files)} files, {figures['site_mb']} MB; search index {len(index_files)} files, "
              f"{figures['index_mb']} MB; feed.xml {figures['feed_kb']} kB")
        print(json.dumps({"bench": "site", **figures, "ok": all(ok.values())}))
        if args.keep:
            print(f"kept: {site}")
        return 0 if all(ok.values()) else 1
    finally:
        if not args.keep:
            shutil.rmtree(site, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
