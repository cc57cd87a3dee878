"""Cache retention on real files in a temporary cache, with an injected date: what goes, what stays, what is told."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from digest.core.record import TaskResult
from digest.core.templates import template_env
from digest.enrich.cache import ResultsCache, cache_key
from digest.enrich.retention import (
    DayPapers,
    Pruned,
    cache_size,
    current_cache_keys,
    local_today,
    prune_cache,
)
from helpers import make_entry, make_record

TODAY = date(2026, 12, 2)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def cached(cache: Path, paper_id: str, *, pdf: int = 3000, html: int = 0) -> list[Path]:
    """Put a PDF (and an HTML page) of the given sizes into the cache, as the fetcher names them."""
    files = []
    if pdf:
        files.append(cache / "pdf" / f"{paper_id.replace('/', '_')}.pdf")
        files[-1].parent.mkdir(parents=True, exist_ok=True)
        files[-1].write_bytes(b"%PDF-" + b"x" * (pdf - 5))
    if html:
        files.append(cache / "html" / f"{paper_id.replace('/', '_')}.html")
        files[-1].parent.mkdir(parents=True, exist_ok=True)
        files[-1].write_bytes(b"<" * html)
    return files


def test_a_complete_old_day_loses_its_texts_recent_and_incomplete_days_keep_theirs(tmp_path: Path) -> None:
    old_a = cached(tmp_path, "2611.00001v1", pdf=2000, html=500) + cached(tmp_path, "cs/0112017v2", pdf=1000)
    recent = cached(tmp_path, "2611.00002v1")
    unfinished = cached(tmp_path, "2611.00003v1")
    shared = cached(tmp_path, "2611.00004v1")  # on the old day and on the unfinished one
    stray = cached(tmp_path, "2611.09999v1")  # on no day we were told of
    days = [
        DayPapers(ago(8), True, ("2611.00001v1", "cs/0112017v2", "2611.00004v1")),
        DayPapers(ago(3), True, ("2611.00002v1",)),
        DayPapers(ago(10), False, ("2611.00003v1", "2611.00004v1")),
    ]
    pruned = prune_cache(days, today=TODAY, keep_days=7, cache_dir=tmp_path, current_keys=None)
    assert pruned == Pruned(files=3, bytes=3500, results=0)
    assert not any(p.exists() for p in old_a)
    assert all(p.exists() for p in recent + unfinished + shared + stray)
    assert pruned.summary() == "pruned 3 files (0.0 MB)"


def test_age_is_counted_in_whole_days_past_keep_days(tmp_path: Path) -> None:
    seven, eight = cached(tmp_path, "2611.00007v1"), cached(tmp_path, "2611.00008v1")
    days = [DayPapers(ago(7), True, ("2611.00007v1",)), DayPapers(ago(8), True, ("2611.00008v1",))]
    prune_cache(days, today=TODAY, keep_days=7, cache_dir=tmp_path, current_keys=None)
    assert seven[0].exists() and not eight[0].exists()
    prune_cache(days, today=TODAY, keep_days=0, cache_dir=tmp_path, current_keys=None)
    assert not seven[0].exists()


def test_today_is_the_configured_zones_date() -> None:
    # 16:30 UTC on 2 December is already 3 December in Shanghai, still 2 December in New York.
    now = datetime(2026, 12, 2, 16, 30, tzinfo=UTC)
    assert local_today(now, "Asia/Shanghai") == date(2026, 12, 3)
    assert local_today(now, "America/New_York") == date(2026, 12, 2)


def test_a_day_is_complete_when_every_paper_is_done() -> None:
    done = make_record([make_entry("2611.00001v1"), make_entry("2611.00002v1")], day="2026-11-20")
    failed = make_record([make_entry("2611.00003v1"), make_entry("2611.00004v1", deep_error="PDF 尚未提供")])
    assert DayPapers.of(done) == DayPapers(date(2026, 11, 20), True, ("2611.00001v1", "2611.00002v1"))
    assert DayPapers.of(failed).complete is False
    done.papers[0].new_version = "2611.00001v2"  # the newer version's text is the day's too
    assert DayPapers.of(done).paper_ids == ("2611.00001v1", "2611.00002v1", "2611.00001v2")


def test_superseded_results_pruned_current_ones_kept(tmp_path: Path) -> None:
    env = template_env()
    keys = current_cache_keys(env, ["deepseek-chat", "fallback-model", "deepseek-chat"])
    assert keys and all(k.split("|")[1] in ("deepseek-chat", "fallback-model") for k in keys)
    translation_key = next(k for k in keys if k.startswith("translation|deepseek-chat|"))
    current_hash = translation_key.rsplit("|", 1)[1]
    cache = ResultsCache(tmp_path)
    fresh = TaskResult(status="done", text="新译文", model="deepseek-chat", prompt_hash=current_hash)
    cache.put("2611.00001v1", "translation", fresh)
    cache.put("2611.00001v1", "translation", fresh.model_copy(update={"prompt_hash": "0ld0ld0ld0ld"}))
    cache.put("2611.00002v1", "translation", fresh.model_copy(update={"model": "retired-model"}))
    (tmp_path / "results" / "2611.00003v1.json").write_text("{ cut short", encoding="utf-8")
    before = cache_size(tmp_path)

    pruned = prune_cache([], today=TODAY, keep_days=7, cache_dir=tmp_path, current_keys=keys)
    assert pruned.files == 2 and pruned.results == 2
    assert cache.get("2611.00001v1", "translation", "deepseek-chat", current_hash) == fresh
    left = json.loads((tmp_path / "results" / "2611.00001v1.json").read_text(encoding="utf-8"))
    assert list(left) == [cache_key("translation", "deepseek-chat", current_hash)]
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["2611.00001v1.json"]
    after = cache_size(tmp_path)
    assert after[0] == before[0] - 2 and after[1] == before[1] - pruned.bytes


def test_a_changed_model_changes_every_key() -> None:
    env = template_env()
    assert current_cache_keys(env, ["a"]).isdisjoint(current_cache_keys(env, ["b"]))


def test_cache_size_counts_every_file(tmp_path: Path) -> None:
    assert cache_size(tmp_path / "not-yet") == (0, 0)
    cached(tmp_path, "2611.00001v1", pdf=1000, html=200)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "2611.00001v1.json").write_text("{}", encoding="utf-8")
    assert cache_size(tmp_path) == (3, 1202)
