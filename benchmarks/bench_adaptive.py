"""Adaptive concurrency against a provider that serves only a few calls at once and answers 429 beyond that.

    /work/venv/bin/python benchmarks/bench_adaptive.py [--calls 40] [--latency 1.0] [--provider-limit 4]

A 20-paper day makes 40 model calls. The chat stand-in serves `--provider-limit` of them at once (1 s each) and
answers 429 to the rest. The floor is ceil(calls / provider_limit) x latency; the target is 1.3 x the floor with
at most 12 answers of 429. For contrast the same day runs with a fixed limit of `--concurrency` calls that are
re-asked at once after a 429, which is what a non-adaptive client does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from digest.enrich.limiter import AdaptiveLimiter  # noqa: E402
from digest.fetch.arxiv import retry_after_seconds  # noqa: E402
from digest.standins.chat_server import ChatStandIn  # noqa: E402


async def _adaptive_day(url: str, calls: int, concurrency: int) -> AdaptiveLimiter:
    limiter = AdaptiveLimiter(concurrency)

    async def one(n: int, http: httpx.AsyncClient) -> None:
        body = {"model": "stand-in", "messages": [{"role": "user", "content": f"paper {n}"}]}
        while True:
            async with limiter:
                resp = await http.post(url, json=body)
                if resp.status_code == 429:
                    limiter.rate_limited(retry_after_seconds(resp.headers.get("retry-after")))
                    continue
                resp.raise_for_status()
                limiter.succeeded()
                return

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency * 2)) as http:
        await asyncio.gather(*(one(n, http) for n in range(calls)))
    return limiter


async def _fixed_day(url: str, calls: int, concurrency: int) -> None:
    fixed = asyncio.Semaphore(concurrency)

    async def one(n: int, http: httpx.AsyncClient) -> None:
        body = {"model": "stand-in", "messages": [{"role": "user", "content": f"paper {n}"}]}
        while True:
            async with fixed:
                resp = await http.post(url, json=body)
            if resp.status_code != 429:
                resp.raise_for_status()
                return

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency * 2)) as http:
        await asyncio.gather(*(one(n, http) for n in range(calls)))


def measure(
    calls: int, latency: float, provider_limit: int, concurrency: int, adaptive: bool, retry_after: str | None = None
) -> dict[str, object]:
    """One simulated day; wall time, 429 count and the provider's peak of parallel calls."""
    with ChatStandIn(latency=latency, max_parallel=provider_limit) as chat:
        chat.parallel_retry_after = retry_after
        url = chat.base_url + "/chat/completions"
        started = time.monotonic()
        limiter = None
        if adaptive:
            limiter = asyncio.run(_adaptive_day(url, calls, concurrency))
        else:
            asyncio.run(_fixed_day(url, calls, concurrency))
        wall = time.monotonic() - started
        floor = math.ceil(calls / provider_limit) * latency
        return {
            "client": "adaptive" if adaptive else f"fixed {concurrency}",
            "calls": calls,
            "answered": len(chat.calls),
            "wall_seconds": round(wall, 2),
            "floor_seconds": floor,
            "ratio": round(wall / floor, 3),
            "http_429": chat.parallel_rejections,
            "provider_peak_parallel": chat.peak_in_flight,
            "lowest_limit": limiter.lowest_limit if limiter else None,
            "final_limit": limiter.limit if limiter else None,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--provider-limit", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--retry-after", default=None, help="Retry-After the provider sends with its 429s.")
    parser.add_argument("--no-contrast", action="store_true", help="Skip the fixed-concurrency run.")
    args = parser.parse_args()

    sizes = (args.calls, args.latency, args.provider_limit, args.concurrency)
    rows = [measure(*sizes, adaptive=True, retry_after=args.retry_after)]
    if not args.no_contrast:
        rows.append(measure(*sizes, adaptive=False, retry_after=args.retry_after))
    adaptive = rows[0]
    ok = adaptive["answered"] == args.calls and adaptive["ratio"] <= 1.3 and adaptive["http_429"] <= 12  # type: ignore[operator]
    print(f"{'client':<10} {'wall s':>7} {'floor s':>7} {'ratio':>6} {'429s':>5} {'peak':>5} {'limit':>9}")
    for r in rows:
        limits = f"{r['lowest_limit']}..{r['final_limit']}" if r["lowest_limit"] is not None else "-"
        print(
            f"{r['client']:<10} {r['wall_seconds']:>7} {r['floor_seconds']:>7} {r['ratio']:>6} {r['http_429']:>5} "
            f"{r['provider_peak_parallel']:>5} {limits:>9}"
        )
    print(f"target: adaptive ratio <= 1.3 and <= 12 answers of 429: {'ok' if ok else 'MISSED'}")
    print(json.dumps({"bench": "adaptive", "ok": ok, "rows": rows}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
