"""The store with a damaged record: its papers still count as posted (from the post), it is reported once."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.core.store import DamagedRecord, RecordStore, restore_hint, write_record
from digest.publish.posts import post_base_ids, write_post
from helpers import make_entry, make_record, write_config


def _site(tmp_path: Path) -> tuple[RecordStore, list[str], Path]:
    cfg = load_config(write_config(tmp_path), required=True)
    record = make_record([make_entry("2601.00001v2"), make_entry("2601.00002v1")], day="2026-01-07")
    path = write_record(cfg.records_dir, record)
    write_post(cfg, record)
    path.write_text(path.read_text(encoding="utf-8")[:200], encoding="utf-8")  # cut short
    warnings: list[str] = []
    store = RecordStore(cfg.records_dir, cfg.posts_dir, post_ids=post_base_ids, warn=warnings.append)
    return store, warnings, path


def test_a_damaged_days_papers_still_count_as_posted(tmp_path: Path) -> None:
    store, warnings, path = _site(tmp_path)
    posted = store.posted()
    assert posted.excluding("2026-01-08") == {"2601.00001": "2026-01-07", "2601.00002": "2026-01-07"}
    assert len(warnings) == 1 and str(path) in warnings[0] and "read-only" in warnings[0]
    assert store.readable() == [] and store.load_writable("2026-01-07") is None
    assert len(warnings) == 1  # once per file, however often it is met
    with pytest.raises(DamagedRecord, match="not valid JSON"):
        store.load("2026-01-07")
    assert [d.path for d in store.damaged()] == [path]


def test_backfill_skips_a_damaged_day_a_run_of_it_raises(tmp_path: Path) -> None:
    store, _, path = _site(tmp_path)
    loaded, damaged = store.load_days(["2026-01-07", "2026-01-08"], skip_damaged=True)
    assert loaded == {"2026-01-08": None} and damaged == ["2026-01-07"]
    with pytest.raises(DamagedRecord):
        store.load_days(["2026-01-07"], skip_damaged=False)


def test_the_restore_hint_offers_git_only_in_a_repository(tmp_path: Path) -> None:
    store, _, path = _site(tmp_path)
    post = store.post_path("2026-01-07")
    assert restore_hint(path, post) == (
        f"re-import its post with `digest import {post}` — digest will not overwrite it")
    (tmp_path / ".git").mkdir()
    assert restore_hint(path, post) == (f"restore it with `git checkout -- {path}` or re-import its post with "
                                        f"`digest import {post}` — digest will not overwrite it")
    post.unlink()
    assert restore_hint(path, post) == f"restore it with `git checkout -- {path}` — digest will not overwrite it"
