"""A 30-day backfill (`digest backfill START END`) against the arXiv stand-in: how many API searches, how spaced.

    /work/venv/bin/python benchmarks/bench_backfill.py [--days 30] [--papers 540] [--delay 0.3]

No API key is set, so the run makes no model calls (it warns and posts English abstracts): the figures are the
fetch cost alone. The default 540 papers is about 18 a day, what the old blog's posts show for cs.SD + eess.AS.
"""

from __future__ import annotations

import argparse
import re
import sys
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Report, papers_spread, run_cli, temp_site, write_config  # noqa: E402

from digest.standins.arxiv_server import ArxivStandIn  # noqa: E402
from digest.standins.chat_server import ChatStandIn  # noqa: E402
from digest.standins.pdf_host import PdfHost  # noqa: E402

START = date(2026, 9, 1)
SEARCH_TARGET = 3
_ABS_LINE = re.compile(r"^- \*\*arXiv\*\*: \[https?://\S+/abs/(?P<id>[^\]]+)\]", re.M)


def run(days: int = 30, papers: int = 540, delay: float = 0.3, start: date = START) -> Report:
    """Backfill `days` days holding `papers` papers; returns the report (target: <= 3 search requests)."""
    end = start + timedelta(days=days - 1)
    with ExitStack() as stack:
        site = stack.enter_context(temp_site())
        arxiv = stack.enter_context(ArxivStandIn(papers_spread(start, days, papers)))
        pdfs = stack.enter_context(PdfHost())
        chat = stack.enter_context(ChatStandIn())
        write_config(site, {
            "arxiv": {"api_url": arxiv.api_url, "listing_url": arxiv.listing_url, "pdf_download_url": pdfs.pdf_url,
                      "html_download_url": pdfs.html_url, "delay_seconds": delay},
            "llm": {"base_url": chat.base_url},
        })
        result = run_cli(site, ["backfill", start.isoformat(), end.isoformat()]).check()
        searches = arxiv.search_requests
        gaps = [b.at - a.at for a, b in zip(arxiv.requests, arxiv.requests[1:], strict=False)]
        posts = sorted((site / "_posts").glob("*.md"))
        ids = [m.group("id") for p in posts for m in _ABS_LINE.finditer(p.read_text(encoding="utf-8"))]
        rep = Report("backfill", {"days": days, "papers": papers, "arxiv_delay_s": delay, "basis": "announced",
                                  "range": f"{start} .. {end}"})
        rep.add("search_requests", len(searches), target=f"<= {SEARCH_TARGET}", ok=len(searches) <= SEARCH_TARGET)
        rep.add("posted_papers_per_search", round(len(set(ids)) / max(1, len(searches)), 1))
        rep.add("other_arxiv_requests", len(arxiv.requests) - len(searches))
        if gaps:
            rep.add("min_gap_s", round(min(gaps), 3), "s", f">= {delay:g}", min(gaps) >= delay - 0.005)
        rep.add("posts_written", len(posts))
        rep.add("papers_posted", len(ids))
        rep.add("papers_posted_twice", len(ids) - len(set(ids)), target="0", ok=len(ids) == len(set(ids)))
        rep.add("model_calls", len(chat.calls), target="0", ok=not chat.calls)
        rep.add("pdf_requests", len(pdfs.requests), target="0", ok=not pdfs.requests)
        rep.add("no_key_warning", "no API key" in result.stderr, target="True", ok="no API key" in result.stderr)
        rep.add("wall_s", round(result.wall_seconds, 3), "s")
        rep.add("peak_rss_mb", round(result.peak_rss_mb, 1), "MB")
        return rep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=30, help="days to backfill (default 30)")
    ap.add_argument("--papers", type=int, default=540, help="papers spread over them (default 540, ~18 a day)")
    ap.add_argument("--delay", type=float, default=0.3, help="arxiv.delay_seconds (default 0.3)")
    ap.add_argument("--start", type=date.fromisoformat, default=START, help=f"first day (default {START})")
    args = ap.parse_args(argv)
    rep = run(args.days, args.papers, args.delay, args.start)
    rep.print()
    return 0 if rep.passed else 1


if __name__ == "__main__":
    sys.exit(main())
