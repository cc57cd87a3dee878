"""backfill, preview and the site lock, through the real CLI against the stand-ins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.standins.arxiv_server import ArxivStandIn, make_paper
from digest.standins.chat_server import ChatStandIn
from digest.standins.pdf_host import PdfHost
from digest.standins.pdfgen import make_paper_pdf
from helpers import digest_cli, prepare_seed_site, seed_answerer, seed_files, seed_pdfs, write_config

KEY = "sk-commands-test-key-0000"
DELAY = 0.2


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["DIGEST_TEST_KEY"] = KEY
    return env


def _digest(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return digest_cli(site, *args, env={"DIGEST_TEST_KEY": KEY})


def _config(site: Path, arxiv: ArxivStandIn, host: PdfHost, chat: ChatStandIn, **window: object) -> None:
    write_config(
        site,
        arxiv={"api_url": arxiv.api_url, "listing_url": arxiv.listing_url, "delay_seconds": DELAY,
               "pdf_download_url": host.pdf_url, "html_download_url": host.html_url},
        window=window,
        llm={"base_url": chat.base_url, "api_key_env": "DIGEST_TEST_KEY", "model": "stand-in", "max_retries": 1},
    )


def _week_papers() -> list:
    # Submissions spread over 2026-01-02 .. 2026-01-08 (UTC), every 5 hours, in both categories.
    start = datetime(2026, 1, 2, 0, 30, tzinfo=UTC)
    cats = (["cs.SD"], ["eess.AS", "cs.SD"], ["eess.AS"], ["eess.SP", "eess.AS"])
    return [make_paper(f"2601.{10000 + k}v1", start + timedelta(hours=5 * k), categories=cats[k % 4])
            for k in range(34)]


def test_backfill_asks_once_for_the_range_and_resumes(tmp_path: Path) -> None:
    papers = _week_papers()
    pdf = make_paper_pdf("Backfill paper", pages=2)
    with ArxivStandIn(papers) as arxiv, PdfHost({p.id: pdf for p in papers}) as host, ChatStandIn() as chat:
        _config(tmp_path, arxiv, host, chat)
        proc = _digest(tmp_path, "backfill", "2026-01-06", "2026-01-09")
        assert proc.returncode == 0, proc.stderr
        posts = sorted(p.name for p in (tmp_path / "_posts").glob("*.md"))
        assert posts == [f"2026-01-0{d}-arxiv.md" for d in (6, 7, 8, 9)]
        searches = arxiv.search_requests
        assert 1 <= len(searches) <= 2
        times = [r.at for r in arxiv.requests]
        assert all(b - a >= DELAY * 0.95 for a, b in zip(times, times[1:], strict=False))
        # every paper of the four windows is in exactly one post
        shown = []
        for name in posts:
            record = json.loads((tmp_path / "_data" / "digest" / name.replace("-arxiv.md", ".json")).read_text())
            shown += [p["id"] for p in record["papers"]]
            assert all(p["status"] == "done" for p in record["papers"])
        assert len(shown) == len(set(shown)) > 0

        requests_before, calls_before = len(arxiv.requests), len(chat.calls)
        again = _digest(tmp_path, "backfill", "2026-01-06", "2026-01-09")
        assert again.returncode == 0, again.stderr
        assert len(arxiv.requests) == requests_before  # complete days are skipped without asking arXiv
        assert len(chat.calls) == calls_before

        # an interrupted backfill resumes: remove one day's record and post, only that day is redone
        (tmp_path / "_data" / "digest" / "2026-01-08.json").unlink()
        (tmp_path / "_posts" / "2026-01-08-arxiv.md").unlink()
        resumed = _digest(tmp_path, "backfill", "2026-01-06", "2026-01-09")
        assert resumed.returncode == 0, resumed.stderr
        assert (tmp_path / "_posts" / "2026-01-08-arxiv.md").exists()
        assert len(arxiv.search_requests) <= len(searches) + 1
        assert len(chat.calls) == calls_before  # its papers' results came from the cache


def test_preview_prints_the_posts_section_and_run_reuses_it(tmp_path: Path) -> None:
    # 2601.20573 when its seed is present; otherwise the second paper of the first seed.
    seeds = seed_files()
    seed = next((s for s in seeds if "2601.20573" in s.read_text(encoding="utf-8")), seeds[0])
    record, papers = prepare_seed_site(tmp_path, seed)
    target = next((p for p in papers if p.base_id == "2601.20573"), papers[1])
    with ArxivStandIn(papers) as arxiv, PdfHost(seed_pdfs(record, papers)) as host, \
            ChatStandIn(seed_answerer(record)) as chat:
        _config(tmp_path, arxiv, host, chat, basis="submitted")
        proc = _digest(tmp_path, "preview", target.base_id)
        assert proc.returncode == 0, proc.stderr
        section = proc.stdout
        assert section.startswith(f"## {target.title}\n") and section.endswith("---\n")
        assert len(chat.calls) == 2
        assert not (tmp_path / "_posts").exists() or not list((tmp_path / "_posts").glob("*.md"))
        assert not (tmp_path / "_data" / "digest" / f"{record.date}.json").exists()

        run = _digest(tmp_path, "run", "--date", record.date)
        assert run.returncode == 0, run.stderr
        post = (tmp_path / "_posts" / seed.name).read_text(encoding="utf-8")
        assert section in post
        assert section == post[post.index(f"## {target.title}\n"):][: len(section)]
        calls_for_target = [c for c in chat.calls if target.title in json.dumps(c, ensure_ascii=False)]
        assert len(calls_for_target) == 2  # only the preview's two calls


@pytest.mark.parametrize("bad", ["../../etc/passwd", "2601.2057", "abc", "https://example.org/abs/2601.20573"])
def test_preview_rejects_non_ids_before_any_request(tmp_path: Path, bad: str) -> None:
    with ArxivStandIn([]) as arxiv, PdfHost() as host, ChatStandIn() as chat:
        _config(tmp_path, arxiv, host, chat)
        proc = _digest(tmp_path, "preview", bad)
        assert proc.returncode == 2
        assert proc.stderr.startswith("digest: error: not an arXiv id") and proc.stderr.count("\n") == 1
        assert arxiv.requests == [] and chat.requests == [] and host.requests == []


def test_preview_of_unknown_id_says_so(tmp_path: Path) -> None:
    with ArxivStandIn([]) as arxiv, PdfHost() as host, ChatStandIn() as chat:
        _config(tmp_path, arxiv, host, chat)
        proc = _digest(tmp_path, "preview", "https://arxiv.org/abs/2601.99999v3")
        assert proc.returncode == 1
        assert "arXiv knows no paper 2601.99999v3" in proc.stderr


def test_two_runs_at_once_one_exits_naming_the_holder(tmp_path: Path) -> None:
    seed = seed_files()[0]
    record, papers = prepare_seed_site(tmp_path, seed)
    # The model's answers wait for `release`: the first run provably holds the lock while the second starts,
    # however slow the machine is to start a process.
    release = threading.Event()
    answer = seed_answerer(record)

    def held(request: dict) -> str:
        release.wait(120)
        return answer(request)

    with ArxivStandIn(papers) as arxiv, PdfHost(seed_pdfs(record, papers)) as host, ChatStandIn(held) as chat:
        _config(tmp_path, arxiv, host, chat, basis="submitted")
        cmd = [sys.executable, "-m", "digest", "run", "--date", record.date, "--config", str(tmp_path / "config.yaml")]
        first = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        try:
            deadline = time.monotonic() + 120
            while not chat.calls and first.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert chat.calls, "the first run never reached the model"
            second = _digest(tmp_path, "run", "--date", record.date)
            assert second.returncode == 1
            assert "another digest run holds the site lock" in second.stderr
            assert f"pid {first.pid}" in second.stderr
        finally:
            release.set()
            out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
        post = (tmp_path / "_posts" / seed.name).read_text(encoding="utf-8")
        assert post == seed.read_text(encoding="utf-8")
        json.loads((tmp_path / "_data" / "digest" / f"{record.date}.json").read_text(encoding="utf-8"))
