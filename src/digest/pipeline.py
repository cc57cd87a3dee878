"""run / backfill as one short loop: for each day, plan -> enrich -> store -> every registered publisher.

Planning is enrich.plan, the work enrich.engine, the outputs publish.outputs (each a Publisher); the record store
(core.store) owns every write and the site lock. New versions of posted papers take the same path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

import jinja2

from digest.core.config import Config
from digest.core.errors import ModelAuthError, UsageError
from digest.core.outcome import DayOutcome
from digest.core.record import DayRecord, Paper, Window
from digest.core.services import Services
from digest.core.store import PostedIndex, RecordStore, check_folders, dump_record
from digest.core.templates import template_env
from digest.core.window import window_for
from digest.enrich import plan as planning
from digest.enrich.engine import DayJob, EnrichOptions, EnrichStats, enrich, enrich_day, start_model, warn_without_model
from digest.enrich.model import run_with
from digest.enrich.retention import DayPapers, Pruned, current_cache_keys, local_today, prune_cache
from digest.enrich.titles import day_titles, title_step
from digest.enrich.topics import apply_topics, load_taxonomy
from digest.fetch.arxiv import Listing
from digest.fetch.client import arxiv_client
from digest.fetch.windows import fetch_windows
from digest.publish.base import PublishContext, Published, Publisher, publish_all
from digest.publish.outputs import registered
from digest.publish.posts import post_base_ids

if TYPE_CHECKING:
    from digest.enrich.budget import TokenBudget
    from digest.enrich.model import Model

__all__ = ["DayOutcome", "Services", "backfill", "run_days"]


@dataclass
class _Run:
    """One run's settings and the things its days share."""

    cfg: Config
    services: Services
    command: str = "run"  # named in the site lock
    notify: bool = True  # the notify channels send complete days
    force: bool = False  # redo every paper
    no_llm: bool = False
    skip_complete: bool = False  # backfill: a complete day is not run again
    store: RecordStore = field(init=False)
    env: jinja2.Environment = field(init=False)  # compiled once for every day's prompts and post
    publishers: list[Publisher] = field(init=False)
    model: Model | None = None
    budget: TokenBudget | None = None  # one token budget for every day of the run

    def __post_init__(self) -> None:
        self.store = RecordStore.of(self.cfg, self.services, post_ids=post_base_ids)
        self.env = template_env(self.cfg.templates_dir)
        self.publishers = registered()

    def publish(self, record: DayRecord, *, skipped: bool = False) -> Published:
        """Hand a stored record to every publisher; what the post publisher did (nothing when there is none)."""
        ctx = PublishContext(record, self.cfg, self.services, self.store, self.env, self.notify, skipped)
        return publish_all(ctx, self.publishers).get("post", Published(None, False))


def run_days(
    cfg: Config,
    days: list[date],
    services: Services,
    *,
    no_llm: bool = False,
    force: bool = False,
    command: str = "run",
    notify: bool = True,
) -> list[DayOutcome]:
    """The daily job over one or more days (oldest first), with one arXiv query for all of them.

    Every day with a record goes to every registered publisher; `notify` lets the notify channels send it.
    """
    check_folders(cfg)
    return _run_days(_Run(cfg, services, command, notify, force, no_llm), days)


def _run_days(run: _Run, days: list[date]) -> list[DayOutcome]:
    """Under the site lock: skip what backfill may skip, run the rest; the outcomes by day."""
    with run.store.locked(run.command):
        # A damaged record stops a run of its own day; backfill reports it and goes on with the others.
        loaded, damaged = run.store.load_days(sorted({d.isoformat() for d in days}), skip_damaged=run.skip_complete)
        previous = {date.fromisoformat(d): record for d, record in loaded.items()}
        outcomes = [DayOutcome(day=d, reason="its record is damaged, so the day is read-only") for d in damaged]
        todo = []
        for d, record in previous.items():
            if run.skip_complete and not run.force and record is not None and planning.complete(record):
                outcomes.append(DayOutcome(day=d.isoformat(), reason="already complete (use --force to redo)"))
                run.services.reporter.detail(f"{d}: post already complete, skipped")
                run.publish(record, skipped=True)
            else:
                todo.append(d)
        if todo:
            outcomes += _loop(run, [window_for(d, run.cfg.window) for d in todo], previous)
        outcomes.sort(key=lambda o: o.day)
        pruned = _prune(run)
        if pruned.files and outcomes:
            outcomes[-1].pruned = pruned.summary()
        return outcomes


def _prune(run: _Run) -> Pruned:
    """Cache retention after the days are written: old complete days' downloads, superseded prompts' results."""
    cfg = run.cfg
    days = [DayPapers.of(r) for r in run.store.readable()]
    if run.model is None:  # without a model a run cannot tell which prompts are current: results stay
        keys = None
    else:
        keys = current_cache_keys(run.env, [run.model.name, cfg.llm.model, *(f.model for f in cfg.llm.fallbacks)])
    return prune_cache(days, today=local_today(run.services.clock(), cfg.window.timezone),
                       keep_days=cfg.fulltext.keep_days, cache_dir=cfg.cache_dir, current_keys=keys)


def _loop(run: _Run, windows: list[Window], previous: dict[date, DayRecord | None]) -> list[DayOutcome]:
    """For each day: plan -> enrich -> store -> publish; then the new versions the listing announced."""
    from digest.enrich.budget import TokenBudget

    run.model = start_model(run.cfg, run.services, no_llm=run.no_llm)
    run.budget = TokenBudget(run.cfg.llm.max_tokens_per_run)
    fetched, listing, fetch_seconds = _fetch(run, windows)
    warn_without_model(run.cfg, run.services, run.model, no_llm=run.no_llm)
    posted = run.store.posted()
    outcomes: list[DayOutcome] = []
    for w in windows:
        started = time.monotonic()
        plan = planning.plan_day(run.cfg, w, fetched.get(w.date, []), previous[w.date], posted, force=run.force,
                                 reporter=run.services.reporter)
        out = _day(run, plan, started)
        if plan.record is not None:
            posted.update(plan.record)
        out.stats.wall_seconds = round(out.stats.wall_seconds + fetch_seconds / len(windows), 3)
        outcomes.append(out)
        if out.stopped:
            run.model = None  # every further call would fail alike: new versions are noted, not read
            break
    note_new_versions(run, listing, posted)
    return outcomes


def _fetch(run: _Run, windows: list[Window]) -> tuple[dict[date, list[Paper]], Listing | None, float]:
    """One arXiv query for every window: (papers by day, the listing read, seconds taken)."""
    rep, cfg, started = run.services.reporter, run.cfg, time.monotonic()
    with arxiv_client(cfg, run.services) as client:
        first, last = windows[0].date, windows[-1].date
        rep.info(f"fetching arXiv listings for {len(windows)} day(s): {first}" + (
            f" … {last}" if len(windows) > 1 else ""))
        fetched = fetch_windows(windows, client, cfg.arxiv.categories, cfg.arxiv.announce_types,
                                now=run.services.clock())
    for warning in client.warnings:
        rep.detail(f"arXiv: {warning}")
    seconds = time.monotonic() - started
    listed = sum(len(v) for v in fetched.values())
    rep.info(f"fetch: arXiv listed {listed} paper{'' if listed == 1 else 's'} in {seconds:.1f} s")
    return fetched, client.last_listing, seconds


def _day(run: _Run, plan: planning.DayPlan, started: float) -> DayOutcome:
    """Enrich a planned day, store its record when its content changed, and publish it."""
    stats, stopped = EnrichStats(), ""
    if run.model is not None and plan.todo:
        stats, stopped = enrich_day(run.cfg, run.services,
                                    DayJob(plan, run.model, run.env, run.store, run.force, run.budget))
    if run.model is not None and plan.record is not None and not stopped:  # Chinese titles: the whole day, batched
        step = title_step(run.cfg, run.model, run.env, run.services, run.budget)
        stopped = day_titles(plan.record.papers, step, stats, run.services.reporter, force=run.force)
    out = DayOutcome(day=plan.day, reason=plan.reason, stopped=stopped)
    record = plan.record
    if record is None:
        return out  # the summary says why, once
    run.services.reporter.info(f"{plan.day}: writing the record and the post")
    for e in record.papers:
        planning.refresh_status(e)
    # Keyword rules, no model call; always recomputed, as a translation finished since changes the input.
    apply_topics(record, load_taxonomy(run.cfg.topics_file), force=True)
    out.stats = stats.run_stats(run.cfg, plan, time.monotonic() - started, run.services.now_iso())
    changed = planning.content_of(record) != plan.previous_content
    if changed:  # a stopped run keeps what it did not improve: Entry.keep never replaces done by failed
        record.stats = out.stats
        run.store.save(record)
    post = run.publish(record)
    out.post, out.failures = post.path, planning.failure_lines(record)
    run.services.reporter.detail(
        f"{plan.day}: record {'updated' if changed else 'unchanged'}, post {'written' if post.changed else 'unchanged'}"
    )
    return out


def note_new_versions(run: _Run, listing: Listing | None, posted: PostedIndex) -> list[str]:
    """Note the listing's replacements of posted papers in the records of the days they were posted.

    With llm.reread_new_versions (and a model) each is read again at its new version, through the same enrich ->
    store -> publishers path as a day. Returns the changed days.
    """
    changed: list[str] = []
    for day, newest in sorted(planning.replaced_papers(listing, posted).items()):
        record = run.store.load_writable(day)
        if record is None or listing is None:
            continue
        before = dump_record(record)
        reread = run.cfg.llm.reread_new_versions and run.model is not None
        again = planning.note_replacements(record, newest, planning.announced_at(listing), reread=reread,
                                           reporter=run.services.reporter)
        if again and run.model is not None:
            try:
                run_with(run.model, enrich(run.cfg, run.services, [tmp for _, tmp in again], run.model, run.env,
                                   EnrichOptions(budget=run.budget)))
            except ModelAuthError as exc:
                run.services.reporter.warn(f"{day}: new versions not read again: {exc}")
            planning.fold_back(day, again, run.services.reporter)
        if dump_record(record) != before:
            run.store.save(record)
            run.publish(record)
            changed.append(day)
    return changed


def backfill(
    cfg: Config, start: date, end: date, services: Services, *, force: bool = False, notify: bool = False
) -> list[DayOutcome]:
    """One post per day from start to end inclusive (complete days skipped unless force; notify: --notify)."""
    if end < start:
        raise UsageError(f"backfill: END {end} is before START {start}; give the older date first")
    if (end - start).days > 366:
        raise UsageError("backfill: at most 366 days at once; split the range")
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    check_folders(cfg)
    return _run_days(_Run(cfg, services, "backfill", notify, force, skip_complete=True), days)
