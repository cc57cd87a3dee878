"""The text worker: PDF work runs in one child process, a crash there fails one paper and not the run."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from digest.core.config import parse_config
from digest.enrich.fulltext import FullTextError, FullTextFetcher, pdf_to_text
from digest.enrich.textworker import TextWorker, WorkerCrashed, WorkerTimedOut
from digest.standins import pdfgen
from digest.standins.pdf_host import PdfHost

TITLE = "Braided resonance for the worker"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_jobs_run_in_one_child_process_until_closed() -> None:
    worker = TextWorker()

    async def main() -> list[int]:
        return [await worker.run(os.getpid) for _ in range(3)]

    try:
        pids = run(main())
    finally:
        worker.close()
    assert len(set(pids)) == 1 and pids[0] != os.getpid()
    assert worker.started == 1
    assert not alive(pids[0])  # close() ended and reaped it


def test_pdf_job_in_the_child_matches_in_process_extraction() -> None:
    data = pdfgen.make_paper_pdf(TITLE)
    worker = TextWorker()
    try:
        text, extracted, dropped = run(worker.run(pdf_to_text, data, 60_000))
    finally:
        worker.close()
    assert (text, extracted, dropped) == pdf_to_text(data, 60_000)
    assert pdfgen.METHOD_MARKER in text


@pytest.mark.parametrize(
    ("timeout", "job", "error"),
    [(120.0, (os._exit, 3), WorkerCrashed), (0.5, (time.sleep, 60), WorkerTimedOut)],
    ids=["child dies", "job stuck past the limit"],
)
def test_a_failed_job_ends_its_child_and_a_fresh_one_takes_the_next(timeout: float, job: tuple, error: type) -> None:
    worker = TextWorker(timeout=timeout)

    async def main() -> tuple[int, int]:
        first = await worker.run(os.getpid)
        with pytest.raises(error):
            await worker.run(*job)
        return first, await worker.run(os.getpid)

    try:
        before, after = run(main())
    finally:
        worker.close()
    assert not alive(before) and before != after and worker.started == 2


def fetch_two(worker: TextWorker, cache: Path) -> list[Any]:
    """Two papers through a fetcher that uses `worker` (left running: it is not the fetcher's own)."""
    pdf = pdfgen.make_paper_pdf(TITLE)
    with PdfHost({"2601.00001v1": pdf, "2601.00002v1": pdf}) as host:
        cfg = parse_config({"arxiv": {"pdf_download_url": host.pdf_url, "html_download_url": host.html_url}})

        async def main() -> list[Any]:
            async with httpx.AsyncClient() as http:
                fetcher = FullTextFetcher(cfg.fulltext, cfg.arxiv, cache, http=http, worker=worker)
                out = []
                for pid in ("2601.00001v1", "2601.00002v1"):
                    try:
                        out.append(await fetcher.get(pid))
                    except FullTextError as exc:
                        out.append(exc)
                fetcher.close()  # not its worker: must leave it running
                return out

        return run(main())


class CrashFirstJob(TextWorker):
    """The first job dies in the child as a PyMuPDF segfault would; later jobs run normally."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs = 0

    async def run(self, fn: Any, *args: Any) -> Any:
        self.jobs += 1
        if self.jobs == 1:
            return await super().run(os._exit, 11)
        return await super().run(fn, *args)


def test_fetcher_turns_a_worker_crash_into_a_retryable_failure(tmp_path: Path) -> None:
    worker = CrashFirstJob()
    try:
        crashed, fine = fetch_two(worker, tmp_path)
        assert worker.running
    finally:
        worker.close()
    assert isinstance(crashed, FullTextError)
    assert "进程意外退出" in crashed.reason and crashed.retryable
    assert not (tmp_path / "pdf" / "2601.00001v1.pdf").exists()  # the promised retry downloads again
    assert not isinstance(fine, FullTextError) and pdfgen.METHOD_MARKER in fine.text
    assert worker.started == 2


class NoProcesses:
    """A multiprocessing context on a host without process support (no /dev/shm, say)."""

    def __getattr__(self, name: str) -> Any:
        raise OSError(38, "Function not implemented")


def test_without_process_support_jobs_run_on_one_thread() -> None:
    data = pdfgen.make_paper_pdf(TITLE)
    worker = TextWorker(context=NoProcesses())

    async def main() -> tuple[Any, list[int]]:
        text = await worker.run(pdf_to_text, data, 60_000)
        return text, [await worker.run(os.getpid) for _ in range(2)]

    try:
        (text, _, _), pids = run(main())
    finally:
        worker.close()
    assert worker.in_thread and worker.started == 0
    assert pids == [os.getpid()] * 2 and pdfgen.METHOD_MARKER in text


def _slow_to_load(value: int) -> int:
    time.sleep(1.5)  # runs in the child while it unpickles the job, as a slow spawn or a heavy import would
    return value


class SlowToLoad:
    """An argument whose unpickling in the child takes 1.5 s: start-up work the job's limit must not count."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        return _slow_to_load, (self.value,)


def test_the_limit_times_the_job_not_the_childs_start_up() -> None:
    worker = TextWorker(timeout=0.3)
    try:
        assert run(worker.run(abs, SlowToLoad(-7))) == 7
    finally:
        worker.close()
    assert worker.started == 1


def test_a_cancelled_job_does_not_answer_the_next_one() -> None:
    worker = TextWorker()

    async def main() -> int:
        job = asyncio.create_task(worker.run(time.sleep, 60))
        await asyncio.sleep(0.3)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        return await worker.run(os.getpid)  # time.sleep's late None must not come back here

    try:
        pid = run(main())
    finally:
        worker.close()
    assert isinstance(pid, int) and pid != os.getpid() and worker.started == 2


class StuckFirstJob(TextWorker):
    """The first job hangs in the child, as PyMuPDF on a pathological PDF might; it alone gets the short limit."""

    async def run(self, fn: Any, *args: Any) -> Any:
        if self.started == 0:
            return await super().run(time.sleep, 60)
        self.timeout = 120.0  # the real extraction that follows is timed as in production, not by the stuck job's limit
        return await super().run(fn, *args)


def test_fetcher_reports_a_stuck_extraction_and_goes_on(tmp_path: Path) -> None:
    worker = StuckFirstJob(timeout=0.5)
    try:
        stuck, fine = fetch_two(worker, tmp_path)
    finally:
        worker.close()
    assert isinstance(stuck, FullTextError) and "0.5 秒" in stuck.reason and "已中止" in stuck.reason
    assert not isinstance(fine, FullTextError) and pdfgen.METHOD_MARKER in fine.text

