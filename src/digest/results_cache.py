"""Per-paper model results kept in cache_dir, so preview and runs of other days never pay twice."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from pydantic import ValidationError

from .fsutil import atomic_write_text, safe_file_name
from .models import TaskResult

TASKS = ("translation", "deep_read")


class ResultsCache:
    """`cache_dir/results/<versioned id>.json` holding the done results of each task."""

    def __init__(self, cache_dir: Path) -> None:
        self.dir = cache_dir / "results"
        # A paper's two results are put from worker threads; unguarded, one read-modify-write could undo the other.
        self._lock = threading.Lock()

    def _path(self, paper_id: str) -> Path:
        return self.dir / f"{safe_file_name(paper_id)}.json"

    def get(self, paper_id: str, task: str) -> TaskResult | None:
        """A done result for this paper and task, or None (a damaged cache file counts as empty)."""
        path = self._path(paper_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            result = TaskResult.model_validate(data[task])
        except (OSError, ValueError, KeyError, TypeError, ValidationError):
            return None
        return result if result.status == "done" else None

    def put(self, paper_id: str, task: str, result: TaskResult) -> None:
        """Keep a done result; failures are not cached (the next run retries them)."""
        if result.status != "done" or task not in TASKS:
            return
        path = self._path(paper_id)
        with self._lock:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(data, dict):
                    data = {}
            except (OSError, ValueError):
                data = {}
            data[task] = result.model_dump(mode="json")
            try:
                atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
            except OSError:
                pass  # the cache is an optimisation; the record still holds the result
