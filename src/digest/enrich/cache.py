"""Per-paper model results kept in cache_dir, so preview and runs of other days never pay twice."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from pydantic import ValidationError

from digest.core.files import atomic_write_text, safe_file_name
from digest.core.record import TaskResult


def cache_key(task: str, model: str, prompt_hash: str) -> str:
    """A result is reused only for the same task, model and prompt: a changed prompt or model asks again."""
    return f"{task}|{model}|{prompt_hash}"


class ResultsCache:
    """`cache_dir/results/<versioned id>.json`: done results keyed by task, model and prompt hash.

    The file name is the paper's version, so a new version of a paper is asked afresh.
    """

    def __init__(self, cache_dir: Path) -> None:
        self.dir = cache_dir / "results"
        # A paper's results are put from worker threads; unguarded, one read-modify-write could undo another.
        self._lock = threading.Lock()

    def _path(self, paper_id: str) -> Path:
        return self.dir / f"{safe_file_name(paper_id)}.json"

    def get(self, paper_id: str, task: str, model: str, prompt_hash: str) -> TaskResult | None:
        """A done result for this paper version, task, model and prompt, or None (a damaged file counts as empty)."""
        path = self._path(paper_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            result = TaskResult.model_validate(data[cache_key(task, model, prompt_hash)])
        except (OSError, ValueError, KeyError, TypeError, ValidationError):
            return None
        if result.status != "done" or result.model != model or result.prompt_hash != prompt_hash:
            return None
        return result

    def put(self, paper_id: str, task: str, result: TaskResult) -> None:
        """Keep a done result under its own model and prompt hash; failures are not cached (the next run retries)."""
        if result.status != "done":
            return
        path = self._path(paper_id)
        with self._lock:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(data, dict):
                    data = {}
            except (OSError, ValueError):
                data = {}
            data[cache_key(task, result.model, result.prompt_hash)] = result.model_dump(mode="json")
            try:
                atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
            except OSError:
                pass  # the cache is an optimisation; the record still holds the result
