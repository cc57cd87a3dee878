"""`digest run` and `digest backfill`: the daily job for one date, or one post per day over a range."""

from __future__ import annotations

from collections.abc import Callable

from digest.commands.args import not_future, parse_day
from digest.commands.summary import summarise
from digest.core.config import Config
from digest.core.services import Services
from digest.core.store import RecordStore
from digest.core.window import latest_anchor_date
from digest.pipeline import backfill, run_days


def run_command(cfg: Config, services: Services, day: str | None, echo_err: Callable[[str], object], *,
                no_llm: bool = False, force: bool = False, strict: bool = False) -> int:
    """Run one date (default: the latest anchor at or before now); the exit code of the summary."""
    d = not_future(parse_day(day), cfg, services) if day else latest_anchor_date(services.clock(), cfg.window)
    outcomes = run_days(cfg, [d], services, no_llm=no_llm, force=force)
    code = summarise(services.reporter, outcomes, echo_err, strict=strict)
    return max(code, damaged_exit(cfg, services)) if strict and code != 1 else code


def damaged_exit(cfg: Config, services: Services) -> int:
    """With --strict (the last run of a morning): a damaged record of another day reaches the owner as exit 3."""
    damaged = RecordStore.of(cfg, services).damaged()
    if not damaged:
        return 0
    names = ", ".join(str(exc.path) for exc in damaged)
    services.reporter.warn(f"--strict: {len(damaged)} damaged record(s), read-only until restored: {names} (exit 3)")
    return 3


def backfill_command(cfg: Config, services: Services, start: str, end: str | None,
                     echo_err: Callable[[str], object], *, force: bool = False, notify: bool = False) -> int:
    """One post per day from START to END inclusive (END defaults to START); the exit code of the summary."""
    s = parse_day(start, "START")
    e = not_future(parse_day(end, "END"), cfg, services, "END") if end else not_future(s, cfg, services, "START")
    outcomes = backfill(cfg, s, e, services, force=force, notify=notify)
    return summarise(services.reporter, outcomes, echo_err)
