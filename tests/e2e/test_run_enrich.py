"""Full runs in-process against the arXiv, PDF and chat stand-ins (the OpenAI-compatible Model talks to the
chat stand-in): seeds replayed byte for byte, faults healed, reruns free. One CLI smoke test at the end."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.core.outcome import DayOutcome
from digest.core.store import load_record
from digest.pipeline import run_days
from digest.standins.arxiv_server import ArxivStandIn
from digest.standins.chat_server import ChatStandIn
from digest.standins.pdf_host import PdfHost
from helpers import (
    TEST_KEY,
    assert_same_text,
    digest_cli,
    prepare_seed_site,
    quiet_services,
    seed_answerer,
    seed_files,
    seed_pdfs,
    write_standin_config,
)

KEY = TEST_KEY


def _seeds_without_failures() -> list[Path]:
    return [s for s in seed_files() if "全文解读失败" not in s.read_text(encoding="utf-8")]


class Site:
    def __init__(self, tmp: Path, seed: Path, *, concurrency: int = 4, **llm: object) -> None:
        self.dir = tmp
        self.seed = seed
        self.record, self.papers = prepare_seed_site(tmp, seed)
        self.pdfs = seed_pdfs(self.record, self.papers, pages=3)
        self.arxiv = ArxivStandIn(self.papers)
        self.host = PdfHost(self.pdfs)
        self.chat = ChatStandIn(latency=0.05)
        self.chat.answer(seed_answerer(self.record))
        self.concurrency = concurrency
        self.llm = llm

    def __enter__(self) -> Site:
        for s in (self.arxiv, self.host, self.chat):
            s.start()
        write_standin_config(self.dir, self.arxiv, self.host, self.chat, concurrency=self.concurrency, **self.llm)
        return self

    def __exit__(self, *exc: object) -> None:
        for s in (self.arxiv, self.host, self.chat):
            s.stop()

    def run(self) -> DayOutcome:
        """`digest run --date DAY` in-process; the reporter's lines are kept in self.log."""
        services = quiet_services(environ={"DIGEST_TEST_KEY": KEY})
        cfg = load_config(self.dir / "config.yaml", required=True)
        (outcome,) = run_days(cfg, [date.fromisoformat(self.record.date)], services)
        self.log = services.reporter.stream.getvalue()
        return outcome

    def cli(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return digest_cli(self.dir, "run", "--date", self.record.date, *extra, env={"DIGEST_TEST_KEY": KEY})

    @property
    def post(self) -> str:
        return (self.dir / "_posts" / self.seed.name).read_text(encoding="utf-8")


@pytest.mark.parametrize("which", [0, -1])
def test_seed_day_replayed_byte_for_byte_and_rerun_is_free(tmp_path: Path, which: int) -> None:
    seeds = _seeds_without_failures()
    if not seeds:
        pytest.skip("no seed without failed deep reads")
    seed = seeds[which]
    with Site(tmp_path, seed) as site:
        out = site.run()
        assert not out.stopped and out.post is not None
        assert_same_text(seed.read_text(encoding="utf-8"), site.post, seed.name)
        n = site.record.counts.shown
        assert len(site.chat.calls) == 2 * n
        assert 1 < site.chat.peak_in_flight <= site.concurrency
        # the stand-in papers state the figures the seed reads cite: every read checks out the first time
        assert (out.stats.reads_checked, out.stats.reads_reasked, out.stats.reads_marked) == (n, 0, 0)
        saved = load_record(tmp_path / "_data" / "digest", site.record.date)
        assert saved is not None
        assert {(e.deep_read.check, e.deep_read.source, e.deep_read.version) for e in saved.papers if e.deep_read} == {
            ("clean", "pdf", 1)}
        downloads = sum(site.host.downloads.values())
        assert downloads == n
        record_before = (tmp_path / "_data" / "digest" / f"{site.record.date}.json").read_bytes()

        again = site.run()
        assert not again.stopped
        assert len(site.chat.calls) == 2 * n  # no model call
        assert sum(site.host.downloads.values()) == downloads  # no download
        assert_same_text(seed.read_text(encoding="utf-8"), site.post, seed.name)
        assert (tmp_path / "_data" / "digest" / f"{site.record.date}.json").read_bytes() == record_before
        assert again.stats.llm_calls == 0 and again.stats.downloads == 0


def test_flaky_model_service_still_completes_every_paper(tmp_path: Path) -> None:
    seed = seed_files()[0]
    with Site(tmp_path, seed) as site:
        site.chat.fail_first_attempts(rate=0.3)
        out = site.run()
        assert not out.stopped
        assert out.stats.failed == 0 and out.failures == []
        # every call ended within its retry budget (1 + max_retries attempts)
        per_prompt: dict[bytes, int] = {}
        for request in site.chat.requests:
            per_prompt[request.body] = per_prompt.get(request.body, 0) + 1
        assert max(per_prompt.values()) <= 1 + 3
        assert len(site.chat.requests) > 2 * site.record.counts.shown  # some first attempts really failed
        assert len(site.chat.calls) == 2 * site.record.counts.shown


def test_missing_pdf_placeholder_then_rerun_fills_it_in(tmp_path: Path) -> None:
    seed = seed_files()[0]
    with Site(tmp_path, seed) as site:
        late = site.papers[1].id
        del site.host.pdfs[late]
        out = site.run()
        assert not out.stopped
        assert "（全文解读失败：" in site.post and "404" in site.post and "下次运行将重试" in site.post
        assert [pid for pid, _ in out.failures] == [late]
        calls = len(site.chat.calls)

        site.host.put(late, site.pdfs[late])
        again = site.run()
        assert not again.stopped and again.failures == []
        assert "全文解读失败" not in site.post
        new_calls = site.chat.calls[calls:]
        assert len(new_calls) == 1  # only that paper's deep read
        assert site.papers[1].title in repr(new_calls[0])
        assert_same_text(seed.read_text(encoding="utf-8"), site.post, seed.name)


def test_malformed_answers_are_retried_then_marked_failed(tmp_path: Path) -> None:
    seed = seed_files()[0]
    with Site(tmp_path, seed) as site:
        bad_title = site.papers[0].title
        good = seed_answerer(site.record)

        def answer(request: dict) -> str:
            user = repr(request.get("messages"))
            if bad_title in user and "<abstract>" not in user:
                return "1) only one part in English and nothing else"
            return good(request)

        site.chat.answer(answer)
        out = site.run()
        assert not out.stopped
        deep_calls = [c for c in site.chat.calls if bad_title in repr(c) and "<abstract>" not in repr(c)]
        assert len(deep_calls) == 2  # asked once more with the reason, then given up
        assert "（全文解读失败：" in site.post
        assert out.stats.failed == 1


def test_bad_key_stops_the_run_with_one_message(tmp_path: Path) -> None:
    # CLI smoke test: the exit code and the one line a cron mail shows.
    seed = seed_files()[0]
    with Site(tmp_path, seed) as site:
        site.chat.fail_next(*[ChatStandIn.error(401, "Incorrect API key provided")] * 200)
        proc = site.cli()
        assert proc.returncode == 1
        assert "DIGEST_TEST_KEY" in proc.stderr
        assert KEY not in proc.stderr
        assert len(site.chat.requests) <= site.concurrency + 2  # not one failure per paper
        assert "Traceback" not in proc.stderr


def test_cli_run_then_rerun_reports_no_model_call(tmp_path: Path) -> None:
    # CLI smoke test: the summary line of an hourly cron rerun says it cost nothing.
    seeds = _seeds_without_failures()
    if not seeds:
        pytest.skip("no seed without failed deep reads")
    seed = seeds[0]
    with Site(tmp_path, seed) as site:
        first = site.cli()
        assert first.returncode == 0, first.stderr
        assert "failed 0" in first.stderr
        n = site.record.counts.shown
        assert f"reads checked {n}, re-asked 0, marked 0" in first.stderr
        assert_same_text(seed.read_text(encoding="utf-8"), site.post, seed.name)
        again = site.cli()
        assert again.returncode == 0, again.stderr
        assert "LLM calls 0" in again.stderr and "downloads 0" in again.stderr
