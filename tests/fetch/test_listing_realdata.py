"""Real arXiv material (../shared/realdata): listing feeds and API answers through the real client.

The files are read in place and never copied here; without them every test skips with the reason.
The real feeds' papers were submitted long ago and the feeds carry no submission times, so the
acceptance tests give each listed paper invented API metadata (times inside or, for a few papers
"held back", before the mailing's submission range) and serve the real feed from the stand-in.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest

from digest.core.config import ArxivConfig, WindowConfig
from digest.core.errors import FetchError
from digest.core.record import Mailing, Paper
from digest.core.window import NEW_YORK, window_for
from digest.fetch.arxiv import ArxivClient
from digest.fetch.windows import fetch_windows
from digest.standins.arxiv_server import ArxivStandIn, Reply, make_paper, restamp

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
RSS_ALL = "feeds/rss_all-archives_2024-11-28.xml"
ATOM_AI = "feeds/atom_cs.AI_2025-08-20_repaired.xml"
CFG = WindowConfig()
TYPES = ["new", "cross"]
AUDIO = ("cs.SD", "eess.AS")


def real(name: str) -> bytes:
    path = REALDATA / name
    if not path.is_file():
        pytest.skip(f"no real arXiv material at {path} (../shared/realdata is not beside the checkout)")
    return path.read_bytes()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def client_for(srv: ArxivStandIn, http: httpx.Client, *, rss: bool = False, retries: int = 3) -> ArxivClient:
    cfg = ArxivConfig(
        api_url=srv.api_url,
        listing_url=srv.rss_listing_url if rss else srv.listing_url,
        delay_seconds=0.0,
        timeout_seconds=5,
        max_retries=retries,
    )
    return ArxivClient(cfg, http, sleep=lambda _s: None)


def only_categories(rss: bytes, cats: tuple[str, ...]) -> bytes:
    """The RSS feed with only the items in these categories: what arXiv's feed for them would list."""
    tags = tuple(f"<category>{c}</category>".encode() for c in cats)

    def keep(m: re.Match[bytes]) -> bytes:
        return m.group(0) if any(t in m.group(0) for t in tags) else b""

    return re.sub(rb"\s*<item>.*?</item>", keep, rss, flags=re.DOTALL)


def listed_items(feed: bytes) -> list[tuple[str, str, tuple[str, ...]]]:
    """(versioned id, announce type, categories) of each entry, read independently of the client."""
    parsed = feedparser.parse(feed)
    return [
        (e["id"].rsplit(":", 1)[-1], e["arxiv_announce_type"], tuple(t["term"] for t in e.get("tags", [])))
        for e in parsed["entries"]
    ]


def mailing_of(post: date) -> Mailing:
    (m,) = window_for(post, CFG).mailings
    return m


def invented_metadata(
    items: list[tuple[str, str, tuple[str, ...]]], m: Mailing, held_every: int
) -> tuple[list[Paper], set[str]]:
    """API metadata for a feed's papers: new and cross in the mailing's range, every n-th new held back."""
    papers: list[Paper] = []
    held: set[str] = set()
    step = (m.covers_to - m.covers_from) / (len(items) + 1)
    n_new = 0
    for i, (arxiv_id, kind, cats) in enumerate(items):
        when = m.covers_from + step * (i + 1)
        if kind == "new":
            n_new += 1
            if n_new % held_every == 0:
                when = m.covers_from - timedelta(days=3 + n_new % 5, hours=n_new)
                held.add(arxiv_id)
        elif kind not in TYPES:  # replace: first version in the month of its id
            yymm = arxiv_id.split(".")[0]
            when = datetime(2000 + int(yymm[:2]), int(yymm[2:]), 2, tzinfo=UTC)
        papers.append(make_paper(arxiv_id, when, categories=cats))
    return papers, held


def next_batch(m: Mailing, prefix: str, cats: tuple[str, ...], n: int = 6) -> list[Paper]:
    step = (m.covers_to - m.covers_from) / (n + 1)
    return [
        make_paper(f"{prefix}.{90000 + i:05d}v1", m.covers_from + step * (i + 1), categories=cats) for i in range(n)
    ]


def ids(papers: list[Paper]) -> set[str]:
    return {p.id for p in papers}


# ---------------------------------------------------------------- parsing the real feeds


def test_real_rss_all_archives_feed(http: httpx.Client) -> None:
    body = real(RSS_ALL)
    with ArxivStandIn([]) as srv:
        srv.serve_listing(body, content_type="application/rss+xml")
        listing = client_for(srv, http, rss=True).listing(["cs", "eess"])
    assert len(listing.entries) == 1504
    assert Counter(k for _, k in listing.entries) == {"new": 926, "replace": 569, "cross": 9}
    assert listing.listing_date == date(2024, 11, 28)  # pubDate Thu, 28 Nov 2024 00:00:00 -0500
    assert listing.mailing_date == date(2024, 11, 27)
    assert listing.built == datetime(2024, 11, 28, 14, 47, 20, tzinfo=UTC)  # lastBuildDate: says nothing
    # Ids are handed out at announcement: the new ones are one unbroken block, so an id's yymm
    # tells the month of the mailing, not when the paper was submitted.
    numbers = sorted(int(i.split(".")[1][:5]) for i, k in listing.entries if k == "new")
    assert numbers == list(range(numbers[0], numbers[0] + 926))
    audio = [i for i, _k, cats in listed_items(body) if set(cats) & set(AUDIO)]
    assert len(audio) == 27


def test_real_atom_feed(http: httpx.Client) -> None:
    with ArxivStandIn([]) as srv:
        srv.serve_listing(real(ATOM_AI))
        listing = client_for(srv, http).listing(["cs.AI"])
    assert len(listing.entries) == 86
    assert Counter(k for _, k in listing.entries) == {"new": 41, "cross": 45}
    assert (listing.listing_date, listing.mailing_date) == (date(2025, 8, 20), date(2025, 8, 19))


def test_real_empty_and_error_feeds(http: httpx.Client) -> None:
    with ArxivStandIn([]) as srv:
        srv.serve_listing(real("feeds/rss_test-archive_empty_2024-11-28.xml"), content_type="application/rss+xml")
        empty = client_for(srv, http, rss=True).listing(["test"])
        srv.serve_listing(
            real("feeds/rss_error_bad-archive_2024-11-28.xml"), status=400, content_type="application/rss+xml"
        )
        with pytest.raises(FetchError, match=r"HTTP 400: Bad archive 'astroph'\. Valid archive names are: astro-ph"):
            client_for(srv, http, rss=True).listing(["astroph"])
    assert (empty.entries, empty.mailing_date) == ([], date(2024, 11, 27))


def test_real_truncated_atom_feed_is_retried_then_refused(http: httpx.Client) -> None:
    with ArxivStandIn([]) as srv:
        srv.serve_listing(real("feeds/atom_cs.AI_2025-08-20_truncated.xml"))
        with pytest.raises(FetchError, match="invalid or truncated XML"):
            client_for(srv, http, retries=1).listing(["cs.AI"])
        assert len(srv.listing_requests) == 2


# ---------------------------------------------------------------- the real API answers


def cassettes() -> list[Path]:
    found = sorted((REALDATA / "api").glob("arxivpy_*.json")) if (REALDATA / "api").is_dir() else []
    if not found:
        pytest.skip(f"no API cassettes at {REALDATA / 'api'} (../shared/realdata is not beside the checkout)")
    return found


def test_real_api_answers_keep_doi_and_journal_ref(http: httpx.Client) -> None:
    seen = Counter[str]()
    for path in cassettes():
        cassette = json.loads(path.read_text(encoding="utf-8"))
        raw = cassette["body"].encode("latin-1")
        with ArxivStandIn([]) as srv:
            srv.fail_next(Reply(status=cassette["status_code"], body=raw, content_type="application/atom+xml"))
            client = client_for(srv, http)
            if cassette["status_code"] == 400:
                with pytest.raises(FetchError, match="HTTP 400: incorrect id format for abc"):
                    client.by_ids(["abc"])
                seen["refusals"] += 1
                continue
            got = client.by_ids(["0000.0000"])
        text = raw.decode("utf-8")
        assert len(got) == text.count("<entry>"), path.name
        assert sum(1 for p in got if p.doi) == text.count("<arxiv:doi"), path.name
        assert sum(1 for p in got if p.journal_ref) == text.count("<arxiv:journal_ref"), path.name
        assert client.warnings == [], path.name
        seen["papers"] += len(got)
        seen["doi"] += sum(1 for p in got if p.doi)
        seen["journal_ref"] += sum(1 for p in got if p.journal_ref)
        if "q_testing_s0_m100" in path.name:
            assert (len(got), sum(1 for p in got if p.doi), sum(1 for p in got if p.journal_ref)) == (100, 32, 18)
        if "astro-ph_0601001" in path.name:
            assert got[0].journal_ref and got[0].id == "astro-ph/0601001v1"
    assert seen["refusals"] == 1 and seen["papers"] >= 100


def test_real_2016_api_answer_doi(http: httpx.Client) -> None:
    raw = real("api/arxivpy2016_id_list_1111.2011v2.xml")
    with ArxivStandIn([]) as srv:
        srv.fail_next(Reply(body=raw, content_type="application/atom+xml"))
        (paper,) = client_for(srv, http).by_ids(["1111.2011v2"])
    assert paper.doi == "10.1103/PhysRevB.85.115117"
    assert paper.journal_ref == "Phys. Rev. B 85, 115117 (2012)"


# ---------------------------------------------------------------- acceptance: the right post for a real feed


def test_real_atom_feed_in_the_summer_gap(http: httpx.Client) -> None:
    """cs.AI listing of 2025-08-20 (Tuesday 08-19's mailing); the 08:50 Shanghai run is 20:50 New York."""
    body = real(ATOM_AI)
    items = listed_items(body)
    own_post, next_post = date(2025, 8, 20), date(2025, 8, 21)
    own, nxt = mailing_of(own_post), mailing_of(next_post)
    assert own.announced_at == datetime(2025, 8, 19, 20, tzinfo=NEW_YORK)
    listed, held = invented_metadata(items, own, held_every=10)
    later = next_batch(nxt, "2508", ("cs.AI",))
    stale_at = datetime(2025, 8, 20, 20, 50, tzinfo=NEW_YORK)
    assert window_for(next_post, CFG).end == stale_at  # the anchor run of the next post
    # The old rule (build time - 20 h) read this stale feed as Wednesday's mailing: the next post.
    assert (stale_at - timedelta(hours=20)).date() == nxt.announced_at.date()
    with ArxivStandIn(listed + later) as srv:
        srv.serve_listing(restamp(body, stale_at))
        client = client_for(srv, http)
        stale = fetch_windows([window_for(next_post, CFG)], client, ["cs.AI"], TYPES, now=stale_at)
        assert any("mailing of 2025-08-19, which is in none of the requested windows" in w for w in client.warnings)
        # A backfill of both days with the same stale feed: each batch lands in its own post.
        both = fetch_windows(
            [window_for(own_post, CFG), window_for(next_post, CFG)],
            client_for(srv, http),
            ["cs.AI"],
            TYPES,
            now=stale_at,
        )
        srv.serve_listing(body)  # as built: 2025-08-20T04:00:19Z
        current = fetch_windows(
            [window_for(own_post, CFG)],
            client_for(srv, http),
            ["cs.AI"],
            TYPES,
            now=own.announced_at + timedelta(hours=4),
        )
    assert ids(stale[next_post]) == ids(later)
    assert not ids(stale[next_post]) & {i for i, _, _ in items}
    assert ids(current[own_post]) == {i for i, _, _ in items}  # 41 new + 45 cross, held back included
    assert len(held) == 4 and held <= ids(current[own_post])
    assert ids(both[own_post]) == ids(current[own_post]) and ids(both[next_post]) == ids(later)


def test_real_rss_feed_of_the_audio_categories(http: httpx.Client) -> None:
    """The all-archives RSS of 2024-11-28 cut to its cs.SD/eess.AS items: Wednesday 11-27's mailing."""
    body = only_categories(real(RSS_ALL), AUDIO)
    items = listed_items(body)
    assert Counter(k for _, k, _ in items) == {"new": 16, "replace": 11}
    own_post, next_post = date(2024, 11, 29), date(2024, 11, 30)
    own, nxt = mailing_of(own_post), mailing_of(next_post)
    assert own.announced_at == datetime(2024, 11, 27, 20, tzinfo=NEW_YORK)
    listed, held = invented_metadata(items, own, held_every=8)
    later = next_batch(nxt, "2411", ("eess.AS",))
    stale_at = datetime(2024, 11, 28, 20, 50, tzinfo=NEW_YORK)  # built after Thursday's mailing went out
    new_ids = {i for i, k, _ in items if k == "new"}
    with ArxivStandIn(listed + later) as srv:
        srv.serve_listing(restamp(body, stale_at), content_type="application/rss+xml")
        stale = fetch_windows(
            [window_for(next_post, CFG)], client_for(srv, http, rss=True), list(AUDIO), TYPES, now=stale_at
        )
        srv.serve_listing(body, content_type="application/rss+xml")  # lastBuildDate 14:47:20 UTC
        current = fetch_windows(
            [window_for(own_post, CFG)],
            client_for(srv, http, rss=True),
            list(AUDIO),
            TYPES,
            now=datetime(2024, 11, 28, 14, 47, 20, tzinfo=UTC),
        )
    assert ids(stale[next_post]) == ids(later)
    inside = sum(1 for p in listed if p.id in new_ids and own.covers_from <= p.published < own.covers_to)
    assert (inside, len(held)) == (14, 2)
    assert ids(current[own_post]) == new_ids  # the 11 replaced papers are not this mailing's
    assert all(p.announce_type == "new" for p in current[own_post])
