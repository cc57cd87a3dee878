"""Full text: PDF extraction, preparation to a budget, and downloading against a real local PDF host."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pymupdf
import pytest

from digest.config import Config, parse_config
from digest.fulltext import FullText, FullTextError, FullTextFetcher, extract_pdf_text, prepare_text
from digest.standins import pdfgen
from digest.standins.base import Reply
from digest.standins.pdf_host import PdfHost, StreamReply

TITLE = "A Braided Resonance Encoder for Overlapped Speech in Reverberant Rooms"
PID = "2601.00001v1"


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def paper_pdf() -> bytes:
    return pdfgen.make_paper_pdf(TITLE, pages=3)


@pytest.fixture
def host():
    with PdfHost() as h:
        yield h


def make_cfg(host: PdfHost, **fulltext) -> Config:
    ft = {"timeout_seconds": 2, "max_retries": 2}
    ft.update(fulltext)
    return parse_config(
        {"arxiv": {"pdf_download_url": host.pdf_url, "html_download_url": host.html_url}, "fulltext": ft}
    )


def fetch(cfg: Config, cache: Path, *ids: str) -> tuple[list[FullText | FullTextError], FullTextFetcher, list[float]]:
    """Run get() for each id with a real httpx client; sleeps are recorded, not slept."""
    sleeps: list[float] = []

    async def no_sleep(s: float) -> None:
        sleeps.append(s)

    async def main():
        async with httpx.AsyncClient() as http:
            fetcher = FullTextFetcher(cfg, http, cache, sleep=no_sleep)
            out: list[FullText | FullTextError] = []
            try:
                for pid in ids:
                    try:
                        out.append(await fetcher.get(pid))
                    except FullTextError as exc:
                        out.append(exc)
            finally:
                fetcher.close()
            return out, fetcher

    out, fetcher = asyncio.run(main())
    return out, fetcher, sleeps


# ---------------------------------------------------------------- extraction


def test_two_column_reading_order_and_markers(paper_pdf: bytes) -> None:
    text = flat(extract_pdf_text(paper_pdf))
    markers = [pdfgen.INTRO_MARKER, pdfgen.METHOD_MARKER, pdfgen.RESULTS_MARKER, pdfgen.CONCLUSION_MARKER]
    # The generator writes each page row by row across both columns: a naive reader interleaves them.
    positions = [text.find(m) for m in markers]
    assert all(p >= 0 for p in positions), positions
    assert positions == sorted(positions)


def test_naive_order_would_interleave(paper_pdf: bytes) -> None:
    """Guard for the test above: the file order really is not the reading order."""
    doc = pymupdf.open(stream=paper_pdf, filetype="pdf")
    naive = flat(" ".join(page.get_text() for page in doc))
    assert pdfgen.RESULTS_MARKER not in naive or pdfgen.METHOD_MARKER not in naive


def test_hyphenated_line_breaks_are_joined() -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    lines = ["Our system improves speech recog-", "nition in noisy rooms and keeps the beam-", "former small."]
    lines += [f"Filler sentence number {i} about microphones and rooms." for i in range(8)]
    for i, line in enumerate(lines):
        page.insert_text((72, 100 + 12 * i), line, fontsize=10)
    text = extract_pdf_text(doc.tobytes())
    assert "speech recognition in noisy rooms" in flat(text)
    assert "beamformer small" in flat(text)
    assert "recog-" not in text


def test_running_header_and_page_numbers_dropped(paper_pdf: bytes) -> None:
    text = extract_pdf_text(paper_pdf)
    assert pdfgen.RUNNING_HEADER not in text
    assert not [ln for ln in text.splitlines() if ln.strip() in {"1", "2", "3"}]
    # The generator really printed them: on every page.
    doc = pymupdf.open(stream=paper_pdf, filetype="pdf")
    assert all(pdfgen.RUNNING_HEADER in page.get_text() for page in doc)


def test_references_and_acknowledgements_dropped_appendix_kept_if_room(paper_pdf: bytes) -> None:
    raw = extract_pdf_text(paper_pdf)
    assert pdfgen.REFERENCE_MARKER in flat(raw) and pdfgen.ACK_MARKER in flat(raw)
    text, dropped = prepare_text(raw, 60000)
    assert pdfgen.REFERENCE_MARKER not in flat(text)
    assert pdfgen.ACK_MARKER not in flat(text)
    assert pdfgen.APPENDIX_MARKER in flat(text)
    assert "References" in dropped and "Acknowledgements" in dropped


def test_heading_styles_recognised() -> None:
    body = "word " * 40
    raw = "\n".join(
        [
            "Title of a paper",
            "Abstract",
            body,
            "I. INTRODUCTION",
            body,
            "II. RELATED WORK",
            "prior art " * 30,
            "III. PROPOSED METHOD",
            "METHODCORE " * 30,
            "2. Experiments",
            body,
            "REFERENCES",
            "[1] Somebody, a cited paper.",
            "Appendix A Extra Proofs",
            "APPENDIXTEXT " * 10,
        ]
    )
    text, dropped = prepare_text(raw, 1000)
    assert len(text) <= 1000
    assert "METHODCORE" in text
    assert "cited paper" not in text
    assert "REFERENCES" in dropped
    assert "II. RELATED WORK" in dropped
    assert [d for d in dropped if d.startswith("Appendix")] == ["Appendix A (154 chars)"]


def test_over_budget_keeps_method_and_results(paper_pdf: bytes) -> None:
    raw = extract_pdf_text(paper_pdf)
    assert len(raw) > 12000  # three pages of filler in the experiments
    for budget in (4000, 2500):
        text, dropped = prepare_text(raw, budget)
        assert len(text) <= budget
        assert pdfgen.METHOD_MARKER in flat(text)
        assert pdfgen.RESULTS_MARKER in flat(text)
        assert pdfgen.CONCLUSION_MARKER in flat(text)
        assert pdfgen.RELATED_MARKER not in flat(text)
        assert "2 Related Work" in dropped


def test_tiny_budget_and_no_headings_stay_under_limit() -> None:
    raw = "plain text without any headings. " * 500
    text, dropped = prepare_text(raw, 1000)
    assert len(text) <= 1000 and text.startswith("plain text")
    assert dropped == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "0 字节"),
        (b"<!DOCTYPE html><html><body>Error 503: try later</body></html>", "不是 PDF"),
        (b"%PDF-1.7\n" + b"\x00garbage" * 200, "损坏"),
    ],
)
def test_unusable_bytes_raise_clear_reason(data: bytes, words: str) -> None:
    with pytest.raises(FullTextError) as info:
        extract_pdf_text(data)
    assert words in info.value.reason


def test_encrypted_pdf() -> None:
    data = pdfgen.make_paper_pdf(TITLE, encrypt=True)
    with pytest.raises(FullTextError) as info:
        extract_pdf_text(data)
    assert "加密" in info.value.reason and info.value.retryable is False


def test_image_only_pdf() -> None:
    data = pdfgen.make_paper_pdf(TITLE, image_only=True)
    with pytest.raises(FullTextError) as info:
        extract_pdf_text(data)
    assert "无文字层" in info.value.reason and info.value.retryable is False


# ---------------------------------------------------------------- downloading


def test_download_extract_and_cache(host: PdfHost, paper_pdf: bytes, tmp_path: Path) -> None:
    host.put(PID, paper_pdf)
    cfg = make_cfg(host)
    (first, second), fetcher, _ = fetch(cfg, tmp_path, PID, PID)
    assert isinstance(first, FullText) and isinstance(second, FullText)
    assert first.source == "pdf" and first.downloaded and not second.downloaded
    assert pdfgen.METHOD_MARKER in flat(first.text) and first.text == second.text
    assert first.extracted_chars > len(first.text) - 2000
    assert host.pdf_requests(PID) == 1 and fetcher.downloads == 1
    assert (tmp_path / "pdf" / f"{PID}.pdf").read_bytes() == paper_pdf
    assert host.requests[0].headers["user-agent"].startswith("digest/")
    # A new fetcher (next run) reads the cache too.
    (third,), fetcher2, _ = fetch(cfg, tmp_path, PID)
    assert isinstance(third, FullText) and not third.downloaded and fetcher2.downloads == 0
    assert host.pdf_requests(PID) == 1


def test_404_not_retried_and_reason_says_retry(host: PdfHost, tmp_path: Path) -> None:
    (err,), fetcher, sleeps = fetch(make_cfg(host), tmp_path, PID)
    assert isinstance(err, FullTextError)
    assert "404" in err.reason and "下次运行将重试" in err.reason and err.retryable
    assert host.pdf_requests(PID) == 1 and sleeps == []
    assert fetcher.downloads == 0


def test_500_then_success(host: PdfHost, paper_pdf: bytes, tmp_path: Path) -> None:
    host.put(PID, paper_pdf)
    host.fail_next(Reply(500, b"oops"), Reply(503, b"busy"))
    (ok,), _, sleeps = fetch(make_cfg(host, max_retries=3), tmp_path, PID)
    assert isinstance(ok, FullText)
    assert host.pdf_requests(PID) == 3
    assert sleeps == [1.0, 2.0]  # exponential backoff


def test_5xx_beyond_retry_budget(host: PdfHost, tmp_path: Path) -> None:
    host.route(f"/pdf/{PID}", Reply(502, b"bad gateway"))
    (err,), _, sleeps = fetch(make_cfg(host, max_retries=2), tmp_path, PID)
    assert isinstance(err, FullTextError) and "502" in err.reason and "重试" in err.reason
    assert host.pdf_requests(PID) == 3 and len(sleeps) == 2


def test_html_page_served_as_pdf(host: PdfHost, tmp_path: Path) -> None:
    page = b"<!DOCTYPE html><html><body>Rate limited, come back later</body></html>"
    host.route(f"/pdf/{PID}", Reply(200, page, "application/pdf"))
    (err,), _, _ = fetch(make_cfg(host), tmp_path, PID)
    assert isinstance(err, FullTextError) and "不是 PDF" in err.reason
    assert not (tmp_path / "pdf" / f"{PID}.pdf").exists()


def test_zero_byte_download(host: PdfHost, tmp_path: Path) -> None:
    host.route(f"/pdf/{PID}", Reply(200, b"", "application/pdf"))
    (err,), _, _ = fetch(make_cfg(host), tmp_path, PID)
    assert isinstance(err, FullTextError) and "0 字节" in err.reason


def test_corrupt_and_encrypted_downloads(host: PdfHost, tmp_path: Path) -> None:
    host.put("2601.00002v1", b"%PDF-1.5\n" + b"not really a pdf " * 100)
    host.put("2601.00003v1", pdfgen.make_paper_pdf(TITLE, encrypt=True))
    host.put("2601.00004v1", pdfgen.make_paper_pdf(TITLE, image_only=True))
    (corrupt, encrypted, scanned), _, _ = fetch(
        make_cfg(host), tmp_path, "2601.00002v1", "2601.00003v1", "2601.00004v1"
    )
    assert isinstance(corrupt, FullTextError) and "损坏" in corrupt.reason
    assert isinstance(encrypted, FullTextError) and "加密" in encrypted.reason
    # Raised in the worker process: whether a retry can help survives the trip back.
    assert encrypted.retryable is False and "下次运行将重试" not in encrypted.reason
    assert corrupt.retryable is True and corrupt.reason.endswith("下次运行将重试")
    assert isinstance(scanned, FullTextError) and "扫描件" in scanned.reason


def test_content_length_over_cap_stops_before_body(host: PdfHost, tmp_path: Path) -> None:
    big = b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024)
    host.put(PID, big)
    (err,), fetcher, _ = fetch(make_cfg(host, max_pdf_mb=1), tmp_path, PID)
    assert isinstance(err, FullTextError) and "超过 1 MB 上限" in err.reason and not err.retryable
    assert fetcher.bytes_received == 0
    assert host.pdf_requests(PID) == 1


def test_stream_without_length_stops_at_cap(host: PdfHost, tmp_path: Path) -> None:
    chunk = b"%PDF-1.7\n" + b"0" * (64 * 1024 - 9)
    host.route(f"/pdf/{PID}", StreamReply(200, content_type="application/pdf", chunks=[chunk] * 64))  # 4 MB
    (err,), fetcher, _ = fetch(make_cfg(host, max_pdf_mb=1), tmp_path, PID)
    assert isinstance(err, FullTextError) and "上限" in err.reason
    cap = 1024 * 1024
    assert cap < fetcher.bytes_received <= cap + 256 * 1024


def test_slow_server_times_out_and_retries(host: PdfHost, tmp_path: Path) -> None:
    host.route(f"/pdf/{PID}", Reply(200, b"%PDF-1.7", "application/pdf", delay=1.0))
    cfg = make_cfg(host, timeout_seconds=0.15, max_retries=1)
    (err,), _, sleeps = fetch(cfg, tmp_path, PID)
    assert isinstance(err, FullTextError) and "超时" in err.reason and "下次运行将重试" in err.reason
    assert host.pdf_requests(PID) == 2 and len(sleeps) == 1


def test_redirect_followed_and_loop_is_clear_failure(host: PdfHost, paper_pdf: bytes, tmp_path: Path) -> None:
    host.put("2601.00009v1", paper_pdf)
    host.route("/pdf/2601.00008v1", Reply(302, headers={"Location": "/pdf/2601.00009v1"}))
    host.route("/pdf/2601.00007v1", Reply(301, headers={"Location": "/pdf/2601.00007v1"}))
    (ok, loop), _, sleeps = fetch(make_cfg(host), tmp_path, "2601.00008v1", "2601.00007v1")
    assert isinstance(ok, FullText)
    assert isinstance(loop, FullTextError) and "重定向" in loop.reason
    assert 2 <= host.pdf_requests("2601.00007v1") <= 8 and sleeps == []


def _arxiv_like_html() -> str:
    para = "<p>" + "The braided encoder is described in this HTML rendering of the paper. " * 10 + "</p>"
    return (
        "<html><head><title>x</title><style>.a{color:red}</style><script>var secret=1;</script></head><body>"
        "<nav>Skip to main content | Back to arXiv</nav>"
        "<h1>A Braided Resonance Encoder</h1><h2>Abstract</h2>" + para + "<h2>1 Introduction</h2>" + para * 2 + ""
        "<h2>3 Method</h2><p>HTML-METHOD-MARKER sentence with "
        '<math alttext="x^{2}"><semantics><msup><mi>x</mi><mn>2</mn></msup>'
        '<annotation encoding="application/x-tex">x^{2}</annotation></semantics></math>.</p>'
        + para
        + "<h2>References</h2><p>[1] cited</p>"
        "</body></html>"
    )


def test_html_fallback_when_pdf_404(host: PdfHost, tmp_path: Path) -> None:
    host.put_html(PID, _arxiv_like_html())
    (ft, again), fetcher, _ = fetch(make_cfg(host), tmp_path, PID, PID)
    assert isinstance(ft, FullText) and ft.source == "html" and ft.downloaded
    assert "HTML-METHOD-MARKER sentence with $x^{2}$ ." in ft.text
    assert "var secret" not in ft.text and "color:red" not in ft.text and "Skip to main" not in ft.text
    assert "[1] cited" not in ft.text and "References" in ft.sections_dropped
    assert isinstance(again, FullText) and not again.downloaded
    assert sum(1 for r in host.requests if r.path.startswith("/html/")) == 1


def test_both_missing_reason_names_pdf_problem(host: PdfHost, tmp_path: Path) -> None:
    (err,), _, _ = fetch(make_cfg(host), tmp_path, PID)
    assert isinstance(err, FullTextError)
    assert err.reason.startswith("PDF 尚未提供（HTTP 404）") and "HTML" in err.reason
    assert [r.path for r in host.requests] == [f"/pdf/{PID}", f"/html/{PID}"]


def test_pdf_appears_on_next_run(host: PdfHost, paper_pdf: bytes, tmp_path: Path) -> None:
    cfg = make_cfg(host)
    (err,), _, _ = fetch(cfg, tmp_path, PID)
    assert isinstance(err, FullTextError)
    host.put(PID, paper_pdf)
    (ok,), _, _ = fetch(cfg, tmp_path, PID)
    assert isinstance(ok, FullText) and ok.source == "pdf"


def test_download_concurrency_is_bounded(host: PdfHost, paper_pdf: bytes, tmp_path: Path) -> None:
    ids = [f"2601.0010{i}v1" for i in range(6)]
    for pid in ids:
        host.route(f"/pdf/{pid}", Reply(200, paper_pdf, "application/pdf", delay=0.1))
    cfg = make_cfg(host, download_concurrency=2)

    async def main() -> list[FullText]:
        async with httpx.AsyncClient() as http:
            fetcher = FullTextFetcher(cfg, http, tmp_path)
            try:
                return await asyncio.gather(*(fetcher.get(pid) for pid in ids))
            finally:
                fetcher.close()

    results = asyncio.run(main())
    assert all(r.source == "pdf" for r in results)
    times = sorted(r.at for r in host.requests)
    # With two at a time, no three requests arrive within one reply delay of each other.
    assert all(times[i + 2] - times[i] >= 0.09 for i in range(len(times) - 2))
