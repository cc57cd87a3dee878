"""The publisher seam: a new output is one module and one registration line, with no edit to the pipeline."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.core.store import load_record, write_record
from digest.pipeline import backfill, run_days
from digest.publish import outputs
from digest.standins.arxiv_server import ArxivStandIn, make_paper
from helpers import make_entry, make_record, quiet_services, write_config
from toy_json_output import DayJson

DAY = date(2026, 1, 7)


def _papers() -> list:
    end = datetime(2026, 1, 7, 0, 50, tzinfo=UTC)  # 08:50 Asia/Shanghai: the window's end
    return [make_paper(f"2601.{30001 + k}v1", end - timedelta(hours=2 + k), categories=["cs.SD"],
                       title=f"Toy Output Paper {k}") for k in range(3)]


@pytest.fixture
def day_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outputs, "PUBLISHERS", [*outputs.PUBLISHERS, DayJson()])  # the one registration line


def test_a_registered_output_is_written_by_a_run(tmp_path: Path, day_json: None) -> None:
    with ArxivStandIn(_papers()) as arxiv:
        write_config(tmp_path, arxiv={"api_url": arxiv.api_url, "listing_url": arxiv.listing_url},
                     window={"basis": "submitted"})
        cfg = load_config(tmp_path / "config.yaml", required=True)
        (out,) = run_days(cfg, [DAY], quiet_services(environ={}), no_llm=True)
    assert out.post is not None and out.post.exists()  # the post is still written, by its own publisher
    path = tmp_path / "_data" / "days" / "2026-01-07.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    record = load_record(cfg.records_dir, "2026-01-07")
    assert record is not None
    assert data["post"] == out.post.name == "2026-01-07-arxiv.md"
    assert [p["id"] for p in data["papers"]] == [e.id for e in record.papers] and len(data["papers"]) == 3
    assert {p["status"] for p in data["papers"]} == {"pending"}  # no model: translations still missing
    assert data["written_at"] == record.stats.finished_at


def test_without_registration_no_toy_output(tmp_path: Path) -> None:
    with ArxivStandIn(_papers()) as arxiv:
        write_config(tmp_path, arxiv={"api_url": arxiv.api_url, "listing_url": arxiv.listing_url},
                     window={"basis": "submitted"})
        cfg = load_config(tmp_path / "config.yaml", required=True)
        (out,) = run_days(cfg, [DAY], quiet_services(environ={}), no_llm=True)
    assert out.post is not None and not (tmp_path / "_data" / "days").exists()


def test_a_complete_day_skipped_by_backfill_is_left_alone(tmp_path: Path, day_json: None) -> None:
    write_config(tmp_path)  # no arXiv needed: every day asked for is complete, so nothing is fetched
    cfg = load_config(tmp_path / "config.yaml", required=True)
    write_record(cfg.records_dir, make_record([make_entry()], day="2026-01-07"))
    (out,) = backfill(cfg, DAY, DAY, quiet_services(environ={}))
    assert out.reason.startswith("already complete") and out.post is None
    assert not (tmp_path / "_data" / "days").exists() and not cfg.posts_dir.exists()
