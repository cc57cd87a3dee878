"""The fetch stage against the stand-in: one search for many windows, and the listing feed for the newest mailing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from digest.arxiv import ArxivClient
from digest.config import ArxivConfig, WindowConfig
from digest.fetch import fetch_windows, wants_listing
from digest.standins.arxiv_server import ArxivStandIn, make_paper
from digest.window import NEW_YORK, window_for

CATS = ["cs.SD", "eess.AS"]
TYPES = ["new", "cross"]
CFG = WindowConfig()


def ny(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=NEW_YORK)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def client_for(srv: ArxivStandIn, http: httpx.Client) -> ArxivClient:
    cfg = ArxivConfig(api_url=srv.api_url, listing_url=srv.listing_url, delay_seconds=0.02, timeout_seconds=2)
    return ArxivClient(cfg, http, page_size=50)


def hourly(start: datetime, hours: int, first: int = 1) -> list:
    return [make_paper(f"2601.{first + i:05d}v1", start + timedelta(hours=i)) for i in range(hours)]


def test_backfill_of_a_month_is_one_search(http: httpx.Client) -> None:
    papers = hourly(ny(2026, 1, 1), 24 * 31)
    days = [date(2026, 1, 5) + timedelta(days=i) for i in range(20)]
    windows = [window_for(d, CFG) for d in days]
    with ArxivStandIn(papers) as srv:
        got = fetch_windows(windows, client_for(srv, http), CATS, TYPES, now=ny(2026, 3, 1))
        assert len(srv.search_requests) <= 16  # 744 papers / 50 a page: paging, not one query per day
        assert len({r.query["search_query"][0] for r in srv.search_requests}) == 1
        assert srv.listing_requests == []  # a backfill far in the past never reads the listing
    assert set(got) == set(days)
    seen = [p.id for d in days for p in got[d]]
    assert len(seen) == len(set(seen))
    for d in days:
        w = window_for(d, CFG)
        for p in got[d]:
            assert any(m.covers_from <= p.published < m.covers_to for m in w.mailings)
        assert got[d] == sorted(got[d], key=lambda p: p.published, reverse=True)


def test_submitted_basis(http: httpx.Client) -> None:
    cfg = WindowConfig(basis="submitted")
    w = window_for(date(2026, 1, 29), cfg)
    inside = make_paper("2601.00001v1", w.start)
    at_end = make_paper("2601.00002v1", w.end)
    with ArxivStandIn([inside, at_end]) as srv:
        got = fetch_windows([w], client_for(srv, http), CATS, TYPES, now=w.end + timedelta(hours=1))
        assert srv.listing_requests == []
    assert [p.id for p in got[w.date]] == ["2601.00001v1"]


def test_listing_decides_the_newest_mailing(http: httpx.Client) -> None:
    # Post of Thursday 2026-01-29 holds Tuesday 01-27's mailing (20:00 EST = Wednesday 09:00 CST).
    w = window_for(date(2026, 1, 29), CFG)
    (m,) = w.mailings
    on_time = make_paper("2601.00010v1", m.covers_from + timedelta(hours=3))
    held = make_paper("2601.00003v1", m.covers_from - timedelta(days=6), title="Held back for moderation")
    not_listed = make_paper("2601.00011v1", m.covers_from + timedelta(hours=4))  # e.g. put on hold: not announced
    cross = make_paper("2601.00012v1", m.covers_from + timedelta(hours=5), categories=("cs.CL", "cs.SD"))
    replaced = make_paper("2512.00001v2", datetime(2025, 12, 1, tzinfo=UTC))
    listing = [(on_time.id, "new"), (held.id, "new"), (cross.id, "cross"), (replaced.id, "replace")]
    with ArxivStandIn([on_time, held, not_listed, cross, replaced], listing=(date(2026, 1, 27), listing)) as srv:
        client = client_for(srv, http)
        got = fetch_windows([w], client, CATS, TYPES, now=w.end + timedelta(minutes=5))
        assert len(srv.listing_requests) == 1
        assert len(srv.id_list_requests) == 1
        assert srv.id_list_requests[0].query["id_list"] == ["2601.00003"]
    assert [p.id for p in got[w.date]] == [cross.id, on_time.id, held.id]
    assert {p.id: p.announce_type for p in got[w.date]} == {cross.id: "cross", on_time.id: "new", held.id: "new"}


def test_listing_of_another_mailing_is_ignored(http: httpx.Client) -> None:
    w = window_for(date(2026, 1, 29), CFG)
    (m,) = w.mailings
    paper = make_paper("2601.00010v1", m.covers_from + timedelta(hours=3))
    # The feed already shows Wednesday's mailing: this window is derived from submission times.
    with ArxivStandIn([paper], listing=(date(2026, 1, 28), [("2601.09999v1", "new")])) as srv:
        client = client_for(srv, http)
        got = fetch_windows([w], client, CATS, TYPES, now=ny(2026, 1, 29, 1))
        assert len(srv.listing_requests) == 1 and srv.id_list_requests == []
    assert [p.id for p in got[w.date]] == [paper.id]
    assert any("none of the requested windows" in x for x in client.warnings)


def test_empty_listing_on_a_day_without_mailing(http: httpx.Client) -> None:
    # Sunday 01-11's post has no mailing (Friday night): no search range, no listing needed.
    w = window_for(date(2026, 1, 11), CFG)
    with ArxivStandIn([]) as srv:
        got = fetch_windows([w], client_for(srv, http), CATS, TYPES, now=w.end)
        assert srv.requests == []
    assert got == {date(2026, 1, 11): []}


def test_wants_listing_rule() -> None:
    w = window_for(date(2026, 1, 29), CFG)
    released = w.mailings[0].announced_at
    assert wants_listing([w], released)
    assert not wants_listing([w], released - timedelta(seconds=1))
    assert wants_listing([w], released + timedelta(days=4))
    assert not wants_listing([w], released + timedelta(days=6))
