"""Topic classifier figures on each hand-labelled sample, and its speed on an archive-sized batch.

    .venv/bin/python benchmarks/bench_topics.py [--papers 3000] [--misses]

Samples: tests/data/topics_labelled.yaml (seeds and a feed, issue 15) and tests/data/topics_oldblog_labelled.yaml
(173 old-blog papers, issue 22), the latter in its fixed tuning and held-out halves, classified from the posts in
../shared/oldblog/_posts as an import reads them. Targets (issue 22): the main subject among the topics for
>= 90% of papers on every sample, <= 2.2 topics per paper on average.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import yaml

from digest.core.record import Entry
from digest.enrich.topics import (
    HELD_OUT,
    TUNING,
    SampleFigures,
    Taxonomy,
    classify,
    entry_topics,
    load_taxonomy,
    sample_figures,
    sample_half,
)
from digest.publish.importer import read_post

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "topics_labelled.yaml"
OLDBLOG_LABELLED = ROOT / "tests" / "data" / "topics_oldblog_labelled.yaml"
OLDBLOG_POSTS = ROOT.parent / "shared" / "oldblog" / "_posts"
HIT_TARGET, MEAN_TARGET = 0.9, 2.2

Row = tuple[str, str, list[str]]  # (title, labelled main subject, classified topics)


def report(name: str, rows: list[Row], show_misses: bool) -> SampleFigures:
    """Print one sample's figures (and its misses when asked)."""
    fig = sample_figures([(main, got) for _, main, got in rows])
    ok = fig.hit_rate >= HIT_TARGET and fig.mean_topics <= MEAN_TARGET
    sizes = Counter(len(got) for _, _, got in rows)
    print(f"{name:<22} papers {fig.papers:>3}  main among topics {fig.hit_rate:6.1%}  "
          f"topics/paper {fig.mean_topics:.2f}  in other {fig.other_share:5.1%}  "
          f"(1/2/3 topics: {sizes[1]}/{sizes[2]}/{sizes[3]})  {'OK' if ok else 'FAIL'}")
    if show_misses:
        for title, main, got in rows:
            if main not in got:
                print(f"    {main:>14} -> {','.join(got):<28} {title[:70]}")
    return fig


def seed_rows(tax: Taxonomy) -> list[Row]:
    """The issue-15 sample: its own short summaries."""
    papers = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))["papers"]
    return [(p["title"], p["main"], classify(p["title"], p.get("en", ""), p.get("zh", ""), tax)) for p in papers]


def oldblog_rows(tax: Taxonomy) -> dict[str, list[Row]]:
    """The issue-22 sample by half, classified from the imported posts; empty when the posts are absent."""
    entries: dict[str, Entry] = {}
    for post in sorted(OLDBLOG_POSTS.glob("*.md")) if OLDBLOG_POSTS.is_dir() else []:
        record = read_post(post).record
        if record is not None:
            entries.update((e.id, e) for e in record.papers)
    halves: dict[str, list[Row]] = {TUNING: [], HELD_OUT: []}
    if not entries:
        return halves
    for p in yaml.safe_load(OLDBLOG_LABELLED.read_text(encoding="utf-8"))["papers"]:
        entry = entries[p["id"]]
        halves[sample_half(entry.id)].append((entry.title, p["main"], entry_topics(entry, tax)))
    return halves


def main() -> None:
    """Print the figures of every sample and the time to classify an archive-sized batch."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=3000, help="papers in the timing batch")
    ap.add_argument("--misses", action="store_true", help="list the papers whose main subject is missed")
    args = ap.parse_args()
    t0 = time.perf_counter()
    tax = load_taxonomy()
    print(f"taxonomy {tax.source} fingerprint {tax.fingerprint} (loaded in {(time.perf_counter() - t0) * 1000:.1f} ms)")
    print(f"targets: main subject among the topics >= {HIT_TARGET:.0%}, <= {MEAN_TARGET} topics per paper")
    seeds = seed_rows(tax)
    report("seeds+feed (issue 15)", seeds, args.misses)
    halves = oldblog_rows(tax)
    if halves[TUNING]:
        report(f"old blog, {TUNING}", halves[TUNING], args.misses)
        report(f"old blog, {HELD_OUT}", halves[HELD_OUT], args.misses)
        report("old blog, both", halves[TUNING] + halves[HELD_OUT], False)
    else:
        print(f"old blog sample skipped: no posts at {OLDBLOG_POSTS}")
    # The seed summaries are one sentence; repeat them to the length of a real abstract (~1,000 characters).
    papers = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))["papers"]
    batch = [papers[i % len(papers)] for i in range(args.papers)]
    t0 = time.perf_counter()
    for p in batch:
        classify(p["title"], (p.get("en", "") + " ") * 6, (p.get("zh", "") + "。") * 6, tax)
    print(f"classify {len(batch)} papers (abstracts ~1,000 chars): {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
