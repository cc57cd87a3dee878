"""`digest demo`: replay a bundled sample day through the real pipeline against in-process stand-ins.

Nothing here reaches the network and no key is needed: the arXiv API and listing, the PDF host and
the chat API are the local stand-ins the tests use. The sample papers and answers are invented and
marked as sample data (sample_day.json).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from digest.core.config import load_config
from digest.core.outcome import summary_lines
from digest.core.report import Reporter
from digest.core.services import Services
from digest.core.urls import post_path
from digest.pipeline import run_days
from digest.site.build import build_site
from digest.standins.arxiv_server import ArxivStandIn, make_paper
from digest.standins.chat_server import ChatStandIn, user_prompt
from digest.standins.pdf_host import PdfHost
from digest.standins.pdfgen import make_paper_pdf

SAMPLE = Path(__file__).with_name("sample_day.json")
DEMO_KEY_ENV = "DIGEST_DEMO_KEY"


def load_sample() -> dict[str, Any]:
    """The bundled sample day: invented papers with their invented answers."""
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def _answerer(sample: dict[str, Any]) -> Any:
    papers = sample["papers"]

    def answer(request: dict[str, Any]) -> str:
        user = user_prompt(request)
        for p in papers:
            if p["title"] in user:
                if "<abstract>" in user:
                    return p["translation"]
                return p["deep_read"] or "1)  \n- （示例）\n\n2)  \n- （示例）\n\n3)  \n- （示例）"
        return "（示例数据中没有这篇论文）"

    return answer


def run_demo(out: Path, reporter: Reporter) -> Path:
    """Write the sample day's post and build the site into `out`; return the post's path."""
    sample = load_sample()
    day = date.fromisoformat(sample["date"])
    papers = [
        make_paper(
            p["id"],
            datetime.fromisoformat(p["published"].replace("Z", "+00:00")),
            categories=p["categories"],
            title=p["title"],
            abstract=p["abstract"],
            authors=p["authors"],
        )
        for p in sample["papers"]
    ]
    # The listing decides the newest mailing (Tuesday 20:00 New York time = Wednesday 08:00 CST).
    mailing_day = date.fromordinal(day.toordinal() - 1)
    listing = (mailing_day, [(p.id, "new") for p in papers])
    pdfs = {
        p["id"]: make_paper_pdf(p["title"], pages=6)
        for p in sample["papers"]
        if p["deep_read"] is not None
    }
    out.mkdir(parents=True, exist_ok=True)
    with ArxivStandIn(papers, listing) as arxiv, PdfHost(pdfs) as host, ChatStandIn() as chat:
        chat.answer(_answerer(sample))
        config = {
            "site": {"posts_dir": "_posts", "records_dir": "_data/digest", "cache_dir": ".cache/digest"},
            "arxiv": {
                "api_url": arxiv.api_url,
                "listing_url": arxiv.listing_url,
                "pdf_download_url": host.pdf_url,
                "html_download_url": host.html_url,
                "delay_seconds": 0.2,
            },
            "llm": {"base_url": chat.base_url, "api_key_env": DEMO_KEY_ENV, "model": "demo-model"},
        }
        cfg_path = out / "config.yaml"
        cfg_path.write_text(
            "# Written by `digest demo`: the URLs point at local stand-ins that exist only while the demo runs.\n"
            + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
        cfg = load_config(cfg_path, required=True)
        services = Services(
            reporter=reporter,
            clock=lambda: datetime(2026, 3, 11, 1, 30, tzinfo=UTC),  # 09:30 CST, after the anchor
            environ={DEMO_KEY_ENV: "demo-key-for-the-local-stand-in"},
        )
        reporter.info(f"demo: replaying the sample day {day} (invented papers, marked as sample data)")
        outcomes = run_days(cfg, [day], services, command="demo")
    for o in outcomes:
        # The same summary as `digest run` (the README's example), with a word on the expected failures.
        for line in summary_lines(o):
            pid = line.removeprefix("  failed ").split(":", 1)[0] if line.startswith("  failed ") else ""
            expected = " (expected: the sample PDF host has no file for it)" if pid and pid not in pdfs else ""
            reporter.info(line + expected)
    post = post_path(cfg.posts_dir, day.isoformat())
    site = build_site(cfg.records_dir, out / "_site", config=cfg, search=True)
    reporter.info(f"demo: post written to {post}")
    index = out / "_site" / "index.html"
    reporter.info(f"demo: site built into {out / '_site'} ({site.posts} post page(s)); open {index}")
    # Pagefind loads its index with fetch(), which browsers refuse for file:// pages.
    reporter.info(f"demo: for the search page, serve it: python -m http.server -d {out / '_site'}")
    return post
