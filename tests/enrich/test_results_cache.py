"""The per-paper results cache: keyed by paper version, task, model and prompt hash; concurrent puts never undo each other."""

from __future__ import annotations

import threading
from pathlib import Path

from digest.core.record import TaskResult
from digest.enrich.cache import ResultsCache


def done(text: str, model: str = "m", prompt_hash: str = "h1") -> TaskResult:
    return TaskResult(status="done", text=text, model=model, prompt_hash=prompt_hash)


def test_keeps_done_results_per_task_and_skips_failures(tmp_path: Path) -> None:
    cache = ResultsCache(tmp_path)
    cache.put("cs/0112017v2", "translation", done("译文"))
    cache.put("cs/0112017v2", "deep_read", TaskResult(status="failed", error="x", model="m", prompt_hash="h1"))
    assert cache.get("cs/0112017v2", "translation", "m", "h1") == done("译文")
    assert cache.get("cs/0112017v2", "deep_read", "m", "h1") is None
    assert (tmp_path / "results" / "cs_0112017v2.json").is_file()  # the slash of an old-style id is not a folder


def test_a_changed_prompt_model_or_version_is_a_miss(tmp_path: Path) -> None:
    cache = ResultsCache(tmp_path)
    cache.put("2601.00001v1", "translation", done("旧提示的译文", prompt_hash="old"))
    assert cache.get("2601.00001v1", "translation", "m", "new") is None  # the prompt changed
    assert cache.get("2601.00001v1", "translation", "other", "old") is None  # the model changed
    assert cache.get("2601.00001v2", "translation", "m", "old") is None  # a new version of the paper
    assert cache.get("2601.00001v1", "translation", "m", "old") == done("旧提示的译文", prompt_hash="old")
    # Both prompts' answers are kept side by side: switching back costs nothing.
    cache.put("2601.00001v1", "translation", done("新提示的译文", prompt_hash="new"))
    assert cache.get("2601.00001v1", "translation", "m", "old") is not None
    assert cache.get("2601.00001v1", "translation", "m", "new") == done("新提示的译文", prompt_hash="new")


def test_damaged_file_is_a_miss(tmp_path: Path) -> None:
    cache = ResultsCache(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "2601.00001v1.json").write_text("{not json", encoding="utf-8")
    assert cache.get("2601.00001v1", "translation", "m", "h1") is None
    cache.put("2601.00001v1", "translation", done("译文"))
    assert cache.get("2601.00001v1", "translation", "m", "h1") == done("译文")


def test_a_papers_results_put_at_once_are_all_kept(tmp_path: Path) -> None:
    # The pipeline puts a paper's results from worker threads; every one must survive.
    cache = ResultsCache(tmp_path)
    names = ("translation", "deep_read", "title_zh")
    for i in range(40):
        pid = f"2601.{i:05d}v1"
        start = threading.Barrier(len(names))

        def put(task: str, pid: str = pid, start: threading.Barrier = start) -> None:
            start.wait()
            cache.put(pid, task, done(task))

        threads = [threading.Thread(target=put, args=(task,)) for task in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for task in names:
            assert cache.get(pid, task, "m", "h1") == done(task)


def test_prune_keeps_only_current_keys_and_removes_empty_files(tmp_path: Path) -> None:
    cache = ResultsCache(tmp_path)
    cache.put("2601.00001v1", "translation", done("现行", prompt_hash="new"))
    cache.put("2601.00001v1", "deep_read", done("旧的精读", prompt_hash="old"))
    cache.put("2601.00002v1", "translation", done("旧", prompt_hash="old"))
    (tmp_path / "results" / "2601.00003v1.json").write_text("{}", encoding="utf-8")
    one = tmp_path / "results" / "2601.00001v1.json"
    size = one.stat().st_size + (tmp_path / "results" / "2601.00002v1.json").stat().st_size + 2

    pruned = cache.prune({"translation|m|new"})
    assert (pruned.files, pruned.entries) == (2, 2)
    assert pruned.bytes == size - one.stat().st_size
    assert cache.get("2601.00001v1", "translation", "m", "new") == done("现行", prompt_hash="new")
    assert cache.get("2601.00001v1", "deep_read", "m", "old") is None
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["2601.00001v1.json"]
    assert cache.prune({"translation|m|new"}).entries == 0  # nothing left to drop: the file is not rewritten
