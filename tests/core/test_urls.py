"""The post path, the day-page URL and the paper anchors: one rule each, shared by post, site and notifications."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.core.errors import UsageError
from digest.core.urls import page_url, paper_anchor, paper_anchors, post_path, post_url
from helpers import make_entry


def test_post_path_and_page_url_agree_with_jekyll() -> None:
    assert post_path(Path("_posts"), "2026-01-07") == Path("_posts/2026-01-07-arxiv.md")
    assert post_url(post_path(Path("_posts"), "2026-01-07")) == "/2026/01/07/arxiv.html"
    assert page_url("", "2026-01-07") == "/2026/01/07/arxiv.html"
    assert page_url("https://example.org/blog/", "2026-01-07") == "https://example.org/blog/2026/01/07/arxiv.html"
    assert page_url("https://example.org/blog", "2026-01-07") == "https://example.org/blog/2026/01/07/arxiv.html"
    with pytest.raises(UsageError, match="not a post file name"):
        post_url(Path("notes.md"))


def test_anchors_drop_the_version_and_stay_unique() -> None:
    assert paper_anchor("2601.03227v2") == "2601-03227"
    assert paper_anchor(make_entry("cs/0112017v1")) == "cs-0112017"
    assert paper_anchor("not an id!") == "not-an-id"  # an imported paper's odd id still gets a usable anchor
    assert paper_anchor("???") == "paper"
    assert paper_anchors(["2601.03227v1", "2601.03227v2", "2601.03227v3", "2601.00001v1"]) == [
        "2601-03227", "2601-03227-2", "2601-03227-3", "2601-00001",
    ]


def test_notifications_link_to_the_anchors_the_site_writes() -> None:
    from digest.publish.notify.message import build_digest
    from digest.site.build import day_page, markdown_renderer
    from helpers import make_record

    record = make_record([make_entry("2601.20001v1"), make_entry("2601.20002v2"), make_entry("cs/0112017v1")],
                         "2026-01-07")
    page = day_page(record, markdown_renderer(), "{date}")
    digest = build_digest(record, site_url="https://example.org/blog/")
    assert page.url == "/2026/01/07/arxiv.html"
    assert [p.link for p in digest.papers] == [f"https://example.org/blog{page.url}#{c.anchor}" for c in page.papers]
