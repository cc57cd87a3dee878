"""The record's one owner: statuses computed in one place, the never-worse rule, the store's lock and checkpoint."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from digest.core.errors import LockedError
from digest.core.record import TaskResult
from digest.core.store import RecordStore, load_record
from helpers import make_entry, make_record

SRC = Path(__file__).resolve().parents[2] / "src" / "digest"


def test_a_done_result_is_never_replaced_by_a_failure() -> None:
    entry = make_entry()
    entry.keep("translation", TaskResult(status="failed", error="timed out"))
    entry.keep("deep_read", TaskResult(status="deferred", error="budget"))
    assert entry.translation is not None and entry.translation.status == "done"
    assert entry.deep_read is not None and entry.deep_read.status == "done"
    entry.keep("translation", TaskResult(status="done", text="新的译文"))
    assert entry.translation.text == "新的译文"  # a better (or equally good) result is taken


def test_a_failure_replaces_a_failure_or_nothing() -> None:
    entry = make_entry(translation=None, deep_read=None)
    entry.keep("translation", TaskResult(status="failed", error="first"))
    entry.keep("translation", TaskResult(status="failed", error="second"))
    assert entry.translation is not None and entry.translation.error == "second"


def test_status_from_results_and_required_tasks() -> None:
    entry = make_entry()
    assert entry.status_for(["translation", "deep_read"]) == "done"
    assert entry.status_for(["translation", "deep_read", "title_zh"]) == "pending"  # a task added since
    entry.keep("title_zh", TaskResult(status="deferred"))
    assert entry.status_for(["translation"]) == "pending"
    entry.keep("title_zh", TaskResult(status="failed", error="x"))
    entry.refresh_status(["translation"])
    assert entry.status == "failed"


def test_store_saves_loads_and_records_what_was_sent(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "records", tmp_path / "_posts")
    store.save(make_record([make_entry()], day="2026-01-07"))
    assert store.days() == ["2026-01-07"] and store.load("2026-01-08") is None
    store.add_notified("2026-01-07", {"mail": "2026-01-07T01:00:00+00:00"})
    store.add_notified("2026-01-08", {"mail": "x"})  # no record that day: nothing is created
    record = load_record(tmp_path / "records", "2026-01-07")
    assert record is not None and record.notified == {"mail": "2026-01-07T01:00:00+00:00"}
    assert store.days() == ["2026-01-07"]
    assert store.post_path("2026-01-07") == tmp_path / "_posts" / "2026-01-07-arxiv.md"


def test_checkpoint_saves_at_most_once_a_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import digest.core.store as store_module

    now = [100.0]
    monkeypatch.setattr(store_module.time, "monotonic", lambda: now[0])
    store = RecordStore(tmp_path / "records", tmp_path / "_posts")
    save = store.checkpoint(make_record([make_entry()]))
    assert save() is True and (tmp_path / "records" / "2026-01-07.json").exists()
    now[0] += 0.5
    assert save() is False
    now[0] += 0.6
    assert save() is True


def test_the_lock_is_held_while_locked(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "records", tmp_path / "_posts", lock_wait=0.0)
    other = RecordStore(tmp_path / "records", tmp_path / "_posts", lock_wait=0.0)
    with store.locked("run"), pytest.raises(LockedError, match="`run`"), other.locked("render"):
        pass
    with other.locked("render"):  # released on leaving
        pass


def _calls(path: Path, name: str) -> int:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return sum(1 for node in ast.walk(tree) if isinstance(node, ast.Call)
               and getattr(node.func, "id", getattr(node.func, "attr", None)) == name)


def test_one_place_takes_the_lock_and_writes_records() -> None:
    modules = [p for p in SRC.rglob("*.py") if p.name != "store.py" or p.parent.name != "core"]
    assert [str(p.relative_to(SRC)) for p in modules if _calls(p, "site_lock")] == []
    assert [str(p.relative_to(SRC)) for p in modules if _calls(p, "write_record")] == []
    # Entry.status is typed: no assignment to it needs to silence the type checker.
    assert [line for p in SRC.rglob("*.py") for line in p.read_text(encoding="utf-8").splitlines()
            if ".status = " in line and "type: ignore" in line] == []


def test_the_pipeline_is_a_short_loop() -> None:
    text = (SRC / "pipeline.py").read_text(encoding="utf-8")
    imported = {n.module for n in ast.walk(ast.parse(text)) if isinstance(n, ast.ImportFrom) and n.module}
    assert len(text.splitlines()) <= 250
    assert not {m for m in imported if m.startswith(("digest.publish.notify", "digest.site", "digest.publish.markdown"))}
