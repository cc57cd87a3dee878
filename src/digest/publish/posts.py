"""Posts and records on disk: write a post from its record, import old posts, re-render."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from digest.core.config import Config
from digest.core.errors import UsageError
from digest.core.files import atomic_write_bytes, write_or_fail
from digest.core.record import DayRecord
from digest.core.store import DamagedRecord, RecordStore, dump_record
from digest.core.templates import template_env
from digest.core.urls import post_path
from digest.enrich.topics import Taxonomy, apply_topics, load_taxonomy
from digest.publish.importer import find_posts, read_post
from digest.publish.markdown import parse_post, render_post


def post_base_ids(path: Path) -> list[str]:
    """The base arXiv ids a post file shows (how a damaged record's papers stay posted); [] when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    record = parse_post(text, str(path)).record
    return [e.base_id for e in record.papers] if record is not None else []


def posts_without_record(cfg: Config, store: RecordStore) -> list[Path]:
    """Post files in the posts folder whose day has no record file (drift: the site will not show them)."""
    if not cfg.posts_dir.is_dir():
        return []
    days = set(store.days())
    return sorted(p for p in cfg.posts_dir.glob("????-??-??-arxiv.md") if p.name[:10] not in days)


def write_post(cfg: Config, record: DayRecord, env: jinja2.Environment | None = None) -> tuple[Path, bool]:
    """Render and write the post when its text changed; return (path, changed)."""
    env = env or template_env(cfg.templates_dir)
    text = render_post(record, title_template=cfg.site.title, tags=cfg.site.tags, env=env)
    path = post_path(cfg.posts_dir, record.date)
    if path.exists() and path.read_text(encoding="utf-8", errors="replace") == text:
        return path, False
    write_or_fail(path, text, "post")
    return path, True


@dataclass
class ImportSummary:
    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_existing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    normalisations: list[str] = field(default_factory=list)  # "file:line: what a re-render changes"
    papers: int = 0


def import_posts(cfg: Config, paths: list[Path], store: RecordStore | None = None) -> ImportSummary:
    """Read existing posts into day records; importing twice changes nothing.

    Every file is read before anything is written: a missing path or two files for one date is an error
    and no record changes.
    """
    files = find_posts(paths)
    summary = ImportSummary()
    parsed = []
    by_day: dict[str, list[Path]] = {}
    for f in files:
        result = read_post(f)
        summary.problems.extend(result.problems)
        summary.normalisations.extend(result.normalisations)
        if result.record is not None:
            parsed.append((f, result.record))
            by_day.setdefault(result.record.date, []).append(f)
    clashes = {day: fs for day, fs in by_day.items() if len(fs) > 1}
    if clashes:
        day, fs = sorted(clashes.items())[0]
        more = f" (and {len(clashes) - 1} more date(s))" if len(clashes) > 1 else ""
        raise UsageError(
            f"two files for {day}: {' and '.join(map(str, fs))}{more}; import only one of them (nothing was imported)"
        )
    taxonomy = load_taxonomy(cfg.topics_file)
    store = store or RecordStore.of(cfg)
    with store.locked("import"):
        for f, record in parsed:
            summary.papers += len(record.papers)
            apply_topics(record, taxonomy)  # as a run would store them, so a second import changes nothing
            existing = _existing(store, record.date, summary)
            if existing is not None:
                if not existing.source.startswith("import:"):
                    summary.kept_existing.append(record.date)
                    summary.problems.append(
                        f"{f}: {record.date} already has a record made by digest; kept it (delete it to re-import)"
                    )
                    continue
                if dump_record(existing) == dump_record(record):
                    summary.unchanged.append(record.date)
                    continue
            store.save(record)
            summary.imported.append(record.date)
    return summary


def _existing(store: RecordStore, day: str, summary: ImportSummary) -> DayRecord | None:
    """The day's record before an import; a damaged one is kept beside it as <file>.damaged (then replaced)."""
    try:
        return store.load(day)
    except DamagedRecord as exc:
        aside = exc.path.with_name(exc.path.name + ".damaged")
        atomic_write_bytes(aside, exc.path.read_bytes())  # byte for byte: nothing of it is lost
        summary.problems.append(f"{exc.path}: {exc.problem}; replaced by the imported post (the old file is kept "
                                f"as {aside})")
        return None


def render_posts(cfg: Config, days: list[str] | None, store: RecordStore | None = None) -> list[tuple[str, bool]]:
    """Re-render posts from records (all when days is None); returns (day, changed) pairs."""
    store = store or RecordStore.of(cfg)
    available = store.days()
    all_days = days is None
    if days is None:
        days = available
    missing = [d for d in days if d not in available]
    if missing:
        raise UsageError(f"no record for {', '.join(missing)} in {cfg.records_dir} (run or import that day first)")
    done = []
    env = template_env(cfg.templates_dir)  # one environment: each post reuses the compiled templates
    taxonomy = load_taxonomy(cfg.topics_file)
    with store.locked("render"):
        for d in days:
            if all_days:
                record = store.load_writable(d)  # a damaged day is reported and its post left as it is
                if record is None:
                    continue
            else:
                record = store.read(d)
            if apply_topics(record, taxonomy):  # the taxonomy changed since the record was classified
                store.save(record)
            _, changed = write_post(cfg, record, env)
            done.append((d, changed))
    return done


def refresh_topics(
    cfg: Config, taxonomy: Taxonomy | None = None, store: RecordStore | None = None
) -> list[str]:
    """Recompute the stored topics of every record classified with another taxonomy; the days rewritten."""
    if not cfg.records_dir.is_dir():
        return []
    taxonomy = taxonomy or load_taxonomy(cfg.topics_file)
    store = store or RecordStore.of(cfg)
    updated = []
    with store.locked("build"):
        for record in store.readable():  # a damaged record is reported and never rewritten
            if apply_topics(record, taxonomy):
                store.save(record)
                updated.append(record.date)
    return updated
