"""The per-paper results cache: what it keeps, and that a paper's two results never undo each other."""

from __future__ import annotations

import threading
from pathlib import Path

from digest.models import TaskResult
from digest.results_cache import ResultsCache


def done(text: str) -> TaskResult:
    return TaskResult(status="done", text=text, model="m")


def test_keeps_done_results_per_task_and_skips_failures(tmp_path: Path) -> None:
    cache = ResultsCache(tmp_path)
    cache.put("cs/0112017v2", "translation", done("译文"))
    cache.put("cs/0112017v2", "deep_read", TaskResult(status="failed", error="x"))
    assert cache.get("cs/0112017v2", "translation") == done("译文")
    assert cache.get("cs/0112017v2", "deep_read") is None
    assert (tmp_path / "results" / "cs_0112017v2.json").is_file()  # the slash of an old-style id is not a folder


def test_a_papers_two_results_put_at_once_are_both_kept(tmp_path: Path) -> None:
    # The Enricher puts a paper's translation and deep read from two worker threads; both must survive.
    cache = ResultsCache(tmp_path)
    for i in range(40):
        pid = f"2601.{i:05d}v1"
        start = threading.Barrier(2)

        def put(task: str, pid: str = pid, start: threading.Barrier = start) -> None:
            start.wait()
            cache.put(pid, task, done(task))

        threads = [threading.Thread(target=put, args=(task,)) for task in ("translation", "deep_read")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert cache.get(pid, "translation") == done("translation")
        assert cache.get(pid, "deep_read") == done("deep_read")
