"""The full-text stage alone: extract_pdf_text + prepare_text on generated papers of several lengths, one core.

    /work/venv/bin/python benchmarks/bench_fulltext.py [--pages 8 30 200] [--max-chars 60000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Report, paper_pdf, print_table  # noqa: E402

from digest.enrich.fulltext import extract_pdf_text, prepare_text  # noqa: E402
from digest.standins.pdfgen import METHOD_MARKER, REFERENCE_MARKER, RESULTS_MARKER  # noqa: E402

TARGET_PAGES_PER_SECOND = 50.0


def measure(pages: int, max_chars: int, repeat: int) -> Report:
    """Best-of-`repeat` times for one generated paper of `pages` pages."""
    import pymupdf

    t = time.monotonic()
    pdf = paper_pdf(pages)
    generate = time.monotonic() - t
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        real_pages = doc.page_count
    extract_best = prepare_best = float("inf")
    raw = kept = ""
    dropped: list[str] = []
    for _ in range(repeat):
        t = time.monotonic()
        raw = extract_pdf_text(pdf)
        extract_best = min(extract_best, time.monotonic() - t)
        t = time.monotonic()
        kept, dropped = prepare_text(raw, max_chars)
        prepare_best = min(prepare_best, time.monotonic() - t)
    total = extract_best + prepare_best
    rate = real_pages / total
    rep = Report("fulltext", {"pages": real_pages, "max_chars": max_chars, "repeat": repeat,
                              "pdf_kb": round(len(pdf) / 1024, 1)})
    rep.add("generate_s (untimed setup)", round(generate, 3), "s")
    rep.add("extract_s", round(extract_best, 4), "s")
    rep.add("prepare_s", round(prepare_best, 4), "s")
    rep.add("pages_per_s", round(rate, 1), "pages/s", f">= {TARGET_PAGES_PER_SECOND:g}",
            rate >= TARGET_PAGES_PER_SECOND)
    rep.add("chars_extracted", len(raw), "chars")
    rep.add("chars_kept", len(kept), "chars", f"<= {max_chars}", len(kept) <= max_chars)
    rep.add("kept_share", round(len(kept) / max(1, len(raw)), 3))
    rep.add("method_marker_kept", METHOD_MARKER in kept, target="True", ok=METHOD_MARKER in kept)
    rep.add("results_marker_kept", RESULTS_MARKER in kept, target="True", ok=RESULTS_MARKER in kept)
    rep.add("references_dropped", REFERENCE_MARKER not in kept, target="True", ok=REFERENCE_MARKER not in kept)
    rep.add("sections_dropped", ", ".join(dropped) or "-")
    return rep


def run(pages: list[int], max_chars: int = 60000, repeat: int = 3) -> list[Report]:
    """One report per paper length."""
    return [measure(p, max_chars, repeat) for p in pages]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, nargs="+", default=[8, 30, 200], help="paper lengths to generate")
    ap.add_argument("--max-chars", type=int, default=60000, help="fulltext.max_chars budget")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = ap.parse_args(argv)
    reports = run(args.pages, args.max_chars, args.repeat)
    print_table(reports)
    for r in reports:
        print(json.dumps(r.as_dict(), ensure_ascii=False))
    return 0 if all(r.passed for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
