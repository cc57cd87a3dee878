"""The same day run a second time: what an hourly cron job pays once the post is complete.

    /work/venv/bin/python benchmarks/bench_rerun.py [--papers 20] [--latency 0.5] [--concurrency 8] [--delay 0.1]

The first run fills the post; the figures are those of the second run: model calls, PDF downloads, arXiv
requests and wall time including interpreter start. Targets: 0 calls, 0 downloads, < 2 s.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_day import rig, shown_papers  # noqa: E402
from common import Report, temp_site  # noqa: E402

WALL_TARGET_S = 2.0


def run(papers: int = 20, latency: float = 0.5, concurrency: int = 8, delay: float = 0.1, repeat: int = 3) -> Report:
    """Fill a day, then run it again `repeat` times; the best and worst second runs are reported."""
    with ExitStack() as stack:
        site = stack.enter_context(temp_site())
        r = rig(stack, site, papers, latency, concurrency, delay)
        first = r.run()
        post = site / "_posts" / f"{r.day.isoformat()}-arxiv.md"
        before = post.read_bytes()
        mtime = post.stat().st_mtime_ns
        calls0, downloads0, arxiv0 = len(r.chat.calls), sum(r.pdfs.downloads.values()), len(r.arxiv.requests)
        walls, rss = [], []
        for _ in range(repeat):
            again = r.run()
            walls.append(again.wall_seconds)
            rss.append(again.peak_rss_mb)
        calls = len(r.chat.calls) - calls0
        downloads = sum(r.pdfs.downloads.values()) - downloads0
        pdf_requests = len(r.pdfs.requests) - downloads0
        arxiv = (len(r.arxiv.requests) - arxiv0) / repeat
        rep = Report("rerun", {"papers": papers, "latency_s": latency, "concurrency": concurrency,
                               "arxiv_delay_s": delay, "reruns": repeat})
        rep.add("first_run_wall_s", round(first.wall_seconds, 3), "s")
        rep.add("papers_in_post", shown_papers(site, r.day), target=str(papers), ok=shown_papers(site, r.day) == papers)
        rep.add("model_calls", calls, target="0", ok=calls == 0)
        rep.add("downloads", downloads, target="0", ok=downloads == 0)
        rep.add("pdf_requests", pdf_requests, target="0", ok=pdf_requests == 0)
        rep.add("arxiv_requests_per_rerun", arxiv)
        rep.add("post_unchanged", post.read_bytes() == before, target="True", ok=post.read_bytes() == before)
        rep.add("post_not_rewritten", post.stat().st_mtime_ns == mtime)
        rep.add("wall_s_best", round(min(walls), 3), "s")
        rep.add("wall_s_worst", round(max(walls), 3), "s", f"< {WALL_TARGET_S:g}", max(walls) < WALL_TARGET_S)
        rep.add("peak_rss_mb", round(max(rss), 1), "MB")
        return rep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=20, help="papers in the day (default 20)")
    ap.add_argument("--latency", type=float, default=0.5, help="seconds each chat call takes in the first run")
    ap.add_argument("--concurrency", type=int, default=8, help="llm.concurrency (default 8)")
    ap.add_argument("--delay", type=float, default=0.1, help="arxiv.delay_seconds (default 0.1)")
    ap.add_argument("--repeat", type=int, default=3, help="second runs to time (default 3)")
    args = ap.parse_args(argv)
    rep = run(args.papers, args.latency, args.concurrency, args.delay, args.repeat)
    rep.print()
    return 0 if rep.passed else 1


if __name__ == "__main__":
    sys.exit(main())
