"""Per-paper model results kept in cache_dir, so preview and runs of other days never pay twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from digest.core.files import atomic_write_text, safe_file_name
from digest.core.record import TaskResult


def cache_key(task: str, model: str, prompt_hash: str) -> str:
    """A result is reused only for the same task, model and prompt: a changed prompt or model asks again."""
    return f"{task}|{model}|{prompt_hash}"


@dataclass(frozen=True)
class ResultsPruned:
    """What pruning the results cache removed."""

    files: int = 0  # files deleted: every entry superseded, or the file unreadable
    entries: int = 0  # results dropped, from deleted and rewritten files alike
    bytes: int = 0  # disk space given back


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

    def prune(self, current: Collection[str]) -> ResultsPruned:
        """Drop every result whose cache key (see cache_key) is not in `current`: made with a prompt or a model
        no longer in use, it is never read again. A file left empty, or unreadable, is deleted."""
        files = entries = freed = 0
        paths = sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []
        with self._lock:
            for path in paths:
                try:
                    size = path.stat().st_size
                except OSError:
                    continue  # gone meanwhile
                data = _read_entries(path)
                kept = {k: v for k, v in data.items() if k in current}
                if data and len(kept) == len(data):
                    continue
                entries += len(data) - len(kept)
                if not kept:
                    path.unlink(missing_ok=True)
                    files, freed = files + 1, freed + size
                    continue
                text = json.dumps(kept, ensure_ascii=False, indent=2) + "\n"
                atomic_write_text(path, text)
                freed += max(0, size - len(text.encode("utf-8")))
        return ResultsPruned(files, entries, freed)


def _read_entries(path: Path) -> dict[str, object]:
    """A results file's entries; empty when it cannot be read or is not a JSON object (as get() treats it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
