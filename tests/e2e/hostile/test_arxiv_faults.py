"""arXiv misbehaving: HTML pages, truncated XML, broken entries, lying totals, resets, 429 and 503 storms."""

from __future__ import annotations

import re
from pathlib import Path

from digest.standins.arxiv_server import ATOM, ArxivStandIn, api_feed, entry_xml, make_paper
from digest.standins.base import Reply, Request

from .kit import DAY, WINDOW_END, HostileSite, assert_post_safe, invented_papers


def site_state(site: HostileSite) -> dict[str, bytes]:
    """Every file of the posts and records folders (the lock file aside: each run rewrites it)."""
    files = [*(site.dir / "_posts").rglob("*"), *(site.dir / "_data").rglob("*")]
    return {p.relative_to(site.dir).as_posix(): p.read_bytes() for p in files if p.is_file() and "lock" not in p.name}


def test_html_page_instead_of_atom_is_retried(tmp_path: Path) -> None:
    with HostileSite(tmp_path) as site:
        site.arxiv.html_next(times=2)
        proc = site.run("--no-llm", "--verbose")
        assert proc.returncode == 0, proc.stderr
        assert "HTML page instead of an Atom feed" in proc.stderr
        assert len(site.arxiv.search_requests) == 3
        assert_post_safe(site.post, 3, details=False)


def test_html_page_every_time_fails_the_run_in_one_line(tmp_path: Path) -> None:
    with HostileSite(tmp_path) as site:
        site.arxiv.html_next(times=10)
        proc = site.run("--no-llm")
        assert proc.returncode == 1
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("digest: error: arXiv search failed after 3 attempts: an HTML page")
        assert "Traceback" not in proc.stderr
        assert not site.post_file.exists() and not site.record_file.exists()


def test_truncated_xml_is_retried(tmp_path: Path) -> None:
    with HostileSite(tmp_path) as site:
        site.arxiv.truncated_next()
        proc = site.run("--no-llm", "--verbose")
        assert proc.returncode == 0, proc.stderr
        assert "invalid or truncated XML" in proc.stderr
        assert len(site.arxiv.search_requests) == 2
        assert site.post.count("\n## ") == 3  # the half page's papers were not taken as the whole


def test_connection_reset_mid_body_is_retried(tmp_path: Path) -> None:
    papers = invented_papers(3)
    whole = api_feed([entry_xml(p) for p in papers], total=3, start=0, per_page=100)
    with HostileSite(tmp_path, papers=papers) as site:
        site.arxiv.fail_next(Reply(body=whole, content_type=ATOM, drop_after=len(whole) // 2))
        proc = site.run("--no-llm", "--verbose")
        assert proc.returncode == 0, proc.stderr
        assert "connection failed" in proc.stderr
        assert site.post.count("\n## ") == 3
        assert site.record["counts"] == {"fetched": 3, "shown": 3}


def test_429_with_retry_after_is_honoured(tmp_path: Path) -> None:
    with HostileSite(tmp_path) as site:
        site.arxiv.error_next(429, retry_after="1")
        proc = site.run("--no-llm", "--verbose")
        assert proc.returncode == 0, proc.stderr
        first, second = site.arxiv.search_requests[:2]
        assert second.at - first.at >= 0.95  # waited as told, not the 0.05 s throttle
        assert "rate limited (HTTP 429)" in proc.stderr


def test_retry_after_of_an_hour_gives_up_at_once(tmp_path: Path) -> None:
    with HostileSite(tmp_path) as site:
        site.arxiv.error_next(429, retry_after="3600", times=5)
        proc = site.run("--no-llm", timeout=30)
        assert proc.returncode == 1
        assert "rate limited for 3600 s (Retry-After); try again later" in proc.stderr
        assert len(site.arxiv.search_requests) == 1


def test_503_storm_fails_and_leaves_the_previous_post_and_record_untouched(tmp_path: Path) -> None:
    with HostileSite(tmp_path) as site:
        first = site.run()
        assert first.returncode == 0, first.stderr
        before = site_state(site)
        assert f"_posts/{DAY}-arxiv.md" in before and f"_data/digest/{DAY}.json" in before
        site.arxiv.error_next(503, times=20)
        proc = site.run("--force")
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert lines[-1] == "digest: error: arXiv search failed after 3 attempts: HTTP 503; try again later"
        assert "Traceback" not in proc.stderr
        after = site_state(site)
        assert after == before
        assert len(site.arxiv.search_requests) == 1 + 3


def _without(xml: str, *tags: str) -> str:
    for tag in tags:
        xml = re.sub(rf"\s*<{tag}>.*?</{tag}>", "", xml, flags=re.S)
    return xml


def test_broken_entries_are_skipped_and_odd_ones_rendered_safely(tmp_path: Path) -> None:
    t = WINDOW_END
    from datetime import timedelta

    good = make_paper("2601.20001v1", t - timedelta(hours=1), title="An ordinary paper")
    no_title = make_paper("2601.20002v1", t - timedelta(hours=2))
    no_authors = make_paper("2601.20003v1", t - timedelta(hours=3), title="A paper nobody signed")
    no_dates = make_paper("2601.20004v1", t - timedelta(hours=4))
    long_title = make_paper("2601.20005v1", t - timedelta(hours=5),
                            title=("Very long title about <b>speech</b> & {{noise}} " * 50).strip())
    odd_id = make_paper("2601.20006v1", t - timedelta(hours=6), title="A paper with a strange id")
    entries = [
        entry_xml(good),
        _without(entry_xml(no_title), "title"),
        _without(entry_xml(no_authors), "author"),
        _without(entry_xml(no_dates), "published", "updated"),
        entry_xml(long_title),
        entry_xml(odd_id).replace("2601.20006v1", "../../etc/passwd"),
    ]
    feed = api_feed(entries, total=len(entries), start=0, per_page=100)
    with HostileSite(tmp_path, papers=[]) as site:
        site.arxiv.fail_next(Reply(body=feed, content_type=ATOM))
        proc = site.run("--no-llm", "--verbose")
        assert proc.returncode == 0, proc.stderr
        assert "skipped arXiv entry http://arxiv.org/abs/2601.20002v1: missing title" in proc.stderr
        assert "missing published date" in proc.stderr
        assert "etc/passwd" in proc.stderr and "missing id" in proc.stderr
        post = site.post
        assert_post_safe(post, 3, details=False)
        ids = [e["id"] for e in site.record["papers"]]
        assert ids == ["2601.20001v1", "2601.20003v1", "2601.20005v1"]
        assert len(site.record["papers"][2]["title"]) > 2000
        assert "passwd" not in post


class _LyingTotal(ArxivStandIn):
    """Claims a million results on every page, whatever it actually has."""

    def handle(self, request: Request) -> Reply:
        reply = super().handle(request)
        reply.body = re.sub(rb"<opensearch:totalResults>\d+<", b"<opensearch:totalResults>1000000<", reply.body)
        return reply


def test_total_larger_than_paging_reaches_ends_with_what_exists(tmp_path: Path) -> None:
    papers = invented_papers(3)
    with HostileSite(tmp_path, papers=papers) as site:
        site.arxiv = _LyingTotal(papers)
        site.arxiv.start()
        site.write_config()
        proc = site.run("--no-llm", "--verbose", timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert site.post.count("\n## ") == 3
        # it gave up on the phantom pages after its retry budget instead of paging to a million
        assert len(site.arxiv.search_requests) <= 1 + 3
        assert "stayed empty" in proc.stderr
