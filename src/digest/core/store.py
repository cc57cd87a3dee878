"""Day records: one JSON file per day, the single source posts are rendered from, and the RecordStore that owns them.

Every record write of a command goes through its RecordStore, which also holds the site lock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from digest.core.config import Config
from digest.core.errors import ConfigError, RecordError
from digest.core.files import file_in_the_way, write_or_fail
from digest.core.lock import site_lock
from digest.core.record import DayRecord
from digest.core.services import Services
from digest.core.urls import post_path


def record_path(records_dir: Path, day: str) -> Path:
    return records_dir / f"{day}.json"


def dump_record(record: DayRecord) -> str:
    """Stable key order (the model's field order), UTF-8 as is, newline at end."""
    return json.dumps(record.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"


def write_record(records_dir: Path, record: DayRecord) -> Path:
    """Write a day record atomically; returns its path."""
    path = record_path(records_dir, record.date)
    write_or_fail(path, dump_record(record), "record")
    return path


class DamagedRecord(RecordError):
    """A record file that is not valid JSON or not a day record: that day is read-only until it is restored."""

    def __init__(self, path: Path, problem: str, post: Path | None = None) -> None:
        self.path, self.problem, self.post = path, problem, post
        super().__init__(f"{path}: {problem}; {restore_hint(path, post)}")


def restore_hint(path: Path, post: Path | None) -> str:
    """How to get a damaged record back: from git when the folder is a repository, or from its post."""
    ways = []
    if any((p / ".git").exists() for p in path.resolve().parents):
        ways.append(f"restore it with `git checkout -- {path}`")
    if post is not None and post.is_file():
        ways.append(f"re-import its post with `digest import {post}`")
    how = " or ".join(ways) if ways else "fix it by hand"
    return f"{how} — digest will not overwrite it"


def read_record(path: Path, post: Path | None = None) -> DayRecord:
    """Read one record; a broken file is a DamagedRecord naming it and how to restore it (`post`: its post)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DamagedRecord(path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
                            post) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DamagedRecord(path, f"cannot read ({exc})", post) from None
    try:
        return DayRecord.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise DamagedRecord(path, f"not a day record ({loc}: {err['msg']})", post) from None


def load_record(records_dir: Path, day: str, post: Path | None = None) -> DayRecord | None:
    """The day's record, or None when the day has none."""
    path = record_path(records_dir, day)
    return read_record(path, post) if path.exists() else None


def record_days(records_dir: Path) -> list[str]:
    """The dates that have a record, oldest first."""
    if not records_dir.is_dir():
        return []
    return sorted(p.stem for p in records_dir.glob("????-??-??.json"))


class PostedIndex:
    """Which day's post shows each base arXiv id (dedupe across days): the records are read once per run.

    A damaged record's papers still count as posted: `post_ids` reads them from the day's post instead.
    """

    def __init__(self, records_dir: Path, posts_dir: Path | None = None,
                 post_ids: Callable[[Path], list[str]] | None = None,
                 on_damaged: Callable[[DamagedRecord], None] | None = None) -> None:
        self._by_day: dict[str, list[str]] = {}
        for day in record_days(records_dir):
            post = post_path(posts_dir, day) if posts_dir is not None else None
            try:
                self._by_day[day] = [e.base_id for e in read_record(record_path(records_dir, day), post).papers]
            except DamagedRecord as exc:
                if on_damaged is None:
                    raise
                on_damaged(exc)
                self._by_day[day] = post_ids(post) if post_ids is not None and post is not None else []

    def excluding(self, day: str) -> dict[str, str]:
        """Base id -> the earliest other day whose post shows it."""
        seen: dict[str, str] = {}
        for other in sorted(self._by_day):
            if other != day:
                for base in self._by_day[other]:
                    seen.setdefault(base, other)
        return seen

    def day_of(self, base_id: str) -> str | None:
        """The earliest day whose post shows this base id, or None."""
        return next((day for day in sorted(self._by_day) if base_id in self._by_day[day]), None)

    def update(self, record: DayRecord) -> None:
        """Take in a day's record as just written, for the days after it in the same run."""
        self._by_day[record.date] = [e.base_id for e in record.papers]


def check_folders(cfg: Config) -> None:
    """Before anything is fetched or paid for: a file where a site folder should be is a config error."""
    for key, path in (("site.posts_dir", cfg.posts_dir), ("site.records_dir", cfg.records_dir),
                      ("site.cache_dir", cfg.cache_dir)):
        blocker = file_in_the_way(path)
        if blocker is not None:
            what = "is a file, not a folder" if blocker == path else f"cannot be a folder because {blocker} is a file"
            raise ConfigError(f"{key}: {path} {what}; set {key} in the config to a folder (or move the file away)")


# A checkpoint during enrichment is written at most this often: a kill costs only what was in flight.
CHECKPOINT_SECONDS = 1.0


@dataclass
class RecordStore:
    """The owner of a site's records: their paths, the site lock, loading, saving and the checkpoint."""

    records_dir: Path
    posts_dir: Path
    lock_wait: float = 0.0  # site.lock_timeout_seconds
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] | None = None
    # The base ids a post file shows (publish reads posts; core cannot): how a damaged day's papers stay posted.
    post_ids: Callable[[Path], list[str]] | None = None
    warn: Callable[[str], None] | None = None  # where a damaged record is reported (once per file)
    _warned: set[Path] = field(default_factory=set, init=False, repr=False)

    @classmethod
    def of(cls, cfg: Config, services: Services | None = None, *,
           post_ids: Callable[[Path], list[str]] | None = None) -> RecordStore:
        """The store of a configured site, with the command's sleep and clock for the lock and its reporter."""
        services = services or Services()
        return cls(cfg.records_dir, cfg.posts_dir, cfg.site.lock_timeout_seconds, services.sleep, services.clock,
                   post_ids, services.reporter.warn)

    @property
    def lock_path(self) -> Path:
        """The site lock file (beside the records, so one site has one lock)."""
        return self.records_dir / ".digest.lock"

    @contextmanager
    def locked(self, command: str) -> Iterator[None]:
        """Hold the site lock while `command` changes records or posts (the one place it is taken)."""
        with site_lock(self.lock_path, command, wait_seconds=self.lock_wait, sleep=self.sleep, clock=self.clock):
            yield

    def path(self, day: str) -> Path:
        """The record file of a day."""
        return record_path(self.records_dir, day)

    def post_path(self, day: str) -> Path:
        """The post file of a day."""
        return post_path(self.posts_dir, day)

    def days(self) -> list[str]:
        """The dates that have a record, oldest first."""
        return record_days(self.records_dir)

    def load(self, day: str) -> DayRecord | None:
        """The day's record, None when it has none; a broken file is a DamagedRecord."""
        return load_record(self.records_dir, day, self.post_path(day))

    def read(self, day: str) -> DayRecord:
        """The day's record, which must exist."""
        return read_record(self.path(day), self.post_path(day))

    def note_damaged(self, exc: DamagedRecord) -> None:
        """Report a damaged record once per command: which file, that its day is read-only, how to restore it."""
        if exc.path in self._warned or self.warn is None:
            return
        self._warned.add(exc.path)
        self.warn(f"{exc.path}: {exc.problem}; {exc.path.stem} is read-only (its papers still count as posted, "
                  f"its post is left as it is); {restore_hint(exc.path, exc.post)}")

    def load_writable(self, day: str) -> DayRecord | None:
        """The day's record to change, or None when it has none or is damaged (reported, never overwritten)."""
        try:
            return self.load(day)
        except DamagedRecord as exc:
            self.note_damaged(exc)
            return None

    def load_days(self, days: list[str], *, skip_damaged: bool) -> tuple[dict[str, DayRecord | None], list[str]]:
        """The records of `days` and the damaged ones among them (raised unless `skip_damaged`: then reported)."""
        loaded: dict[str, DayRecord | None] = {}
        damaged: list[str] = []
        for day in days:
            try:
                loaded[day] = self.load(day)
            except DamagedRecord as exc:
                if not skip_damaged:
                    raise
                self.note_damaged(exc)
                damaged.append(day)
        return loaded, damaged

    def readable(self) -> list[DayRecord]:
        """Every record that reads, oldest first; damaged ones are reported and left out."""
        out = []
        for day in self.days():
            record = self.load_writable(day)
            if record is not None:
                out.append(record)
        return out

    def damaged(self) -> list[DamagedRecord]:
        """Every record file that does not read, oldest first (reported by nobody: `check` lists them)."""
        out = []
        for day in self.days():
            try:
                self.read(day)
            except DamagedRecord as exc:
                out.append(exc)
        return out

    def save(self, record: DayRecord) -> Path:
        """Write a record atomically (the old file stays on failure)."""
        return write_record(self.records_dir, record)

    def checkpoint(self, record: DayRecord) -> Checkpoint:
        """A checkpoint of `record` while it is being filled in (see Checkpoint)."""
        return Checkpoint(self, record)

    def add_notified(self, day: str, sent: Mapping[str, str]) -> None:
        """Add `sent` to the stored record's `notified`; nothing else in the record (or the post) changes."""
        if not sent:
            return
        record = self.load(day)
        if record is None:
            return
        record.notified = {**record.notified, **sent}
        self.save(record)

    def posted(self) -> PostedIndex:
        """Which day shows each paper, read from the records now."""
        return PostedIndex(self.records_dir, self.posts_dir, self.post_ids, self.note_damaged)


class Checkpoint:
    """Keeps a record's finished work on disk as it comes, at most once in CHECKPOINT_SECONDS."""

    def __init__(self, store: RecordStore, record: DayRecord) -> None:
        self.store = store
        self.record = record
        self.last = 0.0

    def __call__(self) -> bool:
        """Save the record unless it was saved within CHECKPOINT_SECONDS; whether it saved."""
        if time.monotonic() - self.last <= CHECKPOINT_SECONDS:
            return False
        self.store.save(self.record)
        self.last = time.monotonic()
        return True
