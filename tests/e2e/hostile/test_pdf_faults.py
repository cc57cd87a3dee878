"""Bad PDFs through a full `digest run`: one paper gets the placeholder with a plain reason, the others are fine."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from digest.standins.base import Reply
from digest.standins.pdf_host import StreamReply
from digest.standins.pdfgen import make_paper_pdf

from .kit import HostileSite, assert_post_safe, base_pdf, is_deep_read, user_prompt

RETRY = "下次运行将重试"


def _corrupt() -> bytes:
    good = base_pdf()
    # A real header, then the middle of the file scrambled: objects and xref no longer make sense.
    return good[:9] + bytes((b * 7 + 13) % 256 for b in good[9:4000]) + b"\n%%EOF\n"


class CountedChunks(list[bytes]):
    """The stream's chunks, counting how many the server has taken to send."""

    taken = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        for chunk in super().__iter__():
            self.taken += 1
            yield chunk


STREAM_CHUNKS = 1000  # 64 MB: far past the 1 MB cap and past what socket buffers hold


def _oversize_stream() -> StreamReply:
    chunk = b"%PDF-1.7\n" + b"0" * (64 * 1024 - 9)
    # No delay between chunks: the cap is proven by how much of the stream was sent, not by a clock.
    return StreamReply(200, content_type="application/pdf", chunks=CountedChunks([chunk] * STREAM_CHUNKS))


CASES = {
    "zero-bytes": (lambda pid, host: host.put(pid, b""), "PDF 文件为空（0 字节）", True),
    "html-as-pdf": (
        lambda pid, host: host.route(f"/pdf/{pid}", Reply(200, b"<!DOCTYPE html><html><body>Sign in</body></html>",
                                                          "application/pdf")),
        "不是 PDF", True),
    "corrupt": (lambda pid, host: host.put(pid, _corrupt()), "PDF 文件损坏", True),
    "encrypted": (lambda pid, host: host.put(pid, make_paper_pdf("Locked paper", encrypt=True)), "PDF 已加密", False),
    "scanned": (lambda pid, host: host.put(pid, make_paper_pdf("Scanned paper", image_only=True)), "无文字层", False),
    "over-cap-streamed": (lambda pid, host: host.route(f"/pdf/{pid}", _oversize_stream()), "超过 1 MB 上限", False),
    "over-cap-declared": (
        lambda pid, host: host.route(f"/pdf/{pid}", Reply(200, b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024),
                                                          "application/pdf")),
        "超过 1 MB 上限", False),
    "slow-server": (lambda pid, host: host.route(f"/pdf/{pid}", Reply(200, base_pdf(), "application/pdf", delay=4)),
                    "PDF 下载超时（1 秒）", True),
    "redirect-loop": (
        lambda pid, host: host.route(f"/pdf/{pid}", Reply(302, b"", headers={"Location": f"/pdf/{pid}"})),
        "重定向", True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_pdf_gives_a_placeholder_and_the_rest_is_fine(tmp_path: Path, case: str) -> None:
    setup, reason, retried = CASES[case]
    with HostileSite(tmp_path, fulltext={"max_pdf_mb": 1, "timeout_seconds": 1, "max_retries": 0}) as site:
        bad, *good = [p.id for p in site.papers]
        setup(bad, site.host)
        proc = site.run()
        assert proc.returncode == 0, proc.stderr
        assert "failed 1" in proc.stderr and f"failed {bad}" in proc.stderr
        assert "Traceback" not in proc.stderr

        post = site.post
        assert_post_safe(post, 3)
        section = site.section(bad)
        placeholder = section.split('<div markdown="1">\n\n', 1)[1].split("\n</div>", 1)[0]
        assert placeholder.startswith("（全文解读失败：") and placeholder.endswith("）")
        assert reason in placeholder
        assert (RETRY in placeholder) == retried
        assert "Error" not in placeholder and "Exception" not in placeholder  # plain words, no class names
        entry = site.entry(bad)
        assert entry["status"] == "failed"
        assert entry["deep_read"]["status"] == "failed" and reason in entry["deep_read"]["error"]
        assert entry["translation"]["status"] == "done"  # the translation does not wait for the PDF
        for pid in good:
            assert site.entry(pid)["status"] == "done"
            assert "全文解读失败" not in site.section(pid)
        # the paper with the bad PDF never reached the model for a deep read
        deep_titles = [user_prompt(c) for c in site.chat.calls if is_deep_read(c)]
        assert len(deep_titles) == 2
        if retried:
            # a retry was promised: no broken copy may stay in the cache to fail the next run the same way
            assert not (site.dir / ".cache" / "digest" / "pdf" / f"{bad}.pdf").exists()
        if case == "over-cap-streamed":
            stream = site.host.special[f"/pdf/{bad}"].chunks
            assert isinstance(stream, CountedChunks)
            # A client that read on to the end would have taken every chunk; socket buffers hold a few MB at most.
            assert stream.taken < STREAM_CHUNKS, f"the download was not cut at the cap ({stream.taken} chunks sent)"
        if case in ("corrupt", "zero-bytes", "html-as-pdf"):
            site.host.special.clear()
            site.host.put(bad, base_pdf())
            again = site.run()
            assert again.returncode == 0, again.stderr
            assert site.entry(bad)["status"] == "done"
            assert "全文解读失败" not in site.post
            assert site.host.downloads[bad] >= 1


@pytest.fixture(scope="module")
def pdf_500_pages() -> bytes:
    # Copy a small generated paper's pages: laying out 500 pages from scratch takes minutes.
    src = pymupdf.open(stream=make_paper_pdf("A very long generated paper", pages=4), filetype="pdf")
    out = pymupdf.open()
    while out.page_count < 500:
        out.insert_pdf(src)
    out.select(list(range(500)))
    return out.tobytes()


def test_500_page_pdf_completes_within_the_budget(tmp_path: Path, pdf_500_pages: bytes) -> None:
    # The time a 500-page PDF takes is benchmarks/bench_fulltext.py's figure; here: it completes, within the text budget.
    with HostileSite(tmp_path, fulltext={"max_chars": 20000}) as site:
        big = site.papers[0].id
        site.host.put(big, pdf_500_pages)
        proc = site.run()
        assert proc.returncode == 0, proc.stderr
        assert "failed 0" in proc.stderr
        assert site.entry(big)["deep_read"]["status"] == "done"
        assert_post_safe(site.post, 3)
        big_title = site.papers[0].title
        prompt = next(user_prompt(c) for c in site.chat.calls if is_deep_read(c) and big_title in user_prompt(c))
        paper_text = prompt.split("\n<paper>\n", 1)[1].rsplit("\n</paper>", 1)[0]
        assert 15000 < len(paper_text) <= 20000 + 10
