"""`digest import` and `digest render`: old posts into day records, and posts again from the records."""

from __future__ import annotations

from pathlib import Path

from digest.commands.args import parse_day
from digest.commands.drift import report_drift
from digest.core.config import Config
from digest.core.errors import UsageError
from digest.core.services import Services
from digest.core.store import RecordStore
from digest.publish.posts import import_posts, posts_without_record, render_posts


def import_command(cfg: Config, services: Services, paths: list[Path]) -> int:
    """Read posts (files or folders) into the day records and say what changed."""
    rep = services.reporter
    s = import_posts(cfg, paths, RecordStore.of(cfg, services))
    for n in s.normalisations:
        rep.info(f"normalised: {n}")
    for p in s.problems:
        rep.warn(p)
    rep.info(
        f"imported {len(s.imported)} day(s), {len(s.unchanged)} unchanged, {len(s.kept_existing)} kept as they were; "
        f"{s.papers} papers read; records in {cfg.records_dir}"
    )
    return 0


def check_render_args(day: str | None, all_: bool) -> None:
    """Exactly one of --date and --all (checked before the config is read)."""
    if bool(day) == all_:
        raise UsageError("render: give exactly one of --date YYYY-MM-DD or --all")


def render_command(cfg: Config, services: Services, day: str | None) -> int:
    """Re-render one day's post (or, with day None, every post) from the records."""
    days = None if day is None else [parse_day(day).isoformat()]
    store = RecordStore.of(cfg, services)
    done = render_posts(cfg, days, store)
    changed = sum(1 for _, c in done if c)
    services.reporter.info(f"rendered {len(done)} post(s), {changed} changed, into {cfg.posts_dir}")
    if days is None:
        report_drift(services.reporter, posts_without_record(cfg, store))
    return 0
