"""`digest run --no-llm` in-process against an arXiv stand-in: the post's header, counts and metadata match a seed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.core.outcome import DayOutcome
from digest.pipeline import run_days
from digest.standins.arxiv_server import ArxivStandIn, make_paper
from helpers import digest_cli, quiet_services, seed_day, seed_files, write_config


def _run(site: Path, day: str, **kw: bool) -> tuple[DayOutcome, str]:
    """`digest run --date DAY` in-process without any API key; the outcome and the reporter's lines."""
    services = quiet_services(environ={})
    (out,) = run_days(load_config(site / "config.yaml", required=True), [date.fromisoformat(day)], services, **kw)
    return out, services.reporter.stream.getvalue()


def _metadata_lines(post: str) -> list[str]:
    keep = ("以下为", "- 时间窗口", "- 抓取总数", "## ", "- **Authors**", "- **Categories**", "- **arXiv**",
            "- **PDF**")
    return [ln for ln in post.splitlines() if ln.startswith(keep)]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_no_llm_run_matches_seed_metadata(tmp_path: Path, index: int) -> None:
    seeds = seed_files()
    seed = seeds[index % len(seeds)]
    record, papers = seed_day(seed)
    start = datetime.fromisoformat(record.window.start)
    end = datetime.fromisoformat(record.window.end)
    extra = [
        make_paper("2601.99990v1", end, categories=["cs.SD"]),  # exactly at the end: out
        make_paper("2601.99991v1", start - timedelta(seconds=1), categories=["eess.AS"]),  # just before: out
    ]
    missing = record.counts.fetched - record.counts.shown
    site = tmp_path
    if missing:
        # The seed's fetch found papers that an earlier post already showed: give them an earlier record.
        dup = [make_paper(f"2601.9980{k}v1", start + timedelta(minutes=k + 1)) for k in range(missing)]
        papers += dup
        (site / "_data" / "digest").mkdir(parents=True)
        from digest.core.store import write_record
        from helpers import make_entry, make_record

        prev_day = (end - timedelta(days=1)).date().isoformat()
        write_record(site / "_data" / "digest", make_record([make_entry(p.id) for p in dup], day=prev_day))
    with ArxivStandIn(papers + extra) as arxiv:
        write_config(site, arxiv={"api_url": arxiv.api_url, "listing_url": arxiv.listing_url},
                     window={"basis": "submitted"})
        out, log = _run(site, record.date, no_llm=True)
    assert out.post is not None and not out.stopped
    assert "--no-llm" in log  # one warning line says the post has no model texts
    post = (site / "_posts" / seed.name).read_text(encoding="utf-8")
    assert _metadata_lines(post) == _metadata_lines(seed.read_text(encoding="utf-8"))
    assert "<details>" not in post
    assert "English abstract of paper" in post


def test_window_without_mailing_writes_no_post(tmp_path: Path) -> None:
    # Winter: Thursday's 20:00 EST mailing is Friday 09:00 CST, so the window of Sunday 2026-01-11
    # (Saturday 08:50 - Sunday 08:50 CST) holds Friday night New York time, when arXiv sends nothing.
    site = tmp_path
    with ArxivStandIn([make_paper("2601.05000v1", datetime(2026, 1, 9, 20, 0, tzinfo=UTC))]) as arxiv:
        write_config(site, arxiv={"api_url": arxiv.api_url, "listing_url": arxiv.listing_url})
        out, log = _run(site, "2026-01-11", no_llm=True)
    # Said once, by the summary (from out.reason), not also while running.
    assert out.post is None and "no arXiv mailing" in out.reason and "no arXiv mailing" not in log
    assert not (site / "_posts" / "2026-01-11-arxiv.md").exists()


def test_bad_date_is_a_one_line_usage_error(tmp_path: Path) -> None:
    write_config(tmp_path)
    proc = digest_cli(tmp_path, "run", "--date", "2026-02-30")  # CLI smoke test
    assert proc.returncode == 2
    assert proc.stderr.strip() == "digest: error: --date: expected an existing date YYYY-MM-DD, got '2026-02-30'"
