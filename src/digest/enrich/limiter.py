"""Adaptive concurrency for model calls: fewer calls in flight after a 429, slowly more after successes.

A provider that serves fewer parallel calls than `llm.concurrency` answers 429 to the calls beyond its
limit. Each 429 lowers our limit to the calls still in flight besides the refused one (what the provider
evidently serves), and by at least one; a run of successes (two rounds, at least 8) raises it by one, never
past the configured maximum and never below one. A Retry-After pauses every new call, not just the refused one.

Use:

    async with limiter:
        try:
            answer = await call()
        except RateLimited as exc:
            limiter.rate_limited(exc.retry_after)   # inside or after the `async with`, same task
            ...retry...
        else:
            limiter.succeeded()
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from dataclasses import dataclass


@dataclass
class _Slot:
    limiter: AdaptiveLimiter
    held: bool = True


MIN_GROW_AFTER = 8

# The slot the current task took last, so rate_limited() knows whether its own call is still counted.
_current: contextvars.ContextVar[_Slot | None] = contextvars.ContextVar("digest_adaptive_slot", default=None)


class AdaptiveLimiter:
    """An asyncio concurrency limit between 1 and `maximum` that shrinks on 429s and grows on successes."""

    def __init__(
        self,
        maximum: int,
        *,
        start: int | None = None,
        grow_after: int | None = None,
        max_pause_seconds: float = 60.0,
    ) -> None:
        """`grow_after`: consecutive successes per +1 (default: two rounds at the current limit, at least 8)."""
        if maximum < 1:
            raise ValueError(f"maximum must be at least 1, got {maximum}")
        self.maximum = maximum
        self.limit = max(1, min(maximum, start if start is not None else maximum))
        self.grow_after = grow_after
        self.max_pause_seconds = max_pause_seconds
        self.in_flight = 0
        self.peak_in_flight = 0
        self.lowest_limit = self.limit
        self.rejections = 0  # rate_limited() calls
        self.successes = 0  # succeeded() calls
        self._streak = 0
        self._resume_at = 0.0  # loop time before which no new call starts (Retry-After)
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    # -- acquiring and releasing a slot

    async def __aenter__(self) -> AdaptiveLimiter:
        loop = asyncio.get_running_loop()
        if not self._waiters and self.in_flight < self.limit and loop.time() >= self._resume_at:
            self._take()
        else:
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            self._arm_timer()
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._give_back()  # the slot was handed over just as we were cancelled
                elif fut in self._waiters:  # _wake() drops cancelled waiters it meets on its own
                    self._waiters.remove(fut)
                raise
        _current.set(_Slot(self))
        return self

    async def __aexit__(self, *exc: object) -> None:
        slot = _current.get()
        if slot is not None and slot.limiter is self:
            slot.held = False
        self._give_back()

    def _take(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _give_back(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        """Hand free slots to waiters in arrival order (a handed slot is already counted as taken)."""
        try:
            now = asyncio.get_running_loop().time()
        except RuntimeError:
            return
        if now < self._resume_at:
            self._arm_timer()
            return
        while self._waiters and self.in_flight < self.limit:
            fut = self._waiters.popleft()
            if fut.done():
                continue
            self._take()
            fut.set_result(None)

    def _arm_timer(self) -> None:
        loop = asyncio.get_running_loop()
        if self._timer is not None or loop.time() >= self._resume_at:
            return

        def fire() -> None:
            self._timer = None
            self._wake()

        # A hair late rather than early: the loop may run a timer up to its clock resolution ahead.
        self._timer = loop.call_at(self._resume_at + 1e-3, fire)

    # -- feedback from the calls

    def rate_limited(self, retry_after: float | None = None) -> None:
        """A call was answered 429: shrink to what the provider evidently serves; honour Retry-After for all."""
        self.rejections += 1
        self._streak = 0
        slot = _current.get()
        mine = slot is not None and slot.limiter is self and slot.held
        others = self.in_flight - (1 if mine else 0)
        self.limit = max(1, min(self.limit - 1, others))
        self.lowest_limit = min(self.lowest_limit, self.limit)
        if retry_after is not None and retry_after > 0:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._resume_at = max(self._resume_at, loop.time() + min(retry_after, self.max_pause_seconds))
            if self._timer is not None:  # re-arm for the later time
                self._timer.cancel()
                self._timer = None
            if self._waiters:
                self._arm_timer()

    def succeeded(self) -> None:
        """A call was answered: after enough successes in a row, allow one more call in flight."""
        self.successes += 1
        self._streak += 1
        # Each step above the provider's limit costs a 429; at a low limit two rounds come quickly, hence the floor.
        needed = self.grow_after if self.grow_after is not None else max(MIN_GROW_AFTER, 2 * self.limit)
        if self._streak >= needed and self.limit < self.maximum:
            self.limit += 1
            self._streak = 0
            self._wake()
