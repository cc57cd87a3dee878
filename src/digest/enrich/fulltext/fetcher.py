"""A paper's prepared full text: the cached PDF, else a download, else arXiv's HTML rendering."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

import httpx

from digest.core.config import FulltextConfig
from digest.core.files import atomic_write_bytes, safe_file_name
from digest.enrich.fulltext.download import Downloader, HttpSource, Pacing, own_client
from digest.enrich.fulltext.errors import FullTextError
from digest.enrich.fulltext.html import html_to_text
from digest.enrich.fulltext.pdf import pdf_to_text
from digest.enrich.textworker import TextWorker, WorkerCrashed, WorkerTimedOut

# arXiv's HTML page of a paper that failed to convert is short boilerplate, not the paper.
MIN_HTML_CHARS = 1000


class UrlTemplates(Protocol):
    """Where a paper's PDF and HTML are, with `{id}` for its versioned id (the arxiv config section is one)."""

    @property
    def pdf_download_url(self) -> str: ...

    @property
    def html_download_url(self) -> str: ...


@dataclass
class FullText:
    """Prepared paper text and where it came from."""

    text: str
    extracted_chars: int
    source: str  # "pdf" | "html"
    downloaded: bool  # False when served from the cache
    sections_dropped: list[str] = field(default_factory=list)


def pdf_cache_path(cache_dir: Path, paper_id: str) -> Path:
    """Where a paper version's PDF is kept: one rule for the fetcher and for cache retention."""
    return cache_dir / "pdf" / f"{safe_file_name(paper_id)}.pdf"


def html_cache_path(cache_dir: Path, paper_id: str) -> Path:
    """Where a paper version's HTML page is kept."""
    return cache_dir / "html" / f"{safe_file_name(paper_id)}.html"


class FullTextFetcher:
    """Gets a paper's prepared full text: cached PDF, else download, else arXiv's HTML rendering.

    `http` is a client the caller owns, or a transport (the fetcher then builds its own client and closes it
    in `aclose`), or None for a real network client. Use `async with` to have both client and worker closed.
    """

    def __init__(
        self,
        settings: FulltextConfig,
        urls: UrlTemplates,
        cache_dir: Path,
        *,
        http: HttpSource = None,
        worker: TextWorker | None = None,
        pacing: Pacing | None = None,
    ) -> None:
        self.settings = settings
        self.urls = urls
        self.cache_dir = Path(cache_dir)
        self._own_client = not isinstance(http, httpx.AsyncClient)
        client = http if isinstance(http, httpx.AsyncClient) else own_client(http)
        self.downloader = Downloader(settings, client, pacing)
        self._own_worker = worker is None
        self.worker = worker or TextWorker()

    @property
    def downloads(self) -> int:
        """Completed network downloads."""
        return self.downloader.downloads

    @property
    def bytes_received(self) -> int:
        """Body bytes read from the network, all attempts."""
        return self.downloader.bytes_received

    def pdf_path(self, paper_id: str) -> Path:
        """The cached PDF of a paper version."""
        return pdf_cache_path(self.cache_dir, paper_id)

    def html_path(self, paper_id: str) -> Path:
        """The cached HTML page of a paper version."""
        return html_cache_path(self.cache_dir, paper_id)

    async def get(self, paper_id: str) -> FullText:
        """Prepared text of one paper (versioned id); raises FullTextError with a reason for the post."""
        max_chars = self.settings.max_chars
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

    async def _work(
        self, fn: Callable[[bytes, int], tuple[str, int, list[str]]], data: bytes, max_chars: int
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

    async def aclose(self) -> None:
        """Stop the worker and close the HTTP client, each only if this fetcher made it."""
        await asyncio.to_thread(self.close)
        if self._own_client:
            await self.downloader.http.aclose()

    async def __aenter__(self) -> FullTextFetcher:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _pdf_bytes(self, paper_id: str) -> tuple[bytes, bool]:
        path = self.pdf_path(paper_id)
        if path.is_file():
            return await asyncio.to_thread(path.read_bytes), False
        data = await self.downloader.get(self.urls.pdf_download_url.format(id=paper_id), "PDF")
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
        return await self.downloader.get(self.urls.html_download_url.format(id=paper_id), "HTML"), True
