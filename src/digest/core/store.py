"""Day records: one JSON file per day, the single source posts are rendered from."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from digest.core.errors import RecordError
from digest.core.files import write_or_fail
from digest.core.record import DayRecord, Entry


def record_path(records_dir: Path, day: str) -> Path:
    return records_dir / f"{day}.json"


def dump_record(record: DayRecord) -> str:
    """Stable key order (the model's field order), UTF-8 as is, newline at end."""
    return json.dumps(record.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"


def entry_status(entry: Entry) -> str:
    """failed: some task failed; pending: a required task (see digest.enrich.tasks) has no result yet or a task was
    deferred; else done."""
    from digest.enrich.tasks import all_tasks

    if any(r.status == "failed" for r in entry.results.values()):
        return "failed"
    if any(r.status == "deferred" for r in entry.results.values()):
        return "pending"  # the token budget ran out: the next run asks
    if any(t.required and entry.result(t.name) is None for t in all_tasks()):
        return "pending"
    return "done"


def write_record(records_dir: Path, record: DayRecord) -> Path:
    """Write a day record atomically; returns its path."""
    path = record_path(records_dir, record.date)
    write_or_fail(path, dump_record(record), "record")
    return path


def read_record(path: Path) -> DayRecord:
    """Read one record; a broken file is a RecordError naming it (and is never overwritten)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RecordError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "fix or delete the file by hand — digest will not overwrite it"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: cannot read ({exc})") from None
    try:
        return DayRecord.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise RecordError(
            f"{path}: not a day record ({loc}: {err['msg']}); "
            "fix or delete the file by hand — digest will not overwrite it"
        ) from None


def load_record(records_dir: Path, day: str) -> DayRecord | None:
    path = record_path(records_dir, day)
    return read_record(path) if path.exists() else None


def record_days(records_dir: Path) -> list[str]:
    """The dates that have a record, oldest first."""
    if not records_dir.is_dir():
        return []
    return sorted(p.stem for p in records_dir.glob("????-??-??.json"))


class PostedIndex:
    """Which day's post shows each base arXiv id (dedupe across days): the records are read once per run."""

    def __init__(self, records_dir: Path) -> None:
        self._by_day = {
            day: [e.base_id for e in read_record(record_path(records_dir, day)).papers]
            for day in record_days(records_dir)
        }

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
