"""Cache retention: a bounded cache over years of daily runs.

A paper's PDF and HTML page are needed until its day's post is complete (a failed or deferred deep read is
retried from them); a few days more cover a re-render or a forced re-read. After that they only take room:
about 20 PDFs a day at 1-3 MB each. Results made with a prompt or model no longer in use are never read again.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from digest.core.record import DayRecord
from digest.enrich.cache import ResultsCache, cache_key
from digest.enrich.fulltext.fetcher import html_cache_path, pdf_cache_path
from digest.enrich.plan import required_tasks
from digest.enrich.runner import prompt_hash
from digest.enrich.tasks import all_tasks

MB = 1024 * 1024


@dataclass(frozen=True)
class DayPapers:
    """What retention needs of one day: its date, whether its post is complete, and its papers' versioned ids."""

    day: date
    complete: bool
    paper_ids: tuple[str, ...]

    @classmethod
    def of(cls, record: DayRecord) -> DayPapers:
        """From a day record: complete when every paper's status is done (the status rule of the record store)."""
        ids = [e.id for e in record.papers] + [e.new_version for e in record.papers if e.new_version]
        required = required_tasks()
        complete = all(e.status_for(required) == "done" for e in record.papers)
        return cls(date.fromisoformat(record.date), complete, tuple(dict.fromkeys(ids)))


@dataclass(frozen=True)
class Pruned:
    """What one pruning removed from the cache."""

    files: int = 0  # PDFs, HTML pages and emptied results files deleted
    bytes: int = 0  # disk space given back, deleted and rewritten files alike
    results: int = 0  # cached results of superseded prompts or models dropped

    def summary(self) -> str:
        """'pruned 12 files (23.4 MB)', for the run's summary line."""
        return f"pruned {self.files} file{'' if self.files == 1 else 's'} ({self.bytes / MB:.1f} MB)"


def local_today(now: datetime, timezone: str) -> date:
    """Today's date in the configured time zone (a day's age is counted in the zone its posts are dated in)."""
    return now.astimezone(ZoneInfo(timezone)).date()


def current_cache_keys(env: jinja2.Environment, models: Iterable[str]) -> frozenset[str]:
    """The results-cache keys a run can still read: every task's current prompt, and the titles' batch prompt, under
    each model that may answer (the primary and its fallbacks)."""
    from digest.enrich import titles

    prompts = [(t.name, t.template) for t in all_tasks()] + [(titles.TASK_NAME, titles.TEMPLATE)]
    return frozenset(
        cache_key(name, m, prompt_hash(env, template, m)) for name, template in prompts for m in dict.fromkeys(models)
    )


def expired_papers(days: Iterable[DayPapers], today: date, keep_days: int) -> set[str]:
    """Versioned ids whose files may go: on a complete day older than keep_days, and on no day still kept."""
    expired: set[str] = set()
    kept: set[str] = set()
    for d in days:
        old = (today - d.day).days > keep_days
        (expired if d.complete and old else kept).update(d.paper_ids)
    return expired - kept  # a paper on an incomplete or recent day as well still needs its text


def prune_cache(
    days: Iterable[DayPapers],
    *,
    today: date,
    keep_days: int,
    cache_dir: Path,
    current_keys: Collection[str] | None,
) -> Pruned:
    """Delete the PDFs and HTML pages of expired papers, and results not under `current_keys` (None leaves the
    results alone: a run without a model cannot say which prompts are current)."""
    files = freed = 0
    for paper_id in sorted(expired_papers(days, today, keep_days)):
        for path in (pdf_cache_path(cache_dir, paper_id), html_cache_path(cache_dir, paper_id)):
            size = _delete(path)
            if size is not None:
                files, freed = files + 1, freed + size
    results = 0
    if current_keys is not None:
        dropped = ResultsCache(cache_dir).prune(current_keys)
        files, freed, results = files + dropped.files, freed + dropped.bytes, dropped.entries
    return Pruned(files, freed, results)


def _delete(path: Path) -> int | None:
    """The size of the file deleted, or None when there was none (or it could not be deleted)."""
    try:
        size = path.stat().st_size
        path.unlink()
    except OSError:
        return None
    return size


def cache_size(cache_dir: Path) -> tuple[int, int]:
    """(files, bytes) under the cache folder, for `digest check`; (0, 0) when it does not exist yet."""
    files = total = 0
    for root, _dirs, names in os.walk(cache_dir):
        for name in names:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue  # removed while we walked
            files += 1
    return files, total
