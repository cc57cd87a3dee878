"""Everything that reaches outside the process, in one bundle every layer can take (tests swap any of it)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from digest.core.report import Reporter


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """The reporter, clocks, sleeps, environment and network clients of one command."""

    reporter: Reporter = field(default_factory=Reporter)
    clock: Callable[[], datetime] = _utc_now  # every timestamp in records, results and the lock
    sleep: Callable[[float], None] = time.sleep  # arXiv throttle and retries, lock waits
    async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # PDF and model retries
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    arxiv_http: httpx.Client | None = None  # built from config when None
    http: httpx.Client | None = None  # outputs that post somewhere (notify webhooks); each makes its own when None
    # An enrich.model.Model (core cannot name that type); the configured service (and its key) when None.
    model: object | None = None

    def now_iso(self) -> str:
        """The clock's time in UTC, to the second, as records store it."""
        return self.clock().astimezone(UTC).isoformat(timespec="seconds")
