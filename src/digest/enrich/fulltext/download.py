"""Downloading a paper's PDF or HTML: retries with backoff, a size limit, a bound on downloads at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from digest.core.config import FulltextConfig
from digest.core.http import USER_AGENT
from digest.core.retry import LONG_WAIT_SECONDS, RetryPolicy, retry_after_seconds
from digest.enrich.fulltext.errors import FullTextError

MAX_REDIRECTS = 5
RETRY_WAIT_CAP_SECONDS = 60.0  # a host asking for a longer pause gets this much, then the next attempt

# What the fetcher accepts as its HTTP: a client the caller owns, or a transport (httpx.MockTransport in tests)
# or nothing, and then the fetcher builds and closes its own client.
HttpSource = httpx.AsyncClient | httpx.AsyncBaseTransport | None


@dataclass(frozen=True)
class Pacing:
    """How downloads wait between attempts, and who is told about each wait."""

    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    backoff_seconds: float = 1.0
    on_wait: Callable[[str], None] | None = None  # told "PDF <url>: 503, retrying in 2 s (1/3)" before each backoff
    on_long_wait: Callable[[str], None] | None = None  # told the same for waits of LONG_WAIT_SECONDS or more


def own_client(transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    """A client for a fetcher that was given no client: the same User-Agent and redirect bound as any other."""
    return httpx.AsyncClient(transport=transport, headers={"User-Agent": USER_AGENT}, max_redirects=MAX_REDIRECTS)


class _Fail(Exception):
    """One download attempt failed; `retry` says whether another attempt may help."""

    def __init__(
        self, problem: str, *, retry: bool, retryable: bool = True, retry_after: float | None = None, label: str = ""
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.label = label  # what a wait line says the host did: "503", "timeout", "connection failed (…)"
        self.retry = retry
        self.retryable = retryable
        self.retry_after = retry_after  # the host's Retry-After, read by the retry policy


class Downloader:
    """GETs with retries on 5xx, 429, timeouts and broken connections; none on 4xx; at most max_pdf_mb read."""

    def __init__(self, settings: FulltextConfig, http: httpx.AsyncClient, pacing: Pacing | None = None) -> None:
        self.settings = settings
        self.http = http
        # httpx follows redirects; a loop must end after MAX_REDIRECTS hops whoever built the client.
        http.max_redirects = min(http.max_redirects, MAX_REDIRECTS)
        self.pacing = pacing or Pacing()
        self.downloads = 0  # completed network downloads
        self.bytes_received = 0  # body bytes read from the network, all attempts
        self._sem = asyncio.Semaphore(settings.download_concurrency)
        self._cap = int(settings.max_pdf_mb * 1024 * 1024)

    async def get(self, url: str, what: str) -> bytes:
        """The body at `url`; raises FullTextError saying what `what` ("PDF", "HTML") could not be had."""
        retries = self.settings.max_retries
        policy = RetryPolicy(retries + 1, self.pacing.backoff_seconds, max_wait_seconds=RETRY_WAIT_CAP_SECONDS)
        tries = [0]

        def waited(exc: BaseException, seconds: float) -> None:
            tries[0] += 1
            long_wait = seconds >= LONG_WAIT_SECONDS and self.pacing.on_long_wait
            tell = self.pacing.on_long_wait if long_wait else self.pacing.on_wait
            if tell is not None:
                label = exc.label if isinstance(exc, _Fail) and exc.label else str(exc)
                tell(f"{what} {url}: {label}, retrying in {seconds:.3g} s ({tries[0]}/{retries})")

        async with self._sem:
            try:
                data = await policy.acall(
                    lambda: self._attempt(url, what),
                    retry_if=lambda exc: isinstance(exc, _Fail) and exc.retry,
                    sleep=self.pacing.sleep,
                    on_retry=waited,
                )
            except _Fail as last:
                note = f"，已重试 {retries} 次" if last.retry and retries else ""
                raise FullTextError(last.problem + note, retryable=last.retryable) from None
        self.downloads += 1
        return data

    async def _attempt(self, url: str, what: str) -> bytes:
        timeout = self.settings.timeout_seconds
        headers = {"User-Agent": USER_AGENT}
        try:
            async with self.http.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as resp:
                return await self._body(resp, what)
        except httpx.TooManyRedirects:
            raise _Fail(f"{what} 链接重定向超过 {MAX_REDIRECTS} 次（可能是重定向循环）", retry=False) from None
        except httpx.TimeoutException:
            raise _Fail(f"{what} 下载超时（{timeout:g} 秒）", retry=True, label="timeout") from None
        except httpx.TransportError as exc:
            raise _Fail(f"{what} 下载连接失败（{type(exc).__name__}）", retry=True,
                        label=f"connection failed ({type(exc).__name__})") from None

    async def _body(self, resp: httpx.Response, what: str) -> bytes:
        status = resp.status_code
        if status in (404, 410):
            raise _Fail(f"{what} 尚未提供（HTTP {status}）", retry=False)
        if status in (401, 403):
            raise _Fail(f"{what} 下载被拒绝（HTTP {status}）", retry=False)
        if status == 429 or status >= 500:
            wait = retry_after_seconds(resp.headers.get("retry-after"))
            raise _Fail(f"{what} 下载失败（HTTP {status}）", retry=True, retry_after=wait, label=str(status))
        if status != 200:
            raise _Fail(f"{what} 下载失败（HTTP {status}）", retry=False)
        mb = f"{self.settings.max_pdf_mb:g}"
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
