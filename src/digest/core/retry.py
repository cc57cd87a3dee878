"""The one retry policy of every network call (arXiv, PDF host, model): exponential backoff, Retry-After honoured."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt

T = TypeVar("T")

# A wait this long looks like a hang when nothing is printed: the runs always show it (shorter ones with -v).
LONG_WAIT_SECONDS = 10.0


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (seconds or HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)  # the HTTP-date form
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` in all; before retry n (0-based) wait the server's Retry-After, else backoff * 2**n (at most
    backoff_cap_seconds); never more than max_wait_seconds.

    A retryable exception names the server's requested pause in its `retry_after` attribute (None: use backoff).
    """

    attempts: int
    backoff_seconds: float = 1.0
    max_wait_seconds: float = math.inf
    backoff_cap_seconds: float = math.inf

    def delay(self, retry_index: int, retry_after: float | None = None) -> float:
        """The pause before retry `retry_index` (0 for the first retry)."""
        backoff = min(self.backoff_cap_seconds, self.backoff_seconds * 2**retry_index)
        return min(self.max_wait_seconds, retry_after if retry_after is not None else backoff)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return self.delay(state.attempt_number - 1, getattr(exc, "retry_after", None))

    def _settings(
        self, retry_if: Callable[[BaseException], bool], on_retry: Callable[[BaseException, float], None] | None
    ) -> dict[str, Any]:
        """What the sync and the async tenacity loops share: stop, wait, which errors retry, the wait callback."""

        def before_sleep(state: RetryCallState) -> None:
            if on_retry is not None and state.outcome is not None and state.next_action is not None:
                exc = state.outcome.exception()
                assert exc is not None
                on_retry(exc, state.next_action.sleep)

        return {
            "stop": stop_after_attempt(max(1, self.attempts)),
            "wait": self._wait,
            "retry": retry_if_exception(retry_if),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def call(
        self,
        fn: Callable[[], T],
        *,
        retry_if: Callable[[BaseException], bool],
        sleep: Callable[[float], None],
        on_retry: Callable[[BaseException, float], None] | None = None,
    ) -> T:
        """Call fn until it returns, raises what retry_if refuses, or the attempts run out (then the last error)."""
        return Retrying(sleep=sleep, **self._settings(retry_if, on_retry))(fn)

    async def acall(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        retry_if: Callable[[BaseException], bool],
        sleep: Callable[[float], Awaitable[None]],
        on_retry: Callable[[BaseException, float], None] | None = None,
    ) -> T:
        """The async form of call()."""
        retrying = AsyncRetrying(sleep=sleep, **self._settings(retry_if, on_retry))

        async def attempt() -> T:
            # tenacity awaits only what a coroutine function returns: a lambda's coroutine must be awaited here.
            return await fn()

        return await retrying(attempt)
