"""A day of N papers through the real `digest run --date D` against local arXiv, PDF and chat stand-ins.

    /work/venv/bin/python benchmarks/bench_day.py [--papers 20] [--latency 0.5] [--concurrency 8] [--delay 0.1]

Wall time counts everything a cron job pays: interpreter start, fetch, downloads, model calls, writing the post.
The floor is what the model calls alone must take at this concurrency: ceil(2N / concurrency) x latency, plus
the time of the arXiv request(s).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from common import (  # noqa: E402
    DUMMY_KEY,
    DUMMY_KEY_ENV,
    CliRun,
    Report,
    interpreter_start_seconds,
    paper_pdf,
    papers_in_day,
    run_cli,
    temp_site,
    window_bounds,
    write_config,
)

from digest.core.config import ArxivConfig  # noqa: E402
from digest.fetch.arxiv import ArxivClient  # noqa: E402
from digest.standins.arxiv_server import ArxivStandIn  # noqa: E402
from digest.standins.chat_server import ChatStandIn  # noqa: E402
from digest.standins.pdf_host import PdfHost  # noqa: E402

DAY = date(2026, 11, 12)
RATIO_TARGET = 1.3
RSS_TARGET_MB = 300.0


@dataclass
class DayRig:
    """The stand-ins and site of one benchmarked day."""

    site: Path
    day: date
    papers: int
    arxiv: ArxivStandIn
    pdfs: PdfHost
    chat: ChatStandIn
    delay: float

    @property
    def env(self) -> dict[str, str]:
        return {DUMMY_KEY_ENV: DUMMY_KEY}

    def run(self, *extra: str) -> CliRun:
        """`digest run --date D` as a child process, with the dummy key set."""
        return run_cli(self.site, ["run", "--date", self.day.isoformat(), *extra], env=self.env).check()

    def arxiv_request_seconds(self, repeat: int = 3) -> float:
        """Best-of time of the search the run makes (same query, same client code), done in this process."""
        cfg = ArxivConfig(api_url=self.arxiv.api_url, listing_url=self.arxiv.listing_url, delay_seconds=0)
        start, end = window_bounds(self.day)
        before = len(self.arxiv.requests)
        best = math.inf
        with httpx.Client() as http:
            client = ArxivClient(cfg, http)
            for _ in range(repeat):
                t = time.monotonic()
                found = client.search(start, end, cfg.categories)
                best = min(best, time.monotonic() - t)
        assert len(found) == self.papers, f"the window holds {len(found)} papers, expected {self.papers}"
        del self.arxiv.requests[before:]  # keep the log to what the CLI asked for
        return best


def rig(stack: ExitStack, site: Path, papers: int, latency: float, concurrency: int, delay: float,
        pages: int = 8, day: date = DAY) -> DayRig:
    """Start the stand-ins (closed by `stack`) and write the site's config.yaml pointing at them."""
    found = papers_in_day(day, papers)
    pdf = paper_pdf(pages)
    arxiv = stack.enter_context(ArxivStandIn(found))
    pdfs = stack.enter_context(PdfHost({p.id: pdf for p in found}))
    chat = stack.enter_context(ChatStandIn(latency=latency))
    write_config(site, {
        "arxiv": {
            "api_url": arxiv.api_url,
            "listing_url": arxiv.listing_url,
            "pdf_download_url": pdfs.pdf_url,
            "html_download_url": pdfs.html_url,
            "delay_seconds": delay,
        },
        # Submission basis: the window is exactly the papers' submission range, so the day has exactly N.
        "window": {"basis": "submitted"},
        "llm": {"base_url": chat.base_url, "api_key_env": DUMMY_KEY_ENV, "concurrency": concurrency,
                "timeout_seconds": 30, "max_retries": 2},
    })
    return DayRig(site, day, papers, arxiv, pdfs, chat, delay)


def timeline(r: DayRig, result: CliRun) -> dict[str, float]:
    """Where the wall time went, from the stand-ins' request logs (seconds since the child was launched)."""
    chat = [q for q in r.chat.requests if q.method == "POST"]
    deep = [q for q in chat if b"<paper>" in q.body]
    out = {}
    if r.arxiv.requests:
        out["t_first_arxiv_request"] = r.arxiv.requests[0].at - result.started
    if r.pdfs.requests:
        out["t_first_pdf_request"] = r.pdfs.requests[0].at - result.started
    if chat:
        out["t_first_chat_call"] = chat[0].at - result.started
        out["t_last_chat_call_done"] = chat[-1].at + r.chat.latency - result.started
        out["t_after_last_call"] = result.ended - (chat[-1].at + r.chat.latency)
    if deep:
        out["t_first_deep_read_call"] = deep[0].at - result.started
    return {k: round(v, 3) for k, v in out.items()}


def shown_papers(site: Path, day: date) -> int:
    post = site / "_posts" / f"{day.isoformat()}-arxiv.md"
    return sum(1 for line in post.read_text(encoding="utf-8").splitlines() if line.startswith("## "))


def run(papers: int = 20, latency: float = 0.5, concurrency: int = 8, delay: float = 0.1, pages: int = 8) -> Report:
    """Measure one fresh day; returns the report (targets: wall <= 1.3 x floor, RSS < 300 MB)."""
    with ExitStack() as stack:
        site = stack.enter_context(temp_site())
        r = rig(stack, site, papers, latency, concurrency, delay, pages)
        startup = interpreter_start_seconds()
        result = r.run()
        arxiv_s = r.arxiv_request_seconds()
        calls = len(r.chat.calls)
        floor = math.ceil(2 * papers / concurrency) * latency + arxiv_s
        ratio = result.wall_seconds / floor
        rep = Report("day", {"papers": papers, "latency_s": latency, "concurrency": concurrency,
                             "arxiv_delay_s": delay, "pdf_pages": pages, "basis": "submitted"})
        rep.add("papers_in_post", shown_papers(site, r.day), target=str(papers), ok=shown_papers(site, r.day) == papers)
        rep.add("model_calls", calls, target=str(2 * papers), ok=calls == 2 * papers)
        rep.add("downloads", sum(r.pdfs.downloads.values()), target=str(papers),
                ok=sum(r.pdfs.downloads.values()) == papers)
        rep.add("arxiv_requests", len(r.arxiv.requests))
        rep.add("arxiv_request_s", round(arxiv_s, 4), "s")
        rep.add("interpreter_start_s", round(startup, 3), "s")
        rep.add("floor_s", round(floor, 3), "s")
        rep.add("wall_s", round(result.wall_seconds, 3), "s")
        rep.add("wall_over_floor", round(ratio, 3), "x", f"<= {RATIO_TARGET}", ratio <= RATIO_TARGET)
        rep.add("wall_minus_start_over_floor", round((result.wall_seconds - startup) / floor, 3), "x")
        for name, value in timeline(r, result).items():
            rep.add(name, value, "s")
        rep.add("peak_concurrent_calls", r.chat.peak_in_flight, target=f"<= {concurrency}",
                ok=r.chat.peak_in_flight <= concurrency)
        rep.add("peak_rss_mb", round(result.peak_rss_mb, 1), "MB", f"< {RSS_TARGET_MB:g}",
                result.peak_rss_mb < RSS_TARGET_MB)
        rep.add("peak_rss_main_process_mb", round(result.peak_rss_main_mb, 1), "MB")
        rep.add("processes", result.processes)
        return rep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=20, help="papers in the day (default 20; also try 60)")
    ap.add_argument("--latency", type=float, default=0.5, help="seconds each chat call takes (default 0.5)")
    ap.add_argument("--concurrency", type=int, default=8, help="llm.concurrency (default 8)")
    ap.add_argument("--delay", type=float, default=0.1, help="arxiv.delay_seconds (default 0.1)")
    ap.add_argument("--pages", type=int, default=8, help="pages of each generated PDF (default 8)")
    args = ap.parse_args(argv)
    rep = run(args.papers, args.latency, args.concurrency, args.delay, args.pages)
    rep.print()
    return 0 if rep.passed else 1


if __name__ == "__main__":
    sys.exit(main())
