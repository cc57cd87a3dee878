"""`digest demo`: replay a bundled sample day through the real pipeline against in-process stand-ins.

Nothing here reaches the network and no key is needed: the arXiv API and listing, the PDF host and
the chat API are the local stand-ins the tests use. The sample papers and answers are invented and
marked as sample data (sample_day.json).
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from digest.core.config import load_config
from digest.core.errors import UsageError
from digest.core.files import atomic_write_text
from digest.core.outcome import DayOutcome, summary_lines
from digest.core.record import split_id
from digest.core.report import Reporter
from digest.core.services import Services
from digest.core.urls import post_path
from digest.pipeline import run_days
from digest.site.build import build_site
from digest.standins.arxiv_server import ArxivStandIn, make_paper
from digest.standins.chat_server import ChatStandIn, title_batch_papers, user_prompt
from digest.standins.pdf_host import PdfHost
from digest.standins.pdfgen import make_paper_pdf

SAMPLE = Path(__file__).with_name("sample_day.json")
DEMO_KEY_ENV = "DIGEST_DEMO_KEY"
DEMO_KEY = "demo-key-for-the-local-stand-in"  # the stand-in takes any key; this one only satisfies the check
DEMO_MODEL = "demo-model"
# Written first into every folder the demo fills: its config.yaml, _posts and _data may be replaced by a later demo.
DEMO_MARK = ".digest-demo"
# What a blog folder holds: the demo never writes over these unless it made them (or --force).
BLOG_PARTS = ("config.yaml", "_posts", "_data")


def load_sample() -> dict[str, Any]:
    """The bundled sample day: invented papers with their invented answers."""
    sample: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return sample


def _answerer(sample: dict[str, Any]) -> Any:
    papers = sample["papers"]

    def answer(request: dict[str, Any]) -> str:
        user = user_prompt(request)
        for p in papers:
            if p["title"] in user:
                if "<abstract>" in user:
                    return str(p["translation"])
                return str(p["deep_read"] or "1)  \n- （示例）\n\n2)  \n- （示例）\n\n3)  \n- （示例）")
        return "（示例数据中没有这篇论文）"

    return answer


def _title_answerer(sample: dict[str, Any]) -> Any:
    by_id = {split_id(p["id"])[0]: p["title_zh"] for p in sample["papers"]}

    def answer(request: dict[str, Any]) -> str:
        asked = {pid: by_id.get(split_id(pid)[0]) for pid, _ in title_batch_papers(request)}
        return "\n".join(f"{pid}: {title}" for pid, title in asked.items() if title)

    return answer


def check_out_folder(out: Path, *, force: bool = False) -> None:
    """Refuse (UsageError, exit 2) a folder whose config.yaml, _posts or _data the demo did not write."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"demo: --out {out} is a file, not a folder; give a new or empty folder")
    if force or (out / DEMO_MARK).exists():
        return
    found = [name for name in BLOG_PARTS if (out / name).exists()]
    if found:
        raise UsageError(
            f"demo: {out} already holds {', '.join(found)} that `digest demo` did not write (a blog?), and the demo "
            "would replace its config with stand-in URLs; nothing was changed. Give --out a new or empty folder, "
            "or add --force to write the demo there anyway"
        )


@dataclass
class StandIns:
    """The running stand-ins the demo's config points at."""

    arxiv: ArxivStandIn
    host: PdfHost
    chat: ChatStandIn
    pdf_ids: frozenset[str]  # the sample papers the PDF host serves (the others fail, as the demo expects)


@contextmanager
def stand_ins(sample: dict[str, Any]) -> Iterator[StandIns]:
    """The arXiv API and listing, the PDF host and the chat API for the sample day, running until the block ends."""
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
    pdfs = {p["id"]: make_paper_pdf(p["title"], pages=6) for p in sample["papers"] if p["deep_read"] is not None}
    with ArxivStandIn(papers, listing) as arxiv, PdfHost(pdfs) as host, ChatStandIn() as chat:
        chat.answer(_answerer(sample))
        chat.title_answerer = _title_answerer(sample)
        chat.models = [DEMO_MODEL]  # what `digest check` looks for in the model list
        yield StandIns(arxiv, host, chat, frozenset(pdfs))


def write_demo_config(out: Path, services: StandIns) -> Path:
    """The demo folder's config.yaml, pointing at the running stand-ins; its path."""
    config = {
        "site": {"posts_dir": "_posts", "records_dir": "_data/digest", "cache_dir": ".cache/digest"},
        "arxiv": {
            "api_url": services.arxiv.api_url,
            "listing_url": services.arxiv.listing_url,
            "pdf_download_url": services.host.pdf_url,
            "html_download_url": services.host.html_url,
            "delay_seconds": 0.2,
        },
        "llm": {"base_url": services.chat.base_url, "api_key_env": DEMO_KEY_ENV, "model": DEMO_MODEL},
    }
    path = out / "config.yaml"
    atomic_write_text(
        path,
        "# Written by `digest demo`: the URLs point at local stand-ins that exist only while the demo runs\n"
        "# (`digest demo --serve` keeps them running).\n" + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
    )
    return path


def run_demo(out: Path, reporter: Reporter, *, force: bool = False, serve: bool = False) -> Path:
    """Write the sample day's post and build the site into `out`; return the post's path.

    With `serve`, the stand-ins keep serving (for `check`, `preview` and `run` by hand) until Ctrl-C or SIGTERM.
    """
    check_out_folder(out, force=force)
    sample = load_sample()
    day = date.fromisoformat(sample["date"])
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / DEMO_MARK, "Made by `digest demo`: a later demo may replace config.yaml, _posts, _data.\n")
    with stand_ins(sample) as services:
        cfg = load_config(write_demo_config(out, services), required=True)
        run_services = Services(
            reporter=reporter,
            clock=lambda: datetime(2026, 3, 11, 1, 30, tzinfo=UTC),  # 09:30 CST, after the anchor
            environ={DEMO_KEY_ENV: DEMO_KEY},
        )
        reporter.info(f"demo: replaying the sample day {day} (invented papers, marked as sample data)")
        outcomes = run_days(cfg, [day], run_services, command="demo")
        _summarise(outcomes, services.pdf_ids, reporter)
        post = post_path(cfg.posts_dir, day.isoformat())
        site = build_site(cfg.records_dir, out / "_site", config=cfg, search=True)
        reporter.info(f"demo: post written to {post}")
        index = out / "_site" / "index.html"
        reporter.info(f"demo: site built into {out / '_site'} ({site.posts} post page(s)); open {index}")
        # Pagefind loads its index with fetch(), which browsers refuse for file:// pages.
        reporter.info(f"demo: for the search page, serve it: python -m http.server -d {out / '_site'}")
        if serve:
            with stop_on_signals() as stop:
                _serve(out, sample, services, reporter, stop)
    return post


def _summarise(outcomes: list[DayOutcome], pdf_ids: frozenset[str], reporter: Reporter) -> None:
    """The same summary as `digest run` (the README's example), with a word on the expected failures."""
    for o in outcomes:
        for line in summary_lines(o):
            pid = line.removeprefix("  failed ").split(":", 1)[0] if line.startswith("  failed ") else ""
            expected = " (expected: the sample PDF host has no file for it)" if pid and pid not in pdf_ids else ""
            reporter.info(line + expected)


def _serve(out: Path, sample: dict[str, Any], services: StandIns, reporter: Reporter, stop: threading.Event) -> None:
    """Say how to try the commands by hand against the stand-ins, then wait for `stop`."""
    folder = out.resolve()
    paper = sample["papers"][0]["id"]
    lines = [
        f"demo: serving the stand-ins until Ctrl-C: arXiv {services.arxiv.url}, PDFs {services.host.url}, "
        f"chat API {services.chat.base_url} (model {DEMO_MODEL})",
        f"demo: config to use: {folder / 'config.yaml'}; in another terminal:",
        f"  cd {folder}",
        f"  export {DEMO_KEY_ENV}={DEMO_KEY}",
        "  digest check",
        f"  digest preview {paper}",
        f"  digest run --date {sample['date']} --force",
        "demo: ready",
    ]
    for line in lines:
        reporter.info(line)
    while not stop.wait(0.5):  # a timed wait: signal handlers run between the polls
        pass
    reporter.info("demo: stand-ins stopped; the config's URLs no longer answer")


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM while the block runs (the previous handlers come back after)."""
    stop = threading.Event()
    wanted = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in wanted}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
