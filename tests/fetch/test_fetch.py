"""The fetch stage against the stand-in: one search for many windows, and the listing feed for the newest mailing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from digest.core.config import ArxivConfig, WindowConfig
from digest.core.window import NEW_YORK, window_for
from digest.fetch.arxiv import ArxivClient
from digest.fetch.windows import fetch_windows, wants_listing
from digest.standins.arxiv_server import ArxivStandIn, make_paper

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


# ---------------------------------------------------------------- which mailing the listing shows (issue 13)

# Summer: the 08:50 Shanghai run is at 20:50 New York, after that evening's 20:00 mailing went out.
JUN30 = date(2026, 6, 30)  # Tuesday mailing, listed Wednesday 07-01
JUL01 = date(2026, 7, 1)  # Wednesday mailing, listed Thursday 07-02


def batch(mailing_day: date, first: int, n: int, *, held: int = 0, cats: tuple[str, ...] = ("cs.SD",)) -> list:
    """n papers submitted in that mailing's range, and `held` more submitted a week earlier."""
    (m,) = [m for m in window_for(mailing_day + timedelta(days=1), CFG).mailings]
    step = (m.covers_to - m.covers_from) / (n + 1)
    on_time = [make_paper(f"2606.{first + i:05d}v1", m.covers_from + step * (i + 1), categories=cats) for i in range(n)]
    late = [make_paper(f"2606.{first + n + i:05d}v1", m.covers_from - timedelta(days=7, hours=i)) for i in range(held)]
    return on_time + late


def test_stale_feed_built_after_the_next_mailing_stays_out_of_the_next_post(http: httpx.Client) -> None:
    old = batch(JUN30, 100, 5, held=1)
    new = batch(JUL01, 200, 4)
    run_at = datetime(2026, 7, 1, 20, 50, tzinfo=NEW_YORK)  # the 08:50 Shanghai anchor of 07-02
    w = window_for(date(2026, 7, 2), CFG)
    assert w.end == run_at and w.mailings[0].announced_at.date() == JUL01
    with ArxivStandIn(old + new) as srv:
        # Still Tuesday's listing (dated 07-01), but built after Wednesday's mailing went out.
        srv.set_listing(JUN30, [(p.id, "new") for p in old], built=run_at)
        client = client_for(srv, http)
        got = fetch_windows([w], client, CATS, TYPES, now=run_at)
    assert [p.id for p in got[w.date]] == [p.id for p in sorted(new, key=lambda p: p.published, reverse=True)]
    assert any("mailing of 2026-06-30, which is in none of the requested windows" in x for x in client.warnings)


def test_stale_feed_still_serves_its_own_post_in_a_backfill(http: httpx.Client) -> None:
    old = batch(JUN30, 100, 5, held=1)
    new = batch(JUL01, 200, 4)
    run_at = datetime(2026, 7, 1, 20, 50, tzinfo=NEW_YORK)
    w1, w2 = window_for(date(2026, 7, 1), CFG), window_for(date(2026, 7, 2), CFG)
    with ArxivStandIn(old + new) as srv:
        srv.set_listing(JUN30, [(p.id, "new") for p in old[:-2]] + [(old[-1].id, "new")], built=run_at)
        got = fetch_windows([w1, w2], client_for(srv, http), CATS, TYPES, now=run_at)
    # The listing decides Tuesday's batch: the held-back paper is in, the unlisted one (old[-2]) out.
    assert {p.id for p in got[w1.date]} == {p.id for p in old[:-2]} | {old[-1].id}
    assert {p.id for p in got[w2.date]} == {p.id for p in new}


def test_listing_whose_papers_belong_to_another_mailing_is_ignored(http: httpx.Client) -> None:
    # The feed claims Wednesday's mailing (dated 07-02) but lists Tuesday's papers.
    old = batch(JUN30, 100, 5)
    new = batch(JUL01, 200, 4)
    w = window_for(date(2026, 7, 2), CFG)
    with ArxivStandIn(old + new) as srv:
        srv.set_listing(JUL01, [(p.id, "new") for p in old], built=datetime(2026, 7, 1, 20, 50, tzinfo=NEW_YORK))
        client = client_for(srv, http)
        got = fetch_windows([w], client, CATS, TYPES, now=w.end)
        assert srv.id_list_requests  # their submission times came from the API
    assert {p.id for p in got[w.date]} == {p.id for p in new}
    (warning,) = [x for x in client.warnings if "ignored" in x]
    assert "only 0 of its 5 new papers" in warning and "2026-06-30 14:00 to 2026-07-01 14:00" in warning


def test_a_few_held_back_papers_pass_the_check(http: httpx.Client) -> None:
    new = batch(JUL01, 200, 3, held=3)  # half held back: still accepted
    w = window_for(date(2026, 7, 2), CFG)
    with ArxivStandIn(new) as srv:
        srv.set_listing(JUL01, [(p.id, "new") for p in new])
        got = fetch_windows([w], client_for(srv, http), CATS, TYPES, now=w.end)
    assert {p.id for p in got[w.date]} == {p.id for p in new}
    assert all(p.announce_type == "new" for p in got[w.date])


def test_check_reads_new_entries_even_when_only_cross_lists_are_wanted(http: httpx.Client) -> None:
    old = batch(JUN30, 100, 3)
    cross = batch(JUL01, 300, 2, cats=("cs.CL", "cs.SD"))
    new = batch(JUL01, 200, 3)
    w = window_for(date(2026, 7, 2), CFG)
    with ArxivStandIn(old + cross + new) as srv:
        # Wednesday's date, Tuesday's new papers: the cross-lists alone would have looked fine.
        srv.set_listing(JUL01, [(p.id, "new") for p in old] + [(p.id, "cross") for p in cross])
        client = client_for(srv, http)
        got = fetch_windows([w], client, CATS, ["cross"], now=w.end)
    assert {p.id for p in got[w.date]} == {p.id for p in cross + new}  # derived: submission times decide
    assert any("only 0 of its 3 new papers" in x for x in client.warnings)


def test_listing_without_new_papers_cannot_be_checked(http: httpx.Client) -> None:
    new = batch(JUL01, 200, 3)
    w = window_for(date(2026, 7, 2), CFG)
    with ArxivStandIn(new) as srv:
        srv.set_listing(JUL01, [(new[0].id, "replace")])
        client = client_for(srv, http)
        got = fetch_windows([w], client, CATS, TYPES, now=w.end)
    assert {p.id for p in got[w.date]} == {p.id for p in new}
    assert any("lists no new paper" in x for x in client.warnings)
