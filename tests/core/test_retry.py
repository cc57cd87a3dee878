"""The one retry policy (tenacity underneath) that arXiv, PDF and model calls share."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from digest.core.retry import RetryPolicy, retry_after_seconds


class Flaky(Exception):
    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__("flaky")
        self.retry_after = retry_after


class Fatal(Exception):
    pass


def test_backoff_doubles_honours_retry_after_and_is_capped() -> None:
    policy = RetryPolicy(5, backoff_seconds=1.0, max_wait_seconds=10, backoff_cap_seconds=3)
    assert [policy.delay(n) for n in range(4)] == [1.0, 2.0, 3.0, 3.0]
    assert policy.delay(0, retry_after=7.5) == 7.5  # the server's wait beats the backoff cap
    assert policy.delay(0, retry_after=3600) == 10  # but never more than max_wait


def test_sync_call_retries_then_returns_and_reports_each_wait() -> None:
    failures = [Flaky(), Flaky(retry_after=4.0)]
    sleeps: list[float] = []
    notes: list[tuple[str, float]] = []

    def fn() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    got = RetryPolicy(3, 0.5).call(fn, retry_if=lambda e: isinstance(e, Flaky), sleep=sleeps.append,
                                   on_retry=lambda e, w: notes.append((str(e), w)))
    assert got == "ok" and sleeps == [0.5, 4.0] and notes == [("flaky", 0.5), ("flaky", 4.0)]


def test_budget_spent_raises_the_last_error_and_refused_errors_are_not_retried() -> None:
    calls = []

    def always() -> None:
        calls.append(1)
        raise Flaky()

    with pytest.raises(Flaky):
        RetryPolicy(3, 0.0).call(always, retry_if=lambda e: isinstance(e, Flaky), sleep=lambda s: None)
    assert len(calls) == 3

    def fatal() -> None:
        calls.append(1)
        raise Fatal()

    with pytest.raises(Fatal):
        RetryPolicy(3, 0.0).call(fatal, retry_if=lambda e: isinstance(e, Flaky), sleep=lambda s: None)
    assert len(calls) == 4


def test_async_call() -> None:
    failures = [Flaky(), Flaky()]
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    async def fn() -> int:
        if failures:
            raise failures.pop(0)
        return 7

    got = asyncio.run(RetryPolicy(3, 1.0).acall(fn, retry_if=lambda e: isinstance(e, Flaky), sleep=sleep))
    assert got == 7 and sleeps == [1.0, 2.0]


def test_retry_after_header_forms() -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds("") is None and retry_after_seconds("nan") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now=now) == 30.0
