"""A synthetic six weeks of submissions, every hour of every day, across the November DST switch and
Thanksgiving: every paper lands in exactly one post, the one whose window holds its mailing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from digest.core.config import ArxivConfig, WindowConfig
from digest.core.window import NEW_YORK, papers_in_window, window_for
from digest.fetch.arxiv import ArxivClient
from digest.fetch.windows import fetch_windows
from digest.standins.arxiv_server import ArxivStandIn, make_paper

CST = ZoneInfo("Asia/Shanghai")
CFG = WindowConfig()  # holidays include 2026-11-26
FIRST = datetime(2026, 10, 20, tzinfo=NEW_YORK)
LAST = datetime(2026, 11, 30, tzinfo=NEW_YORK)
POST_DAYS = [date(2026, 10, 20) + timedelta(days=i) for i in range(50)]


def submissions() -> list:
    out = []
    t = FIRST
    n = 1
    while t < LAST:
        # Every hour on the hour (so every 14:00 cutoff itself), plus a moment just before each hour.
        for moment in (t, t - timedelta(microseconds=1)):
            out.append(make_paper(f"2610.{n:05d}v1", moment))
            n += 1
        # Step in UTC so the repeated 01:00 of the fall-back night is covered twice, as it really happens.
        t = (t.astimezone(ZoneInfo("UTC")) + timedelta(hours=1)).astimezone(NEW_YORK)
    return out


def expected_post(published: datetime, holidays: set[date]) -> date:
    """Reference schedule, written independently of digest.core.window: next weekday 14:00 cutoff, then its mailing."""
    t = published.astimezone(NEW_YORK)
    d = t.date()
    while True:
        cutoff = datetime.combine(d, time(14), tzinfo=NEW_YORK)
        if d.weekday() < 5 and t < cutoff:
            break
        d += timedelta(days=1)
    mail = d + timedelta(days=2) if d.weekday() == 4 else d  # Friday's batch goes out on Sunday
    while mail in holidays or mail.weekday() in (4, 5):
        mail += timedelta(days=1)
    released = datetime.combine(mail, time(20), tzinfo=NEW_YORK).astimezone(CST)
    return (released - timedelta(hours=8, minutes=50)).date() + timedelta(days=1)


def test_every_paper_in_exactly_one_post_day_by_day() -> None:
    papers = submissions()
    assert len(papers) > 1900
    holidays = set(CFG.holidays)
    placed: dict[str, list[date]] = {}
    for day in POST_DAYS:
        for p in papers_in_window(window_for(day, CFG), papers):
            placed.setdefault(p.id, []).append(day)
    for p in papers:
        assert placed.get(p.id) == [expected_post(p.published, holidays)], (p.id, p.published.astimezone(NEW_YORK))
    counts = Counter(d for days in placed.values() for d in days)
    # Thanksgiving: the Friday post (would hold Thursday night's mailing) is empty; weekend-gap posts too.
    assert counts[date(2026, 11, 28)] == 0
    # The Sunday-after-Thanksgiving mailing carries Wednesday-afternoon to Friday-14:00 submissions: 2 days.
    assert counts[date(2026, 12, 1)] == 2 * 48
    # Fall-back Sunday 11-01: its mailing (20:00 EST = Monday 09:00 CST) lands in the Tuesday post.
    assert counts[date(2026, 11, 3)] == 24 * 2


def test_holiday_free_calendar_differs_only_around_thanksgiving() -> None:
    papers = submissions()
    plain = WindowConfig(holidays=[])
    moved = [p for p in papers if expected_post(p.published, set(CFG.holidays)) != expected_post(p.published, set())]
    assert moved and all(
        date(2026, 11, 25) <= p.published.astimezone(NEW_YORK).date() <= date(2026, 11, 26) for p in moved
    )
    for p in moved[:5]:
        got = [d for d in POST_DAYS if papers_in_window(window_for(d, plain), [p])]
        assert got == [expected_post(p.published, set())]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def test_fetch_windows_against_the_stand_in_matches_the_schedule(http: httpx.Client) -> None:
    papers = submissions()
    days = [date(2026, 10, 30) + timedelta(days=i) for i in range(6)]  # across the DST switch
    days += [date(2026, 11, 25) + timedelta(days=i) for i in range(8)]  # across Thanksgiving
    windows = [window_for(d, CFG) for d in days]
    with ArxivStandIn(papers) as srv:
        cfg = ArxivConfig(api_url=srv.api_url, listing_url=srv.listing_url, delay_seconds=0.01, timeout_seconds=5)
        client = ArxivClient(cfg, http, page_size=500)
        got = fetch_windows(
            windows, client, ["cs.SD", "eess.AS"], ["new", "cross"], now=datetime(2027, 1, 1, tzinfo=CST)
        )
        # One query over the union span, paged.
        assert len({r.query["search_query"][0] for r in srv.search_requests}) == 1
        assert len(srv.search_requests) <= 5
    holidays = set(CFG.holidays)
    for d in days:
        want = sorted(
            (p.id for p in papers if expected_post(p.published, holidays) == d),
        )
        assert sorted(p.id for p in got[d]) == want, d
    assert sum(len(v) for v in got.values()) > 500
