"""Against the real arXiv services; off by default (run with `pytest -m live`, needs network)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from digest.core.config import parse_config
from digest.core.http import USER_AGENT
from digest.core.window import window_for
from digest.fetch.arxiv import ArxivClient
from digest.fetch.windows import fetch_windows

pytestmark = pytest.mark.live


def _client() -> tuple[ArxivClient, httpx.Client]:
    cfg = parse_config({})
    http = httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=cfg.arxiv.timeout_seconds)
    return ArxivClient(cfg.arxiv, http, page_size=1000), http


def test_live_search_of_a_seed_day_finds_its_papers() -> None:
    cfg = parse_config({"window": {"basis": "submitted"}})
    client, http = _client()
    with http:
        papers = fetch_windows([window_for(datetime(2026, 1, 7).date(), cfg.window)], client,
                               cfg.arxiv.categories, cfg.arxiv.announce_types, now=datetime.now(UTC))
    ids = {p.base_id for p in next(iter(papers.values()))}
    assert "2601.03227" in ids  # the first paper of the 2026-01-07 seed


def test_live_listing_feed_parses() -> None:
    client, http = _client()
    with http:
        listing = client.listing()
    assert listing.entries == [] or listing.mailing_date is not None
