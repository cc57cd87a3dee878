"""Full text: PDF extraction, preparation to a budget, and downloading against a real local PDF host."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pymupdf
import pytest

from digest.core.config import Config, parse_config
from digest.enrich.fulltext import (
    FullText,
    FullTextError,
    FullTextFetcher,
    Pacing,
    _split_sections,
    extract_html_text,
    extract_pdf_text,
    prepare_text,
)
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


def fetch(
    cfg: Config, cache: Path, *ids: str, waits: list[str] | None = None
) -> tuple[list[FullText | FullTextError], FullTextFetcher, list[float]]:
    """Run get() for each id with a real httpx client; sleeps are recorded, not slept; wait lines go to `waits`."""
    sleeps: list[float] = []

    async def no_sleep(s: float) -> None:
        sleeps.append(s)

    async def main():
        async with httpx.AsyncClient() as http:
            tell = waits.append if waits is not None else None
            pacing = Pacing(sleep=no_sleep, on_wait=tell, on_long_wait=tell)
            fetcher = FullTextFetcher(cfg.fulltext, cfg.arxiv, cache, http=http, pacing=pacing)
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
    waits: list[str] = []
    (ok,), _, sleeps = fetch(make_cfg(host, max_retries=3), tmp_path, PID, waits=waits)
    assert isinstance(ok, FullText)
    assert host.pdf_requests(PID) == 3
    assert sleeps == [1.0, 2.0]  # exponential backoff
    # each wait is told as it starts: what failed, how long, which try of how many
    url = f"{host.pdf_url.format(id=PID)}"
    assert waits == [f"PDF {url}: 500, retrying in 1 s (1/3)", f"PDF {url}: 503, retrying in 2 s (2/3)"]


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
            fetcher = FullTextFetcher(cfg.fulltext, cfg.arxiv, tmp_path, http=http)
            try:
                return await asyncio.gather(*(fetcher.get(pid) for pid in ids))
            finally:
                fetcher.close()

    results = asyncio.run(main())
    assert all(r.source == "pdf" for r in results)
    times = sorted(r.at for r in host.requests)
    # With two at a time, no three requests arrive within one reply delay of each other.
    assert all(times[i + 2] - times[i] >= 0.09 for i in range(len(times) - 2))


# ---------------------------------------------------------------- rules for real papers, on generated PDFs

METHOD_TEXT = "The resonance lattice folds each band into shared phase tokens with a light mixer on top."
RESULTS_TEXT = "The lattice lowers the error rate on every marsh chorus condition we measured."
RELATED_TEXT = "Pond listening coders kept every band apart and relied on fixed filters."
CONCLUSION_TEXT = "Braided lattices are a simple path for overlapped speech in rooms."
APPENDIX_TEXT = "Every hyperparameter of the lattice is listed here for completeness."


def _single_column_sections(appendix_before_refs: bool = True) -> list[tuple[str, str]]:
    pad = " ".join([pdfgen._FILLER] * 6)
    secs = [
        ("Abstract", "We present a braided resonance lattice for overlapped speech."),
        ("1 Introduction", "Listening machines stumble when voices overlap. " + pad),
        ("2 Related Work", f"{RELATED_TEXT} " + pad),
        ("3 Resonance Lattice", f"{METHOD_TEXT} " + pad),  # a method section with a name of its own
        ("3.1 Phase Tokens", "Each token carries a magnitude and a phase offset. " + pad),
        ("4 Experiments", f"{RESULTS_TEXT} " + pad),
        ("5 Conclusion", CONCLUSION_TEXT),
    ]
    if appendix_before_refs:
        secs += [("A Lattice Hyperparameters", f"{APPENDIX_TEXT} " + pad), ("B Extra Figures", pad)]
    return secs


def test_heading_numbers_set_apart_from_titles_are_found() -> None:
    data = pdfgen.make_paper_pdf(TITLE, _single_column_sections(), two_column=False, split_numbers=True)
    # PyMuPDF really does split them: "3" and "Resonance Lattice" are separate lines of the page.
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        page_lines = [ln for page in doc for ln in page.get_text().splitlines()]
    assert "3" in page_lines and "Resonance Lattice" in page_lines
    raw = extract_pdf_text(data)
    kinds = {s.heading: s.kind for s in _split_sections(raw)}
    assert kinds["2 Related Work"] == "related"
    assert kinds["3 Resonance Lattice"] == "other" and kinds["3.1 Phase Tokens"] == "other"
    assert kinds["4 Experiments"] == "experiments" and kinds["5 Conclusion"] == "conclusion"
    assert kinds["A Lattice Hyperparameters"] == "appendix" and kinds["B Extra Figures"] == "appendix"


def test_appendix_before_references_dropped_first_and_reported() -> None:
    data = pdfgen.make_paper_pdf(TITLE, _single_column_sections(), two_column=False, split_numbers=True)
    raw = extract_pdf_text(data)
    text, dropped = prepare_text(raw, len(raw) - 3000)
    assert APPENDIX_TEXT not in flat(text) and pdfgen.APPENDIX_MARKER not in flat(text)
    assert RELATED_TEXT in flat(text)  # appendices went first and made enough room
    note = [d for d in dropped if d.startswith("Appendix")]
    assert len(note) == 1 and note[0].startswith("Appendix A–") and "chars)" in note[0]
    # Short of room, related work goes next, and the method, results and conclusion stay.
    text, dropped = prepare_text(raw, 6000)
    assert len(text) <= 6000 and "2 Related Work" in dropped
    for sentence in (METHOD_TEXT, RESULTS_TEXT, CONCLUSION_TEXT):
        assert sentence in flat(text)


def test_unknown_section_name_is_body_not_related_work() -> None:
    raw = "\n".join(["1 Introduction", "intro " * 50, "2 Background", "old " * 400, "3 Lattice Folding",
                     "FOLDCORE " * 400, "4 Evaluation", "EVALCORE " * 400])
    text, dropped = prepare_text(raw, 3000)
    assert "FOLDCORE" in text and "EVALCORE" in text and "old old" not in text
    assert dropped == ["2 Background"]


def test_figure_labels_are_not_headings() -> None:
    raw = "\n".join(["1. INTRODUCTION", "intro text " * 20, "2. MODEL ARCHITECTURE", "model text " * 20,
                     "3 Conv Layers", "2 LSTM Layers", "more model text " * 20, "3. EXPERIMENTS", "exp " * 20])
    headings = [s.heading for s in _split_sections(raw)]
    assert headings == ["1. INTRODUCTION", "2. MODEL ARCHITECTURE", "3. EXPERIMENTS"]


def test_roman_sections_lettered_subsections_and_wrapped_title() -> None:
    raw = "\n".join(["I. INTRODUCTION", "x " * 30, "II. RELATED WORK", "y " * 30, "A. Graph Signals", "z " * 30,
                     "III. IMPLEMENTATION OF THE LATTICE", "", "AGGREGATION BLOCK", "w " * 30, "A. Tokens",
                     "v " * 30, "B. Mixer", "u " * 30, "IV. RESULTS", "r " * 30, "Method", "t " * 5])
    secs = [(s.heading, s.kind) for s in _split_sections(raw)]
    assert secs == [
        ("I. INTRODUCTION", "intro"), ("II. RELATED WORK", "related"), ("A. Graph Signals", "related"),
        ("III. IMPLEMENTATION OF THE LATTICE AGGREGATION BLOCK", "experiments"), ("A. Tokens", "experiments"),
        ("B. Mixer", "experiments"), ("IV. RESULTS", "results"),  # a table's "Method" header is no heading
    ]


def test_arxiv_stamp_notices_and_odd_even_heads_removed() -> None:
    heads = ("IEEE SIGNAL LETTERS FOR QUIET ROOMS, VOL. 9, 2026", "REED et al.: BRAIDED RESONANCE LATTICES")
    data = pdfgen.make_paper_pdf(TITLE, pages=5, running_header=heads, ieee_notices=True, arxiv_stamp=True)
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        printed = "".join(page.get_text() for page in doc)
        assert doc.page_count == 5
    for piece in (heads[0], heads[1], "arXiv:2611.04242v1", "Manuscript received", "Personal use", "Marsh University"):
        assert piece in printed  # the generator really printed them...
    text = extract_pdf_text(data)
    for piece in (heads[0], heads[1], "arXiv:2611.04242v1", "Manuscript received", "Personal use", "Marsh University"):
        assert piece not in text  # ...and extraction leaves them out
    assert pdfgen.INTRO_MARKER in flat(text) and pdfgen.METHOD_MARKER in flat(text)


def test_inline_ieee_abstract_is_the_abstract_and_not_capped() -> None:
    body = " ".join(["The lattice separates overlapped talkers in reverberant rooms."] * 40)
    # The PDF's base-14 font has no em dash; "Abstract." is the same rule (LNCS style), the dash is checked below.
    secs = [("", "Abstract. " + body), ("I. INTRODUCTION", pdfgen.INTRO_MARKER), ("II. METHOD", pdfgen.METHOD_MARKER)]
    raw = extract_pdf_text(pdfgen.make_paper_pdf(TITLE, secs, references=False, running_header=None))
    for text_in in (raw, raw.replace("Abstract. ", "Abstract—")):
        abstract = [s for s in _split_sections(text_in) if s.kind == "abstract"]
        assert len(abstract) == 1 and len(abstract[0].body) > 2000
        text, _ = prepare_text(text_in, 60000)
        assert body in flat(text)


def _lines_pdf(lines: list[str]) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    for i, line in enumerate(lines):
        page.insert_text((72, 80 + 12 * i), line, fontsize=10)
    return doc.tobytes()


def test_compound_hyphens_kept_broken_words_joined() -> None:
    lines = [
        "We train an end-", "to-end model for text-", "to-speech with self-", "attention and a time-",
        "domain loss; speech recog-", "nition improves, and the feed-", "forward block is small.",
        "The feedforward block and the attention stay fixed while the widely-",
        "used baseline is a GMM-", "based system with an i-", "vector front end and a post-",
        "processing step that uses processing power for models; mod-", "els are small. A post hoc test.",
    ]
    text = flat(extract_pdf_text(_lines_pdf(lines)))
    for whole in ("end-to-end", "text-to-speech", "self-attention", "time-domain", "widely-used", "GMM-based",
                  "i-vector", "post-processing"):
        assert whole in text, whole
    # Broken words are joined, and the document's own "feedforward" decides that pair.
    for joined in ("recognition", "the feedforward block is small", "models are small"):
        assert joined in text, joined
    assert "recog-" not in text and "mod-" not in text


def test_control_characters_removed() -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    for i in range(12):
        page.insert_text((72, 80 + 12 * i), f"Line {i} of math \x00\x01\x13 glyphs the font could not name.")
    text = extract_pdf_text(doc.tobytes())
    assert "Line 3 of math" in text
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]", text)
    html = extract_html_text("<p>" + "math \x00 glyph \x07 " * 80 + "</p>")
    assert "\x00" not in html and "\x07" not in html


def test_oversized_related_work_is_trimmed_not_dropped() -> None:
    # The method's heading was lost (say, an odd layout): "related work" swallowed most of the paper.
    raw = "\n".join(["1 Introduction", "intro " * 100, "2 Related Work", "prior " * 100, "SWALLOWED " * 900,
                     "3 Results", "RESULTCORE " * 200])
    text, dropped = prepare_text(raw, 3000)
    assert "SWALLOWED" in text and "RESULTCORE" in text and dropped == []


def test_numbered_references_count_whatever_the_numbering() -> None:
    raw = "\n".join(["1 Introduction", "intro " * 20, "2 Method", "m " * 20, "3 Experiments", "e " * 20,
                     "9 References", "[1] A cited paper about reeds."])
    text, dropped = prepare_text(raw, 60000)
    assert "cited paper" not in text and dropped == ["9 References"]


def test_short_capital_heading_in_title_case_paper_and_unnumbered_papers() -> None:
    raw = "\n".join(["1 Introduction", "i " * 20, "2 Related Work", "r " * 300, "3 CTC", "CTCCORE " * 100,
                     "4 Results", "x " * 20])
    assert [s.heading for s in _split_sections(raw)][-2:] == ["3 CTC", "4 Results"]
    unnumbered = "\n".join(["Introduction", "i " * 20, "Related Work", "r " * 300, "Proposed Method",
                            "METHODCORE " * 300, "Experimental Setup", "x " * 20, "Model", "y " * 5])
    kinds = [(s.heading, s.kind) for s in _split_sections(unnumbered)]
    assert ("Proposed Method", "method") in kinds and ("Experimental Setup", "experiments") in kinds
    text, dropped = prepare_text(unnumbered, 1500)
    assert "METHODCORE" in text and dropped == ["Related Work"]
