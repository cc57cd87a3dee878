"""Topic classifier figures on the hand-labelled sample, and its speed on an archive-sized batch.

    /work/venv/bin/python benchmarks/bench_topics.py [--papers 3000]

Targets (issue 15): main subject among the topics for >= 85% of the sample, <= 2.2 topics per paper.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import yaml

from digest.enrich.topics import classify, load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "topics_labelled.yaml"


def main() -> None:
    """Print hit rate, mean topics, the misses and the time to classify an archive-sized batch."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--papers", type=int, default=3000, help="papers in the timing batch")
    args = ap.parse_args()
    t0 = time.perf_counter()
    tax = load_taxonomy()
    load_s = time.perf_counter() - t0
    papers = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))["papers"]
    hits, total, sizes, misses = 0, 0, Counter[int](), []
    for p in papers:
        got = classify(p["title"], p.get("en", ""), p.get("zh", ""), tax)
        sizes[len(got)] += 1
        total += len(got)
        if p["main"] in got:
            hits += 1
        else:
            misses.append(f"  {p['main']:>14} -> {','.join(got):<28} {p['title'][:70]}")
    hit_rate, mean = hits / len(papers), total / len(papers)
    print(f"taxonomy {tax.source} fingerprint {tax.fingerprint} (loaded in {load_s * 1000:.1f} ms)")
    print(f"labelled papers: {len(papers)}")
    print(f"main-subject hit rate: {hit_rate:.1%} (target >= 85%) {'OK' if hit_rate >= 0.85 else 'FAIL'}")
    print(f"mean topics per paper: {mean:.2f} (target <= 2.2) {'OK' if mean <= 2.2 else 'FAIL'}")
    print("topics per paper: " + ", ".join(f"{k}: {sizes[k]}" for k in sorted(sizes)))
    print("misses (labelled -> classified):")
    print("\n".join(misses) or "  none")
    # The summaries are one sentence; repeat them to the length of a real abstract (~1,000 characters).
    batch = [papers[i % len(papers)] for i in range(args.papers)]
    t0 = time.perf_counter()
    for p in batch:
        classify(p["title"], (p.get("en", "") + " ") * 6, (p.get("zh", "") + "。") * 6, tax)
    print(f"classify {len(batch)} papers (abstracts ~1,000 chars): {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
