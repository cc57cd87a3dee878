"""A paper's full text for the deep read: download the PDF (or arXiv's HTML), extract and trim it to a budget."""

from __future__ import annotations

import asyncio
import functools
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx

from . import USER_AGENT
from .config import Config
from .fsutil import atomic_write_bytes, safe_file_name
from .models import RETRY_NOTE
from .textworker import TextWorker, WorkerCrashed, WorkerTimedOut

if TYPE_CHECKING:
    import pymupdf

MAX_REDIRECTS = 5
# A text layer thinner than this is a scan with at most a stray caption or page number.
MIN_TEXT_CHARS = 200
# arXiv's HTML page of a paper that failed to convert is short boilerplate, not the paper.
MIN_HTML_CHARS = 1000


@functools.cache
def _pdf_library() -> ModuleType:
    """PyMuPDF, imported on first use: in the text worker process, never in the one that sends model calls."""
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)  # our own messages say what went wrong; keep stderr clean
    return pymupdf


class FullTextError(Exception):
    """The full text could not be had; `.reason` is plain Chinese for the post."""

    def __init__(self, problem: str, *, retryable: bool = True) -> None:
        self.problem = problem
        self.retryable = retryable
        self.reason = problem + RETRY_NOTE if retryable else problem
        super().__init__(self.reason)

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in the worker process: keep `retryable` across the pickle (the default keeps only args).
        return (_fulltext_error, (self.problem, self.retryable))


def _fulltext_error(problem: str, retryable: bool) -> FullTextError:
    return FullTextError(problem, retryable=retryable)


@dataclass
class FullText:
    """Prepared paper text and where it came from."""

    text: str
    extracted_chars: int
    source: str  # "pdf" | "html"
    downloaded: bool  # False when served from the cache
    sections_dropped: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- PDF text extraction

_MARGIN_SHARE = 0.08  # top and bottom share of the page where running headers and page numbers live
_BARE_NUMBER = re.compile(r"^\s*(\d{1,4}|[ivxlc]{1,6}|page \d+( of \d+)?|\d+\s*/\s*\d+)\s*$", re.I)
_HYPHEN_END = re.compile(r"[A-Za-z]-$")


@dataclass
class _Line:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


def _page_lines(page: pymupdf.Page) -> list[_Line]:
    out: list[_Line] = []
    for block in page.get_text("dict")["blocks"]:
        for line in block.get("lines", []):
            text = "".join(span["text"] for span in line["spans"]).strip()
            if text:
                x0, y0, x1, y1 = line["bbox"]
                out.append(_Line(x0, y0, x1, y1, text))
    return out


def _reading_order(lines: list[_Line], width: float) -> list[_Line]:
    """Left column before right column, band by band between full-width lines (titles, wide figures)."""
    mid = width / 2
    slack = width * 0.01
    right = [ln for ln in lines if ln.x0 >= mid - slack]
    if len(right) < 3:  # one column: top to bottom
        return sorted(lines, key=lambda ln: (round(ln.y0), ln.x0))
    ordered: list[_Line] = []
    left_band: list[_Line] = []
    right_band: list[_Line] = []

    def flush() -> None:
        ordered.extend(sorted(left_band, key=lambda ln: ln.y0))
        ordered.extend(sorted(right_band, key=lambda ln: ln.y0))
        left_band.clear()
        right_band.clear()

    for ln in sorted(lines, key=lambda ln: (ln.y0, ln.x0)):
        if ln.x1 <= mid + slack:
            left_band.append(ln)
        elif ln.x0 >= mid - slack:
            right_band.append(ln)
        else:
            flush()
            ordered.append(ln)
    flush()
    return ordered


def _margin_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.strip().lower())


def _with_paragraph_breaks(lines: list[_Line]) -> list[str]:
    """Line texts, with an empty line where the vertical gap or a column jump says a paragraph ended."""
    out: list[str] = []
    prev: _Line | None = None
    for ln in lines:
        if prev is not None:
            height = max(prev.y1 - prev.y0, 1.0)
            gap = ln.y0 - prev.y1
            if gap > 0.2 * height or gap < -height:
                out.append("")
        out.append(ln.text)
        prev = ln
    return out


def _join_hyphens(lines: list[str]) -> list[str]:
    """Undo end-of-line hyphenation: 'recog-' + 'nition' -> 'recognition' (also across columns and pages)."""
    out: list[str] = []
    for text in lines:
        if out and text and text[0].islower():
            # Look back over paragraph breaks the column or page jump may have inserted.
            j = len(out) - 1
            while j >= 0 and out[j] == "" and j >= len(out) - 2:
                j -= 1
            if j >= 0 and _HYPHEN_END.search(out[j]):
                out[j] = out[j][:-1] + text
                del out[j + 1 :]
                continue
        out.append(text)
    return out


def extract_pdf_text(data: bytes) -> str:
    """Text of a PDF in reading order, without running headers, page numbers or line-end hyphens."""
    if not data:
        raise FullTextError("PDF 文件为空（0 字节）")
    if not data.lstrip()[:5] == b"%PDF-":
        raise FullTextError("下载的内容不是 PDF（可能是错误页面）")
    try:
        doc = _pdf_library().open(stream=data, filetype="pdf")
    except Exception:  # PyMuPDF raises several types for broken files; all mean the same here
        raise FullTextError("PDF 文件损坏，无法打开") from None
    try:
        if doc.needs_pass or doc.is_encrypted:
            raise FullTextError("PDF 已加密，无法提取文字", retryable=False)
        if doc.page_count == 0:
            raise FullTextError("PDF 没有页面")
        pages: list[tuple[list[_Line], float, float]] = []
        try:
            for page in doc:
                pages.append((_page_lines(page), page.rect.width, page.rect.height))
        except Exception:
            raise FullTextError("PDF 文件损坏，无法读取页面内容") from None
    finally:
        doc.close()

    # Running headers/footers: the same text (digits ignored) in the page margins on many pages.
    margin_counts: Counter[str] = Counter()
    for lines, _w, h in pages:
        seen = {_margin_key(ln.text) for ln in lines if ln.y1 < h * _MARGIN_SHARE or ln.y0 > h * (1 - _MARGIN_SHARE)}
        margin_counts.update(seen)
    repeat_floor = max(2, (len(pages) + 1) // 2)

    text_lines: list[str] = []
    for lines, w, h in pages:
        kept = []
        for ln in lines:
            in_margin = ln.y1 < h * _MARGIN_SHARE or ln.y0 > h * (1 - _MARGIN_SHARE)
            if in_margin and (_BARE_NUMBER.match(ln.text) or margin_counts[_margin_key(ln.text)] >= repeat_floor):
                continue
            kept.append(ln)
        if text_lines:
            text_lines.append("")
        text_lines.extend(_with_paragraph_breaks(_reading_order(kept, w)))
    text = "\n".join(_join_hyphens(text_lines))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(re.sub(r"\s", "", text)) < MIN_TEXT_CHARS:
        raise FullTextError("PDF 无文字层（扫描件），无法提取文字", retryable=False)
    return text


# ---------------------------------------------------------------- HTML text extraction

_SKIP_TAGS = {"script", "style", "nav", "noscript", "template", "svg", "head", "button", "annotation-xml"}
_BLOCK_TAGS = {
    "p", "div", "section", "article", "br", "li", "ul", "ol", "tr", "table", "figure", "figcaption",
    "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "header", "footer", "dd", "dt",
}  # fmt: skip


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "math":
            # MathML spells formulas token by token; its TeX alttext reads far better in a prompt.
            alt = dict(attrs).get("alttext")
            if alt and not self.skip_depth:
                self.parts.append(f" ${alt}$ ")
            self.skip_depth += 1
        elif tag in _SKIP_TAGS:
            self.skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS or tag == "math":
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.parts.append(data)


def extract_html_text(html: str) -> str:
    """Visible text of an HTML page (script, style and navigation skipped), one block per paragraph."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    blocks = ("".join(parser.parts)).split("\n\n")
    cleaned = [" ".join(b.split()) for b in blocks]
    return "\n\n".join(b for b in cleaned if b)


# ---------------------------------------------------------------- preparing the text for the prompt

_NUMBERED = re.compile(r"^(?P<num>\d{1,2}\.?|[IVX]{1,5}\.)\s+(?P<name>[A-Z][A-Za-z0-9 ,:&/'()\-–]{1,70})$")
_LETTERED = re.compile(r"^(?P<num>[A-H]\.?)\s+(?P<name>[A-Z][A-Za-z0-9 ,:&/'()\-–]{1,70})$")
_NAMED = re.compile(
    r"^(abstract|introduction|related work|background|conclusions?|discussion|limitations|references|"
    r"bibliography|acknowledge?ments?|appendix(\s+[A-Z0-9]+)?(\.|:)?(\s+.*)?|supplementary material)\s*:?$",
    re.I,
)

_KINDS: list[tuple[str, tuple[str, ...]]] = [
    ("abstract", ("abstract",)),
    ("references", ("references", "bibliography")),
    ("ack", ("acknowledg",)),
    ("appendix", ("appendix", "supplementary")),
    ("intro", ("introduction",)),
    ("related", ("related work", "background", "prior work", "literature", "preliminar")),
    ("conclusion", ("conclusion", "summary", "future work", "limitation")),
    ("results", ("result", "analysis", "ablation", "discussion", "comparison")),
    ("experiments", ("experiment", "evaluation", "setup", "dataset", "data", "implementation", "training")),
    ("method", ("method", "approach", "model", "architecture", "framework", "proposed", "system", "formulation")),
]


@dataclass
class _Section:
    heading: str  # "" for the text before the first heading (title, authors)
    kind: str
    body: str

    def render(self) -> str:
        return f"{self.heading}\n\n{self.body}".strip() if self.heading else self.body.strip()


def _kind(heading: str) -> str:
    low = heading.lower()
    for kind, words in _KINDS:
        if any(w in low for w in words):
            return kind
    return "other"


def _heading(line: str, after_refs: bool) -> bool:
    s = line.strip()
    if len(s) > 80 or s.endswith((".", ",", ";")) and not _NAMED.match(s):
        return False
    if _NAMED.match(s):
        return True
    m = _NUMBERED.match(s)
    if m:
        words = m.group("name").split()
        return len(words) <= 10 and not s.endswith(".")
    # Lettered headings ("A Proofs") are appendix sections when they follow the references.
    return after_refs and bool(_LETTERED.match(s)) and len(s.split()) <= 10


def _reflow(lines: list[str]) -> str:
    paras: list[str] = []
    cur: list[str] = []
    for ln in lines:
        if ln.strip():
            cur.append(ln.strip())
        elif cur:
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    return "\n\n".join(paras)


def _split_sections(text: str) -> list[_Section]:
    sections: list[_Section] = []
    heading, kind, buf = "", "front", list[str]()
    after_refs = False
    for line in text.splitlines():
        if line.strip() and _heading(line, after_refs):
            sections.append(_Section(heading, kind, _reflow(buf)))
            heading, buf = " ".join(line.split()), []
            kind = _kind(heading)
            if kind == "references":
                after_refs = True
            elif after_refs and kind not in ("ack",):
                kind = "appendix"  # whatever follows the references is supplementary
            continue
        buf.append(line)
    sections.append(_Section(heading, kind, _reflow(buf)))
    return [s for s in sections if s.heading or s.body]


def _truncate(body: str, limit: int) -> str:
    if len(body) <= limit:
        return body
    if limit < 20:
        return ""
    cut = body[: limit - 1]
    # End on a sentence or word boundary when one is close.
    for sep in ("。", ". ", " "):
        pos = cut.rfind(sep)
        if pos > limit * 0.7:
            cut = cut[: pos + len(sep)].rstrip()
            break
    return cut + "…"


def _joined(sections: list[_Section]) -> str:
    return "\n\n".join(s.render() for s in sections if s.render())


def prepare_text(text: str, max_chars: int) -> tuple[str, list[str]]:
    """Split into sections, drop references/acknowledgements, then what matters least until it fits max_chars."""
    sections = _split_sections(text)
    dropped: list[str] = []
    kept: list[_Section] = []
    for s in sections:
        if s.kind in ("references", "ack"):
            dropped.append(s.heading)
        else:
            kept.append(s)
    # The title/author block only needs its first lines.
    for s in kept:
        if s.kind == "front":
            s.body = _truncate(s.body, 1500)

    # Drop whole sections, least useful first: appendix, then related work/background.
    for kind in ("appendix", "related"):
        if len(_joined(kept)) <= max_chars:
            break
        for s in [s for s in kept if s.kind == kind][::-1]:
            if len(_joined(kept)) <= max_chars:
                break
            kept.remove(s)
            dropped.append(s.heading)

    # Still too long: trim the longest bodies to a common cap, so short sections (abstract, conclusion) stay whole.
    total = len(_joined(kept))
    if total > max_chars and kept:
        overhead = total - sum(len(s.body) for s in kept)
        room = max(0, max_chars - overhead)
        lengths = sorted(len(s.body) for s in kept)
        cap, used, n = 0, 0, len(lengths)
        for i, length in enumerate(lengths):
            remaining = n - i
            if used + length * remaining > room:
                cap = (room - used) // remaining
                break
            used += length
        else:
            cap = lengths[-1]
        for s in kept:
            s.body = _truncate(s.body, cap)

    out = _joined(kept)
    if len(out) > max_chars:  # headings alone overflow a tiny budget: cut hard, it is a hard limit
        out = out[: max_chars - 1].rstrip() + "…"
    return out, [d for d in dropped if d]


def pdf_to_text(data: bytes, max_chars: int) -> tuple[str, int, list[str]]:
    """The worker's PDF job: prepared text, characters extracted, sections dropped for the budget."""
    raw = extract_pdf_text(data)
    text, dropped = prepare_text(raw, max_chars)
    return text, len(raw), dropped


def html_to_text(data: bytes, max_chars: int) -> tuple[str, int, list[str]]:
    """The worker's HTML job, same shape as pdf_to_text."""
    raw = extract_html_text(data.decode("utf-8", errors="replace"))
    text, dropped = prepare_text(raw, max_chars)
    return text, len(raw), dropped


# ---------------------------------------------------------------- downloading


class _Fail(Exception):
    """One download attempt failed; `retry` says whether another attempt may help."""

    def __init__(self, problem: str, *, retry: bool, retryable: bool = True) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry = retry
        self.retryable = retryable


class FullTextFetcher:
    """Gets a paper's prepared full text: cached PDF, else download, else arXiv's HTML rendering."""

    def __init__(
        self,
        cfg: Config,
        http: httpx.AsyncClient,
        cache_dir: Path,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff_seconds: float = 1.0,
        worker: TextWorker | None = None,
    ) -> None:
        self.cfg = cfg
        self.http = http
        self._own_worker = worker is None
        self.worker = worker or TextWorker()
        self.cache_dir = Path(cache_dir)
        self.sleep = sleep
        self.backoff_seconds = backoff_seconds
        self.downloads = 0  # completed network downloads
        self.bytes_received = 0  # body bytes read from the network, all attempts
        self._sem = asyncio.Semaphore(cfg.fulltext.download_concurrency)
        self._cap = int(cfg.fulltext.max_pdf_mb * 1024 * 1024)

    def pdf_path(self, paper_id: str) -> Path:
        return self.cache_dir / "pdf" / f"{safe_file_name(paper_id)}.pdf"

    def html_path(self, paper_id: str) -> Path:
        return self.cache_dir / "html" / f"{safe_file_name(paper_id)}.html"

    async def get(self, paper_id: str) -> FullText:
        """Prepared text of one paper (versioned id); raises FullTextError with a reason for the post."""
        max_chars = self.cfg.fulltext.max_chars
        try:
            data, downloaded = await self._pdf_bytes(paper_id)
            try:
                text, extracted, dropped = await self._work(pdf_to_text, data, max_chars)
            except FullTextError as exc:
                if exc.retryable:
                    # The post promises a retry: a cached broken copy would fail the next run the same way.
                    self.pdf_path(paper_id).unlink(missing_ok=True)
                raise
            return FullText(text, extracted, "pdf", downloaded, dropped)
        except FullTextError as pdf_error:
            primary = pdf_error
        try:
            data, downloaded = await self._html_bytes(paper_id)
        except FullTextError:
            raise FullTextError(primary.problem + "，HTML 版本也不可用", retryable=primary.retryable) from None
        text, extracted, dropped = await self._work(html_to_text, data, max_chars)
        if extracted < MIN_HTML_CHARS:
            raise FullTextError(primary.problem + "，HTML 版本也没有正文", retryable=True)
        if downloaded:
            await asyncio.to_thread(atomic_write_bytes, self.html_path(paper_id), data)
        return FullText(text, extracted, "html", downloaded, dropped)

    async def _work(self, fn: Callable[..., tuple[str, int, list[str]]], data: bytes, max_chars: int
                    ) -> tuple[str, int, list[str]]:
        try:
            return await self.worker.run(fn, data, max_chars)
        except WorkerTimedOut:
            raise FullTextError(f"提取文字超过 {self.worker.timeout:g} 秒仍未完成，已中止") from None
        except WorkerCrashed:
            raise FullTextError("解析 PDF 的进程意外退出，无法提取文字") from None

    def close(self) -> None:
        """Stop the text worker process if this fetcher started it."""
        if self._own_worker:
            self.worker.close()

    async def _pdf_bytes(self, paper_id: str) -> tuple[bytes, bool]:
        path = self.pdf_path(paper_id)
        if path.is_file():
            return await asyncio.to_thread(path.read_bytes), False
        url = self.cfg.arxiv.pdf_download_url.format(id=paper_id)
        data = await self._download(url, "PDF")
        if not data:
            raise FullTextError("PDF 文件为空（0 字节）")
        if data.lstrip()[:5] != b"%PDF-":
            raise FullTextError("下载的 PDF 链接返回的不是 PDF（可能是错误页面）")
        await asyncio.to_thread(atomic_write_bytes, path, data)  # fsync off the event loop
        return data, True

    async def _html_bytes(self, paper_id: str) -> tuple[bytes, bool]:
        path = self.html_path(paper_id)
        if path.is_file():
            return await asyncio.to_thread(path.read_bytes), False
        url = self.cfg.arxiv.html_download_url.format(id=paper_id)
        return await self._download(url, "HTML"), True

    async def _download(self, url: str, what: str) -> bytes:
        """GET with retries and backoff on 5xx/timeouts/connection errors; no retry on 4xx."""
        retries = self.cfg.fulltext.max_retries
        last: _Fail | None = None
        async with self._sem:
            for attempt in range(retries + 1):
                if attempt:
                    await self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
                try:
                    data = await self._attempt(url, what)
                    self.downloads += 1
                    return data
                except _Fail as fail:
                    last = fail
                    if not fail.retry:
                        break
        assert last is not None
        note = f"，已重试 {retries} 次" if last.retry and retries else ""
        raise FullTextError(last.problem + note, retryable=last.retryable)

    async def _attempt(self, url: str, what: str) -> bytes:
        timeout = self.cfg.fulltext.timeout_seconds
        headers = {"User-Agent": USER_AGENT}
        current = httpx.URL(url)
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                async with self.http.stream(
                    "GET", current, headers=headers, timeout=timeout, follow_redirects=False
                ) as resp:
                    if resp.is_redirect and "location" in resp.headers:
                        current = current.join(resp.headers["location"])
                        continue
                    return await self._body(resp, what)
            raise _Fail(f"{what} 链接重定向超过 {MAX_REDIRECTS} 次（可能是重定向循环）", retry=False)
        except httpx.TimeoutException:
            raise _Fail(f"{what} 下载超时（{timeout:g} 秒）", retry=True) from None
        except httpx.TransportError as exc:
            raise _Fail(f"{what} 下载连接失败（{type(exc).__name__}）", retry=True) from None

    async def _body(self, resp: httpx.Response, what: str) -> bytes:
        status = resp.status_code
        if status in (404, 410):
            raise _Fail(f"{what} 尚未提供（HTTP {status}）", retry=False)
        if status in (401, 403):
            raise _Fail(f"{what} 下载被拒绝（HTTP {status}）", retry=False)
        if status == 429 or status >= 500:
            raise _Fail(f"{what} 下载失败（HTTP {status}）", retry=True)
        if status != 200:
            raise _Fail(f"{what} 下载失败（HTTP {status}）", retry=False)
        mb = f"{self.cfg.fulltext.max_pdf_mb:g}"
        length = resp.headers.get("content-length", "")
        if length.isdigit() and int(length) > self._cap:
            raise _Fail(f"{what} 超过 {mb} MB 上限", retry=False, retryable=False)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            self.bytes_received += len(chunk)
            if size > self._cap:
                raise _Fail(f"{what} 超过 {mb} MB 上限", retry=False, retryable=False)
            chunks.append(chunk)
        return b"".join(chunks)
