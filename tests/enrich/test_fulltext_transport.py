"""The full-text fetcher through an injected httpx transport: no socket, the fetcher's own client, no whole Config."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from digest.core.config import FulltextConfig
from digest.enrich.fulltext import FullText, FullTextError, FullTextFetcher, Pacing
from digest.enrich.fulltext.download import MAX_REDIRECTS
from digest.enrich.textworker import TextWorker
from digest.standins import pdfgen

PID = "2601.00001v1"
TITLE = "A Braided Resonance Encoder for Overlapped Speech in Reverberant Rooms"


@dataclass(frozen=True)
class Urls:
    """URL templates alone: the fetcher needs nothing else of the config."""

    pdf_download_url: str = "https://papers.test/pdf/{id}"
    html_download_url: str = "https://papers.test/html/{id}"


@pytest.fixture(scope="module")
def paper_pdf() -> bytes:
    return pdfgen.make_paper_pdf(TITLE, pages=2)


def in_thread_worker() -> TextWorker:
    """A worker that runs jobs on its thread: these tests are about HTTP, not process isolation."""
    worker = TextWorker()
    worker.in_thread = True
    return worker


Handler = Callable[[httpx.Request], httpx.Response]


def run_fetch(
    handler: Handler, cache: Path, *ids: str, settings: FulltextConfig | None = None
) -> tuple[list[FullText | FullTextError], list[httpx.Request], list[float], list[str]]:
    """get() each id through a MockTransport; returns results, requests seen, sleeps asked for and wait lines."""
    seen: list[httpx.Request] = []
    sleeps: list[float] = []
    waits: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def main() -> list[FullText | FullTextError]:
        pacing = Pacing(sleep=no_sleep, on_wait=waits.append)
        out: list[FullText | FullTextError] = []
        worker = in_thread_worker()
        async with FullTextFetcher(settings or FulltextConfig(max_retries=2), Urls(), cache,
                                   http=httpx.MockTransport(record), worker=worker, pacing=pacing) as fetcher:
            for pid in ids:
                try:
                    out.append(await fetcher.get(pid))
                except FullTextError as exc:
                    out.append(exc)
        worker.close()
        return out

    return asyncio.run(main()), seen, sleeps, waits


def test_pdf_through_a_mock_transport_is_cached_and_sent_with_our_user_agent(paper_pdf: bytes, tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/pdf/{PID}"
        return httpx.Response(200, content=paper_pdf)

    (first, second), seen, _, _ = run_fetch(handler, tmp_path, PID, PID)
    assert isinstance(first, FullText) and first.source == "pdf" and first.downloaded
    assert isinstance(second, FullText) and not second.downloaded and second.text == first.text
    assert pdfgen.METHOD_MARKER in " ".join(first.text.split())
    assert len(seen) == 1 and seen[0].headers["user-agent"].startswith("digest/")
    assert (tmp_path / "pdf" / f"{PID}.pdf").read_bytes() == paper_pdf


def test_retry_after_is_honoured_and_each_wait_is_told(paper_pdf: bytes, tmp_path: Path) -> None:
    answers = iter([httpx.Response(503, headers={"retry-after": "7"}), httpx.Response(200, content=paper_pdf)])
    (ok,), seen, sleeps, waits = run_fetch(lambda _r: next(answers), tmp_path, PID)
    assert isinstance(ok, FullText)
    assert len(seen) == 2 and sleeps == [7.0]
    assert waits == [f"PDF https://papers.test/pdf/{PID}: 503, retrying in 7 s (1/2)"]


def test_declared_size_over_the_cap_stops_without_retry(tmp_path: Path) -> None:
    big = 2 * 1024 * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/html/"):
            return httpx.Response(404)
        return httpx.Response(200, headers={"content-length": str(big)}, content=b"%PDF-" + b"0" * (big - 5))

    (err,), seen, sleeps, _ = run_fetch(handler, tmp_path, PID, settings=FulltextConfig(max_pdf_mb=1))
    assert isinstance(err, FullTextError) and "超过 1 MB 上限" in err.reason and not err.retryable
    assert [r.url.path for r in seen] == [f"/pdf/{PID}", f"/html/{PID}"] and sleeps == []
    assert not (tmp_path / "pdf").exists()


def test_missing_pdf_falls_back_to_html_which_is_cached(tmp_path: Path) -> None:
    paragraph = "<p>" + "The braided lattice separates overlapped voices in reverberant rooms. " * 30 + "</p>"
    page = f"<html><body><h1>{TITLE}</h1>{paragraph}<script>var x = 1;</script></body></html>".encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404) if "/pdf/" in request.url.path else httpx.Response(200, content=page)

    (got,), _, _, _ = run_fetch(handler, tmp_path, PID)
    assert isinstance(got, FullText) and got.source == "html" and "var x" not in got.text
    assert "braided lattice separates" in got.text
    assert (tmp_path / "html" / f"{PID}.html").read_bytes() == page


def test_a_redirect_loop_ends_after_the_bound(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        hops = int(request.url.params.get("hop", "0"))
        return httpx.Response(302, headers={"location": f"{request.url.copy_with(query=None)}?hop={hops + 1}"})

    (err,), seen, sleeps, _ = run_fetch(handler, tmp_path, PID)
    assert isinstance(err, FullTextError) and "重定向超过 5 次" in err.reason
    pdf_hops = [r for r in seen if "/pdf/" in r.url.path]
    assert len(pdf_hops) == MAX_REDIRECTS + 1 and sleeps == []


def test_connection_errors_are_retried_then_reported(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    (err,), seen, sleeps, waits = run_fetch(handler, tmp_path, PID)
    assert isinstance(err, FullTextError) and "连接失败（ConnectError）" in err.reason and err.retryable
    assert len(seen) == 6 and len(sleeps) == 4  # PDF and HTML: three tries each, two waits each
    assert waits[0].startswith(f"PDF https://papers.test/pdf/{PID}: connection failed (ConnectError)")


def test_own_client_is_closed_a_given_client_is_left_open(paper_pdf: bytes, tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda _r: httpx.Response(200, content=paper_pdf))

    async def main() -> tuple[bool, bool]:
        worker = in_thread_worker()
        own = FullTextFetcher(FulltextConfig(), Urls(), tmp_path / "a", http=transport, worker=worker)
        await own.aclose()
        async with httpx.AsyncClient(transport=transport) as client:
            given = FullTextFetcher(FulltextConfig(), Urls(), tmp_path / "b", http=client, worker=worker)
            await given.aclose()
            got = await given.get(PID)  # the caller's client still works
            given_open = got.downloaded and not client.is_closed
        worker.close()
        return own.downloader.http.is_closed, given_open

    own_closed, given_open = asyncio.run(main())
    assert own_closed and given_open
