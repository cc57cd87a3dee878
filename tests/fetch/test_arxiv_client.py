"""The arXiv client against the local stand-in: paging, glitches, retries, throttle, parsing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from digest.core.config import ArxivConfig
from digest.core.errors import FetchError
from digest.core.http import USER_AGENT
from digest.fetch.arxiv import ArxivClient
from digest.standins.arxiv_server import ArxivStandIn, Reply, api_feed, entry_xml, make_paper

DELAY = 0.05
T0 = datetime(2026, 1, 27, 0, 0, tzinfo=UTC)


def papers(n: int, start: datetime = T0) -> list:
    return [make_paper(f"2601.{i:05d}v1", start + timedelta(minutes=7 * i)) for i in range(1, n + 1)]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def client_for(srv: ArxivStandIn, http: httpx.Client, *, page_size: int = 100, max_retries: int = 3, sleeps=None):
    cfg = ArxivConfig(
        api_url=srv.api_url,
        listing_url=srv.listing_url,
        delay_seconds=DELAY,
        timeout_seconds=2,
        max_retries=max_retries,
    )
    if sleeps is None:
        return ArxivClient(cfg, http, page_size=page_size)

    def sleep(s: float) -> None:
        sleeps.append(s)
        import time

        time.sleep(s)

    return ArxivClient(cfg, http, page_size=page_size, sleep=sleep)


def test_search_pages_through_three_pages_and_filters_half_open(http: httpx.Client) -> None:
    ps = papers(12)
    end = ps[-1].published  # exactly at end: out
    with ArxivStandIn(ps) as srv:
        got = client_for(srv, http, page_size=5).search(T0, end, ["cs.SD", "eess.AS"])
        reqs = srv.search_requests
    assert [p.id for p in got] == [p.id for p in reversed(ps[:-1])]
    assert [r.query["start"][0] for r in reqs] == ["0", "5", "10"]
    q = reqs[0].query
    assert q["search_query"][0] == "(cat:cs.SD OR cat:eess.AS) AND submittedDate:[202601270000 TO 202601270124]"
    assert q["sortBy"] == ["submittedDate"] and q["sortOrder"] == ["descending"] and q["max_results"] == ["5"]
    assert reqs[0].headers["user-agent"] == USER_AGENT


def test_end_rounded_up_to_the_minute(http: httpx.Client) -> None:
    p = make_paper("2601.00001v1", datetime(2026, 1, 27, 10, 30, 20, tzinfo=UTC))
    with ArxivStandIn([p]) as srv:
        got = client_for(srv, http).search(T0, datetime(2026, 1, 27, 10, 30, 30, tzinfo=UTC), ["cs.SD"])
        q = srv.search_requests[0].query["search_query"][0]
    assert q.endswith("TO 202601271031]")
    assert [x.id for x in got] == ["2601.00001v1"]


class VirtualClock:
    """A clock that moves only when told: spacing is checked exactly, whatever the machine's load."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_requests_are_spaced_by_delay(http: httpx.Client) -> None:
    clock = VirtualClock()
    starts: list[float] = []

    def on_request(request: httpx.Request) -> None:
        starts.append(clock.now)
        clock.now += 0.02  # the request itself takes a while: the rule is start to start

    http.event_hooks = {"request": [on_request], "response": []}
    with ArxivStandIn(papers(9)) as srv:
        cfg = ArxivConfig(api_url=srv.api_url, listing_url=srv.listing_url, delay_seconds=DELAY, timeout_seconds=2)
        ArxivClient(cfg, http, page_size=2, sleep=clock.sleep, clock=clock).search(
            T0, T0 + timedelta(days=1), ["cs.SD"]
        )
    assert len(starts) == 5
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert gaps == pytest.approx([DELAY] * 4), gaps


def test_empty_page_mid_paging_is_retried(http: httpx.Client) -> None:
    ps = papers(6)
    with ArxivStandIn(ps) as srv:
        c = client_for(srv, http, page_size=3)
        # First page normal, then one glitch page, then the real second page.
        srv.fail_next(
            Reply(
                body=api_feed(
                    [entry_xml(p) for p in sorted(ps, key=lambda p: p.published)[::-1][:3]],
                    total=6,
                    start=0,
                    per_page=3,
                ),
                content_type="application/atom+xml",
            )
        )
        srv.empty_page_next(total=0)
        got = c.search(T0, T0 + timedelta(days=1), ["cs.SD"])
        starts = [r.query["start"][0] for r in srv.search_requests]
    assert len(got) == 6
    assert starts == ["0", "3", "3"]
    assert any("empty page" in w for w in c.warnings)


def test_empty_first_page_is_asked_once_more(http: httpx.Client) -> None:
    with ArxivStandIn(papers(2)) as srv:
        srv.empty_page_next()
        got = client_for(srv, http).search(T0, T0 + timedelta(days=1), ["cs.SD"])
        assert len(srv.search_requests) == 2
    assert len(got) == 2


def test_truly_empty_result_costs_two_requests(http: httpx.Client) -> None:
    with ArxivStandIn([]) as srv:
        got = client_for(srv, http).search(T0, T0 + timedelta(days=1), ["cs.SD"])
        assert len(srv.search_requests) == 2
    assert got == []


def test_503_then_success(http: httpx.Client) -> None:
    with ArxivStandIn(papers(2)) as srv:
        srv.error_next(503)
        c = client_for(srv, http)
        got = c.search(T0, T0 + timedelta(days=1), ["cs.SD"])
        assert len(srv.search_requests) == 2
    assert len(got) == 2
    assert any("HTTP 503" in w for w in c.warnings)


def test_429_retry_after_is_honoured(http: httpx.Client) -> None:
    sleeps: list[float] = []
    with ArxivStandIn(papers(1)) as srv:
        srv.error_next(429, retry_after="1")
        got = client_for(srv, http, sleeps=sleeps).search(T0, T0 + timedelta(days=1), ["cs.SD"])
        times = [r.at for r in srv.requests]
    assert len(got) == 1
    assert 1.0 in sleeps
    assert times[1] - times[0] >= 0.95


def test_retry_budget_exhausted_raises_fetch_error(http: httpx.Client) -> None:
    with ArxivStandIn(papers(1)) as srv:
        srv.error_next(503, times=10)
        with pytest.raises(FetchError) as err:
            client_for(srv, http, max_retries=2).search(T0, T0 + timedelta(days=1), ["cs.SD"])
        assert len(srv.requests) == 3
    msg = str(err.value)
    assert "search" in msg and "HTTP 503" in msg and "try again later" in msg and "\n" not in msg


def test_client_error_is_not_retried(http: httpx.Client) -> None:
    with ArxivStandIn(papers(1)) as srv:
        srv.error_next(400)
        with pytest.raises(FetchError, match="HTTP 400"):
            client_for(srv, http).search(T0, T0 + timedelta(days=1), ["cs.SD"])
        assert len(srv.requests) == 1


def test_html_instead_of_atom(http: httpx.Client) -> None:
    with ArxivStandIn(papers(1)) as srv:
        srv.html_next(times=5)
        with pytest.raises(FetchError, match="HTML page instead of an Atom feed"):
            client_for(srv, http, max_retries=1).search(T0, T0 + timedelta(days=1), ["cs.SD"])
    with ArxivStandIn(papers(1)) as srv:
        srv.html_next()
        assert len(client_for(srv, http).search(T0, T0 + timedelta(days=1), ["cs.SD"])) == 1


def test_truncated_xml_is_retried(http: httpx.Client) -> None:
    with ArxivStandIn(papers(3)) as srv:
        srv.truncated_next()
        c = client_for(srv, http)
        got = c.search(T0, T0 + timedelta(days=1), ["cs.SD"])
        assert len(srv.requests) == 2
    assert len(got) == 3
    assert any("truncated XML" in w for w in c.warnings)
    with ArxivStandIn(papers(3)) as srv:
        srv.truncated_next(times=3)
        with pytest.raises(FetchError, match="invalid or truncated XML"):
            client_for(srv, http, max_retries=2).search(T0, T0 + timedelta(days=1), ["cs.SD"])


def test_connection_dropped_mid_body_is_retried(http: httpx.Client) -> None:
    ps = papers(2)
    body = api_feed([entry_xml(p) for p in ps], total=2, start=0, per_page=2)
    with ArxivStandIn(ps) as srv:
        srv.fail_next(Reply(body=body, content_type="application/atom+xml", drop_after=40))
        got = client_for(srv, http).search(T0, T0 + timedelta(days=1), ["cs.SD"])
    assert len(got) == 2


def test_timeout_is_retried(http: httpx.Client) -> None:
    ps = papers(1)
    with ArxivStandIn(ps) as srv:
        cfg = ArxivConfig(
            api_url=srv.api_url, listing_url=srv.listing_url, delay_seconds=DELAY, timeout_seconds=0.2, max_retries=2
        )
        srv.fail_next(Reply(body=b"", delay=0.6))
        c = ArxivClient(cfg, http)
        assert len(c.search(T0, T0 + timedelta(days=1), ["cs.SD"])) == 1
    assert any("no answer within" in w for w in c.warnings)


def test_cross_listed_paper_appears_once_with_primary_first(http: httpx.Client) -> None:
    p = make_paper("2601.00001v1", T0 + timedelta(hours=1), categories=("eess.SP", "eess.AS", "cs.SD"))
    with ArxivStandIn([p]) as srv:
        got = client_for(srv, http).search(T0, T0 + timedelta(days=1), ["cs.SD", "eess.AS"])
    assert len(got) == 1
    assert got[0].categories == ("eess.SP", "eess.AS", "cs.SD")


def test_parsing_fields(http: httpx.Client) -> None:
    p = make_paper(
        "2601.00042v3",
        T0 + timedelta(hours=2),
        categories=("eess.AS", "cs.CL"),
        title="A  Title\n   with breaks & <angles>",
        abstract="  Line one.\n  Line  two {{x}}. ",
        authors=("Ann One", "Ben Two"),
        updated=T0 + timedelta(days=3),
        comment="5 pages,\n 2 figures",
    )
    with ArxivStandIn([p]) as srv:
        (got,) = client_for(srv, http).by_ids(["2601.00042"])
        assert srv.id_list_requests[0].query["id_list"] == ["2601.00042"]
    assert got.id == "2601.00042v3"
    assert got.title == "A Title with breaks & <angles>"
    assert got.abstract == "Line one. Line two {{x}}."
    assert got.authors == ("Ann One", "Ben Two")
    assert got.categories == ("eess.AS", "cs.CL")
    assert got.published == T0 + timedelta(hours=2) and got.published.tzinfo is not None
    assert got.updated == T0 + timedelta(days=3)
    assert got.comment == "5 pages, 2 figures"


def test_entry_missing_title_is_skipped_with_warning(http: httpx.Client) -> None:
    good = make_paper("2601.00001v1", T0 + timedelta(hours=1))
    bad = entry_xml(make_paper("2601.00002v1", T0 + timedelta(hours=2))).replace(
        "<title>Invented study number 2601.00002v1</title>", ""
    )
    body = api_feed([bad, entry_xml(good)], total=2, start=0, per_page=100)
    with ArxivStandIn([good]) as srv:
        srv.fail_next(Reply(body=body, content_type="application/atom+xml"))
        c = client_for(srv, http)
        got = c.search(T0, T0 + timedelta(days=1), ["cs.SD"])
    assert [p.id for p in got] == ["2601.00001v1"]
    assert any("2601.00002v1" in w and "title" in w for w in c.warnings)


def test_by_ids_chunks_of_100(http: httpx.Client) -> None:
    ps = papers(150)
    with ArxivStandIn(ps) as srv:
        got = client_for(srv, http).by_ids([p.id for p in ps])
        sizes = [len(r.query["id_list"][0].split(",")) for r in srv.id_list_requests]
    assert sizes == [100, 50]
    assert len(got) == 150


def test_runaway_total_stops_with_warning(http: httpx.Client) -> None:
    # A server that claims more results than it ever delivers: the same page over and over.
    ps = papers(2)
    page = api_feed([entry_xml(p) for p in ps], total=500, start=0, per_page=2)
    with ArxivStandIn(ps) as srv:
        srv.fail_next(*[Reply(body=page, content_type="application/atom+xml") for _ in range(20)])
        c = client_for(srv, http, page_size=2, max_retries=2)
        got = c.search(T0, T0 + timedelta(days=1), ["cs.SD"])
        n = len(srv.requests)
    assert len(got) == 2
    assert n <= 5
    assert any("stopped" in w for w in c.warnings)


def test_listing_feed(http: httpx.Client) -> None:
    ps = papers(3)
    entries = [(ps[0].id, "new"), (ps[1].id, "cross"), (ps[2].id, "replace")]
    with ArxivStandIn(ps, listing=(date(2026, 1, 27), entries)) as srv:
        listing = client_for(srv, http).listing(["cs.SD", "eess.AS"])
        assert srv.listing_requests[0].path == "/atom/cs.SD+eess.AS"
        srv.set_listing(None, [])
        empty = client_for(srv, http).listing(["cs.SD"])
    assert listing.mailing_date == date(2026, 1, 27)
    assert listing.entries == entries
    assert empty.entries == []


def test_listing_html_is_an_error(http: httpx.Client) -> None:
    with ArxivStandIn([]) as srv:
        srv.html_next(times=3)
        with pytest.raises(FetchError, match="listing feed"):
            client_for(srv, http, max_retries=1).listing(["cs.SD"])


def test_listing_date_from_entries_when_feed_has_none(http: httpx.Client) -> None:
    feed = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        b"<channel><title>cs.SD updates</title><item><title>An invented item</title>"
        b"<link>https://arxiv.org/abs/2601.00007</link>"
        b'<guid isPermaLink="false">oai:arXiv.org:2601.00007v1</guid>'
        b"<description>arXiv:2601.00007v1 Announce Type: cross Abstract: Invented.</description>"
        b"<pubDate>Wed, 28 Jan 2026 00:00:00 -0500</pubDate>"
        b"<arxiv:announce_type>cross</arxiv:announce_type></item></channel></rss>"
    )
    with ArxivStandIn([]) as srv:
        srv.fail_next(Reply(body=feed, content_type="application/rss+xml"))
        listing = client_for(srv, http).listing(["cs.SD"])
    assert listing.mailing_date == date(2026, 1, 27)
    assert listing.entries == [("2601.00007v1", "cross")]


# ---------------------------------------------------------------- listing date, RSS form, metadata, refusals

NY_TZ = ZoneInfo("America/New_York")


def rss_client(srv: ArxivStandIn, http: httpx.Client) -> ArxivClient:
    cfg = ArxivConfig(api_url=srv.api_url, listing_url=srv.rss_listing_url, delay_seconds=0.01, timeout_seconds=2)
    return ArxivClient(cfg, http)


@pytest.mark.parametrize("form", ["atom", "rss"])
def test_listing_mailing_comes_from_the_listing_date_not_the_build_time(http: httpx.Client, form: str) -> None:
    # Built at 20:50 New York on Wednesday 01-28 (after that evening's mailing went out), the feed
    # still lists Tuesday's mailing: its entries are dated Wednesday's midnight.
    ps = papers(2)
    built = datetime(2026, 1, 28, 20, 50, tzinfo=NY_TZ)
    entries = [(ps[0].id, "new"), (ps[1].id, "cross")]
    with ArxivStandIn(ps) as srv:
        srv.set_listing(date(2026, 1, 27), entries, built=built)
        c = rss_client(srv, http) if form == "rss" else client_for(srv, http)
        listing = c.listing(["cs.SD", "eess.AS"])
        assert srv.listing_requests[0].path == f"/{form}/cs.SD+eess.AS"
    assert listing.listing_date == date(2026, 1, 28)
    assert listing.mailing_date == date(2026, 1, 27)
    assert listing.built == built.astimezone(UTC)
    assert listing.entries == entries


def test_empty_rss_listing_takes_its_date_from_the_channel(http: httpx.Client) -> None:
    with ArxivStandIn([]) as srv:
        srv.set_listing(date(2026, 1, 27), [], built=datetime(2026, 1, 28, 12, tzinfo=UTC))
        listing = rss_client(srv, http).listing(["cs.SD"])
    assert (listing.listing_date, listing.mailing_date, listing.entries) == (date(2026, 1, 28), date(2026, 1, 27), [])


def test_empty_atom_listing_has_no_mailing(http: httpx.Client) -> None:
    # An Atom feed's only feed-level time is the build time, which says nothing about the content.
    with ArxivStandIn([]) as srv:
        srv.set_listing(date(2026, 1, 27), [], built=datetime(2026, 1, 28, 12, tzinfo=UTC))
        listing = client_for(srv, http).listing(["cs.SD"])
    assert listing.mailing_date is None and listing.entries == []


def test_listing_date_is_the_nearest_new_york_date() -> None:
    from digest.fetch.arxiv import _listing_date_of, _mailing_date_of

    assert _listing_date_of(datetime(2025, 8, 20, 0, 0, tzinfo=NY_TZ)) == date(2025, 8, 20)
    # A stamp written as UTC midnight is 19:00/20:00 New York the evening before: still the 20th.
    assert _listing_date_of(datetime(2025, 8, 20, 0, 0, tzinfo=UTC)) == date(2025, 8, 20)
    assert _listing_date_of(None) is None
    # Monday's listing shows Sunday's mailing; the day before, whatever the weekday.
    assert _mailing_date_of(date(2026, 2, 2)) == date(2026, 2, 1)


def test_listing_entries_with_mixed_dates_warn_and_the_most_common_wins(http: httpx.Client) -> None:
    def item(n: int, day: str) -> bytes:
        return (
            f"<item><title>t{n}</title><link>https://arxiv.org/abs/2601.0000{n}</link>"
            f'<guid isPermaLink="false">oai:arXiv.org:2601.0000{n}v1</guid>'
            f"<pubDate>{day} Jan 2026 00:00:00 -0500</pubDate><arxiv:announce_type>new</arxiv:announce_type></item>"
        ).encode()

    feed = (
        b'<?xml version="1.0"?><rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom"><channel><title>x</title>'
        + item(1, "Wed, 28")
        + item(2, "Wed, 28")
        + item(3, "Tue, 27")
        + b"</channel></rss>"
    )
    with ArxivStandIn([]) as srv:
        srv.serve_listing(feed, content_type="application/rss+xml")
        c = client_for(srv, http)
        listing = c.listing(["cs.SD"])
    assert listing.listing_date == date(2026, 1, 28)
    assert any("different listing dates" in w for w in c.warnings)


def test_doi_and_journal_ref_are_kept(http: httpx.Client) -> None:
    p = make_paper("2601.00001v2", T0, doi="10.1109/TASLP.2026.0000001", journal_ref="IEEE/ACM TASLP 34 (2026) 1-12")
    q = make_paper("2601.00002v1", T0)
    with ArxivStandIn([p, q]) as srv:
        got = {x.id: x for x in client_for(srv, http).by_ids([p.id, q.id])}
    assert (got[p.id].doi, got[p.id].journal_ref) == (p.doi, p.journal_ref)
    assert (got[q.id].doi, got[q.id].journal_ref) == ("", "")


API_ERROR = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"
    b"<id>https://arxiv.org/</id><title>arXiv Search Results</title>"
    b"<entry><id>https://arxiv.org/api/errors#incorrect_id_format_for_zz</id><title>Error</title>"
    b"<summary>incorrect id format for zz</summary></entry></feed>"
)
FEED_ERROR = (
    b"<?xml version='1.0'?><rss version=\"2.0\"><channel><title>Feed error for query: x</title>"
    b"<description>Bad archive 'audiox'. Valid archive names are: cs, eess.</description></channel></rss>"
)


@pytest.mark.parametrize(
    ("body", "ctype", "reason"),
    [
        (API_ERROR, "application/atom+xml", "HTTP 400: incorrect id format for zz"),
        (FEED_ERROR, "application/rss+xml", "HTTP 400: Bad archive 'audiox'."),
        (b"Bad request: malformed query", "text/plain", "HTTP 400: Bad request: malformed query"),
        (b"<html><body>nope</body></html>", "text/html", "HTTP 400 ("),
    ],
)
def test_a_refusal_names_arxivs_reason(http: httpx.Client, body: bytes, ctype: str, reason: str) -> None:
    with ArxivStandIn([]) as srv:
        srv.fail_next(Reply(status=400, body=body, content_type=ctype))
        c = client_for(srv, http)
        with pytest.raises(FetchError) as info:
            c.by_ids(["zz"])
        assert len(srv.requests) == 1  # a refusal is not retried
    assert reason in str(info.value)
    assert "\n" not in str(info.value)


def test_an_error_entry_served_with_200_names_the_reason(http: httpx.Client) -> None:
    with ArxivStandIn([]) as srv:
        srv.fail_next(Reply(status=200, body=API_ERROR, content_type="application/atom+xml"))
        with pytest.raises(FetchError, match="arXiv refused the query: incorrect id format for zz"):
            client_for(srv, http).by_ids(["zz"])
