"""The adaptive limiter: shrinks on 429, grows back slowly, never leaves [1, maximum]; against a 4-call provider."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from digest.enrich.limiter import AdaptiveLimiter
from digest.fetch.arxiv import retry_after_seconds
from digest.standins.chat_server import ChatStandIn


def _run(coro):  # noqa: ANN001, ANN202 - test plumbing
    return asyncio.run(coro)


async def _hold(limiter: AdaptiveLimiter, entered: asyncio.Event, release: asyncio.Event) -> None:
    async with limiter:
        entered.set()
        await release.wait()


def test_a_429_shrinks_to_the_calls_still_in_flight() -> None:
    async def scenario() -> list[int]:
        limiter = AdaptiveLimiter(8)
        release = asyncio.Event()
        holders = []
        for _ in range(3):
            entered = asyncio.Event()
            holders.append(asyncio.create_task(_hold(limiter, entered, release)))
            await entered.wait()
        seen = []
        async with limiter:  # the 4th call is refused while 3 others run
            limiter.rate_limited()
        seen.append(limiter.limit)
        limiter.rate_limited()  # after the slot is given back, the 3 holders are still the others
        seen.append(limiter.limit)
        release.set()
        await asyncio.gather(*holders)
        return seen

    assert _run(scenario()) == [3, 2]


def test_limit_never_leaves_one_to_maximum_and_grows_after_successes() -> None:
    async def scenario() -> tuple[int, int, int, int]:
        limiter = AdaptiveLimiter(3, grow_after=2)
        for _ in range(10):
            limiter.rate_limited()
        lowest = limiter.limit
        limiter.succeeded()
        after_one = limiter.limit
        limiter.succeeded()
        after_two = limiter.limit
        for _ in range(20):
            limiter.succeeded()
        return lowest, after_one, after_two, limiter.limit

    assert _run(scenario()) == (1, 1, 2, 3)


def test_default_growth_needs_two_rounds_of_successes_and_at_least_eight() -> None:
    async def scenario(start: int, calls: int) -> list[int]:
        limiter = AdaptiveLimiter(16, start=start)
        limits = []
        for _ in range(calls):
            limiter.succeeded()
            limits.append(limiter.limit)
        return limits

    assert _run(scenario(6, 12)) == [6] * 11 + [7]
    assert _run(scenario(2, 8)) == [2] * 7 + [3]


def test_a_429_resets_the_success_streak() -> None:
    async def scenario() -> int:
        limiter = AdaptiveLimiter(8, start=4, grow_after=3)
        limiter.succeeded()
        limiter.succeeded()
        limiter.rate_limited()  # nothing else in flight: down to 1
        limiter.succeeded()
        limiter.succeeded()
        return limiter.limit

    assert _run(scenario()) == 1


def test_waiters_never_exceed_the_limit_and_all_finish() -> None:
    async def scenario() -> tuple[int, int]:
        limiter = AdaptiveLimiter(3)
        running = 0
        peak = 0

        async def work() -> None:
            nonlocal running, peak
            async with limiter:
                running += 1
                peak = max(peak, running)
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                running -= 1
                limiter.succeeded()

        await asyncio.gather(*(work() for _ in range(25)))
        return peak, limiter.in_flight

    assert _run(scenario()) == (3, 0)


def test_retry_after_holds_back_every_new_call() -> None:
    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        limiter = AdaptiveLimiter(4)
        async with limiter:
            limiter.rate_limited(0.2)
        refused_at = loop.time()
        async with limiter:
            return loop.time() - refused_at

    assert _run(scenario()) >= 0.2


def test_a_cancelled_waiter_does_not_keep_a_slot() -> None:
    async def scenario() -> tuple[int, int]:
        limiter = AdaptiveLimiter(1)
        release = asyncio.Event()
        entered = asyncio.Event()
        holder = asyncio.create_task(_hold(limiter, entered, release))
        await entered.wait()
        waiter = asyncio.create_task(_hold(limiter, asyncio.Event(), asyncio.Event()))
        await asyncio.sleep(0)
        waiter.cancel()
        release.set()
        await holder
        with pytest.raises(asyncio.CancelledError):
            await waiter
        async with limiter:
            inside = limiter.in_flight
        return inside, limiter.in_flight

    assert _run(scenario()) == (1, 0)


def test_maximum_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AdaptiveLimiter(0)


async def call_until_answered(http: httpx.AsyncClient, url: str, limiter: AdaptiveLimiter, n: int) -> int:
    """One chat call through the limiter, re-asked after each 429; returns how many 429s it met."""
    refused = 0
    body = {"model": "stand-in", "messages": [{"role": "user", "content": f"paper {n}"}]}
    while True:
        async with limiter:
            resp = await http.post(url, json=body)
            if resp.status_code == 429:
                refused += 1
                limiter.rate_limited(retry_after_seconds(resp.headers.get("retry-after")))
                continue
            resp.raise_for_status()
            limiter.succeeded()
            json.loads(resp.content)
            return refused


def test_a_provider_with_four_parallel_calls_gets_at_most_twelve_429s() -> None:
    # The count does not depend on speed: the provider refuses only while our limit is above 4, and the limit
    # climbs past 4 once per 8 successes at most.
    with ChatStandIn(latency=0.05, max_parallel=4) as chat:
        url = chat.base_url + "/chat/completions"

        async def day() -> list[int]:
            limiter = AdaptiveLimiter(8)
            async with httpx.AsyncClient(timeout=30) as http:
                return await asyncio.gather(*(call_until_answered(http, url, limiter, n) for n in range(40)))

        refused = _run(day())
        assert len(chat.calls) == 40  # every call answered once
        assert chat.peak_in_flight <= 4
        assert sum(refused) == chat.parallel_rejections
        # (A busy machine may let the first calls finish before the fifth arrives, so zero is allowed.)
        assert chat.parallel_rejections <= 12


def test_the_stand_in_refuses_a_fifth_parallel_call() -> None:
    import threading
    import time

    gate = threading.Event()

    def held(request: dict) -> str:
        gate.wait(30)
        return "好的"

    with ChatStandIn(held, max_parallel=4) as chat:
        chat.parallel_retry_after = "2"
        url = chat.base_url + "/chat/completions"
        body = {"model": "stand-in", "messages": [{"role": "user", "content": "x"}]}
        with httpx.Client(timeout=30) as http:
            threads = [threading.Thread(target=http.post, args=(url,), kwargs={"json": body}) for _ in range(4)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 30
            while chat.in_flight < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            fifth = http.post(url, json=body)
            gate.set()
            for t in threads:
                t.join()
        assert fifth.status_code == 429 and fifth.headers["retry-after"] == "2"
        assert chat.parallel_rejections == 1 and len(chat.calls) == 4
