"""run / backfill / preview, composed as plan (papers, missing tasks) -> enrich (run them) -> publish (record, outputs).

Each step is a plain function over plain data with the services passed in, so tests call them in-process.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import jinja2

from digest.core.config import Config
from digest.core.errors import ConfigError, DigestError, ModelAuthError, UsageError
from digest.core.http import USER_AGENT
from digest.core.lock import site_lock
from digest.core.record import (
    Counts,
    DayRecord,
    Dropped,
    Entry,
    LeftOut,
    Paper,
    RunStats,
    TaskResult,
    Window,
    WindowInfo,
    split_id,
    version_of,
)
from digest.core.report import Reporter
from digest.core.store import PostedIndex, dump_record, entry_status, load_record
from digest.core.templates import template_env
from digest.core.window import MAILING_TIME, NEW_YORK, window_for
from digest.enrich.cache import ResultsCache
from digest.enrich.tasks import Task, all_tasks
from digest.enrich.topics import apply_topics, load_taxonomy
from digest.fetch.arxiv import ArxivClient, Listing
from digest.fetch.select import select
from digest.fetch.windows import fetch_windows
from digest.publish.base import Publisher, publish_record
from digest.publish.posts import lock_path, save_record

if TYPE_CHECKING:
    from digest.enrich.budget import TokenBudget
    from digest.enrich.fulltext import FullTextFetcher
    from digest.enrich.model import Model
    from digest.enrich.runner import TaskRunner

SEARCH_PAGE_SIZE = 1000


def _warm_imports() -> None:
    """Import the model client (the SDK takes ~0.25 s) while arXiv answers; PDF work runs in its own process."""
    import importlib

    for name in ("openai", "digest.enrich.runner", "digest.enrich.fulltext"):
        importlib.import_module(name)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything that reaches outside the process, passed in so tests can swap it."""

    reporter: Reporter = field(default_factory=Reporter)
    clock: Callable[[], datetime] = _utc_now  # every timestamp in records, results and the lock
    sleep: Callable[[float], None] = time.sleep  # arXiv throttle and retries, lock waits
    async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # PDF and model retries
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    arxiv_http: httpx.Client | None = None  # built from config when None
    model: Model | None = None  # the OpenAI-compatible client from config (and the key) when None
    publishers: list[Publisher] | None = None  # publish.PUBLISHERS when None


@dataclass
class DayOutcome:
    """What one day's run did, for the summary and the exit code."""

    day: str
    post: Path | None = None
    reason: str = ""  # why no post was written
    stats: RunStats = field(default_factory=RunStats)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (paper id, reason)
    stopped: str = ""  # set when the run had to stop early (bad key, no balance)

    @property
    def wrote_post(self) -> bool:
        return self.post is not None


# ------------------------------------------------------------------ helpers


def _now_iso(services: Services) -> str:
    return services.clock().astimezone(UTC).isoformat(timespec="seconds")


def _link(template: str, paper_id: str) -> str:
    return template.replace("{id}", paper_id)


def _entry_from_paper(paper: Paper, cfg: Config) -> Entry:
    return Entry(
        id=paper.id,
        title=paper.title,
        authors=list(paper.authors),
        categories=list(paper.categories),
        abstract=paper.abstract,
        abs_url=_link(cfg.arxiv.abs_link, paper.id),
        pdf_url=_link(cfg.arxiv.pdf_link, paper.id),
        published=paper.published.astimezone(UTC).isoformat(),
        updated=paper.updated.astimezone(UTC).isoformat(),
        comment=paper.comment,
        doi=paper.doi,
        journal_ref=paper.journal_ref,
    )


def _merge_entries(previous: DayRecord | None, kept: list[Paper], cfg: Config) -> list[Entry]:
    """Papers already in the day's record keep their results; new ones are added; none is dropped."""
    by_base: dict[str, Entry] = {}
    if previous is not None:
        for e in previous.papers:
            by_base.setdefault(e.base_id, e)
    for p in kept:
        if p.base_id not in by_base:
            by_base[p.base_id] = _entry_from_paper(p, cfg)
    entries = list(by_base.values())
    entries.sort(key=lambda e: (e.published, e.id), reverse=True)
    return entries


def _api_key(cfg: Config, services: Services) -> str:
    return (services.environ.get(cfg.llm.api_key_env) or "").strip()


def model_for(cfg: Config, services: Services) -> Model | None:
    """The model to run tasks with: the injected one, else the configured service when its key is set, else None."""
    if services.model is not None:
        return services.model
    from digest.enrich.model import build_chain

    return build_chain(cfg.llm, services.environ)


def _arxiv_client(cfg: Config, services: Services) -> tuple[ArxivClient, httpx.Client | None]:
    own = None
    http = services.arxiv_http
    if http is None:
        own = http = httpx.Client()  # the client sets user agent, timeout and redirects on each request
    # arXiv serves up to 2000 results a request: one request covers a month of these categories.
    client = ArxivClient(cfg.arxiv, http, sleep=services.sleep, page_size=SEARCH_PAGE_SIZE,
                         on_wait=services.reporter.info)
    return client, own


def _window_info(window: Window, cfg: Config) -> WindowInfo:
    return WindowInfo(
        start=window.start.isoformat(),
        end=window.end.isoformat(),
        timezone=cfg.window.timezone,
        anchor=cfg.window.anchor,
        basis=window.basis,
    )


def _content_of(record: DayRecord | None) -> str:
    """The record without its run figures, to tell whether a run changed anything."""
    if record is None:
        return ""
    return dump_record(record.model_copy(update={"stats": RunStats()}))


# ------------------------------------------------------------------ plan


def _needs(result: TaskResult | None, force: bool) -> bool:
    return force or result is None or result.status != "done"


def missing_tasks(entry: Entry, *, force: bool = False, deep: bool = True) -> list[Task]:
    """The registered tasks this paper still needs (all of them with force; none that read the paper unless deep)."""
    return [t for t in all_tasks() if (deep or not t.needs_fulltext) and _needs(entry.result(t.name), force)]


@dataclass
class DayPlan:
    """One day before enrichment: its record (None when there is no post, with the reason) and the papers to work on."""

    day: str
    record: DayRecord | None
    previous: DayRecord | None
    fetched: int = 0
    reason: str = ""
    todo: list[Entry] = field(default_factory=list)
    # The previous record's content as loaded: its entries are merged (and then filled in) in place.
    previous_content: str = ""


def plan_day(
    cfg: Config,
    window: Window,
    papers: list[Paper],
    previous: DayRecord | None,
    posted: PostedIndex,
    *,
    force: bool = False,
    reporter: Reporter | None = None,
) -> DayPlan:
    """Select the day's papers, merge them into its previous record and list the papers with tasks missing."""
    day = window.date.isoformat()
    before = _content_of(previous)
    sel = select(papers, cfg.filter, posted.excluding(day), cfg.arxiv.categories)
    if reporter is not None:
        for paper, why in sel.dropped:
            reporter.detail(f"{day}: dropped {paper.id} ({why})")
    entries = _merge_entries(previous, sel.kept, cfg)
    if not entries:
        if window.basis == "announced" and not window.mailings:
            reason = "no arXiv mailing was released in this window (no mailing on Friday/Saturday or holidays)"
        elif sel.fetched:
            reason = (f"the {plural(sel.fetched, 'paper')} listed {'was' if sel.fetched == 1 else 'were all'} removed "
                      "by dedupe or filters (see --verbose)")
        else:
            reason = f"arXiv listed no papers in {'/'.join(cfg.arxiv.categories)} for this window"
        return DayPlan(day=day, record=None, previous=previous, fetched=sel.fetched, reason=reason,
                       previous_content=before)

    left_out = [LeftOut(id=p.id, title=p.title, abs_url=_link(cfg.arxiv.abs_link, p.id)) for p in sel.left_out]
    if previous is not None and not sel.left_out:
        shown_ids = {e.base_id for e in entries}
        left_out = [lo for lo in previous.left_out if split_id(lo.id)[0] not in shown_ids]
    fetched_count = max(sel.fetched, previous.counts.fetched if previous is not None else 0)
    record = DayRecord(
        date=day,
        window=_window_info(window, cfg),
        counts=Counts(fetched=fetched_count, shown=len(entries)),
        papers=entries,
        left_out=left_out,
        dropped=[Dropped(id=p.id, title=p.title, reason=r) for p, r in sel.dropped],
        stats=previous.stats if previous is not None else RunStats(),
        source=previous.source if previous is not None else "digest",
        notified=dict(previous.notified) if previous is not None else {},  # what was sent stays sent
    )
    for e in entries:
        # A task added since the record was written makes its papers pending again.
        e.status = entry_status(e)  # type: ignore[assignment]
    todo = [e for e in entries if force or e.status != "done"]
    return DayPlan(day=day, record=record, previous=previous, fetched=sel.fetched, todo=todo, previous_content=before)


# ------------------------------------------------------------------ enrich


@dataclass
class EnrichStats:
    """What enrichment cost."""

    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    downloads: int = 0
    rate_limited: int = 0  # answers of 429
    fallbacks: list[str] = field(default_factory=list)  # one line per fallback that served, with why
    reads_checked: int = 0  # answers the verify hook looked at (see TaskRunner.run)
    reads_reasked: int = 0
    reads_marked: int = 0

    def count_check(self, result: TaskResult) -> None:
        """Count a fresh result's figure check."""
        self.reads_checked += result.check in ("clean", "reasked", "marked")
        self.reads_reasked += result.check in ("reasked", "marked")
        self.reads_marked += result.check == "marked"


class _Texts:
    """Full texts for the tasks that read the paper; the PDF worker ends once every paper has had its turn."""

    def __init__(self, fetcher: FullTextFetcher, papers: int) -> None:
        self.fetcher = fetcher
        self.pending = papers

    async def get(self, paper_id: str) -> tuple[str | None, str]:
        """(text, "pdf" or "html") or (None, the reason it failed)."""
        from digest.enrich.fulltext import FullTextError

        try:
            got = await self.fetcher.get(paper_id)
        except FullTextError as exc:
            return None, exc.reason
        return got.text, got.source

    async def done_with_one(self) -> None:
        self.pending -= 1
        if not self.pending:
            # Every text is in: end the PDF worker process while the last model calls are out.
            await asyncio.to_thread(self.fetcher.close)


STAGES = {"translation": "translations", "deep_read": "deep reads"}


def stage_of(task: Task) -> str:
    """The progress stage a task's results count in."""
    return STAGES.get(task.name, task.name)


def _keep(entry: Entry, name: str, result: TaskResult) -> None:
    """Keep a new result unless it would make the paper worse: a done result is never replaced by a failure."""
    before = entry.result(name)
    if before is not None and before.status == "done" and result.status != "done":
        return
    entry.set_result(name, result)


class _Gate:
    """With a token budget, deep reads wait until every translation of the day has been answered."""

    def __init__(self, translations: int, active: bool) -> None:
        self.left = translations
        self.open = asyncio.Event()
        if not active or not translations:
            self.open.set()

    def one_done(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.open.set()


async def _enrich_entry(
    entry: Entry,
    tasks: list[Task],
    runner: TaskRunner,
    cache: ResultsCache,
    texts: _Texts,
    services: Services,
    gate: _Gate | None = None,
    on_stage: Callable[[str], None] | None = None,
    others: list[str] | None = None,
    stats: EnrichStats | None = None,
) -> None:
    """Run one paper's missing tasks: cached results first, then the model; reading tasks wait for the text."""
    gate = gate or _Gate(0, False)

    def tick(stage: str) -> None:
        if on_stage is not None:
            on_stage(stage)

    async def run(task: Task, text: str | None, source: str = "") -> None:
        try:
            if task.needs_fulltext:
                await gate.open.wait()
            result = await runner.run(task, entry, text, others=others or ())
            if result is not None:
                if source:  # provenance of a reading task: what it read, and which version
                    result = result.model_copy(update={"source": source, "version": version_of(entry.id)})
                if stats is not None:
                    stats.count_check(result)
                _keep(entry, task.name, result)
                await asyncio.to_thread(cache.put, entry.id, task.name, result)
        finally:
            if not task.needs_fulltext:
                gate.one_done()
        tick(stage_of(task))

    async def reading(wanted: list[Task]) -> None:
        try:
            if not wanted:
                return
            if runner.budget.closed:
                # The budget is spent: leave the reading to the next run without downloading now.
                for t in wanted:
                    runner.budget.deferred += 1
                    _keep(entry, t.name, TaskResult(status="deferred", error="token budget of this run used up",
                                                    at=_now_iso(services)))
                    tick(stage_of(t))
                tick("downloads")
                return
            text, got = await texts.get(entry.id)
            tick("downloads")
        finally:
            await texts.done_with_one()
        if text is None:
            for t in wanted:
                _keep(entry, t.name, TaskResult(status="failed", error=got, at=_now_iso(services)))
                tick(stage_of(t))
            return
        await asyncio.gather(*(run(t, text, got) for t in wanted))

    # A paper's translation does not wait for its PDF: every task starts at once.
    await asyncio.gather(
        *(run(t, None) for t in tasks if not t.needs_fulltext),
        reading([t for t in tasks if t.needs_fulltext]),
    )


async def enrich(
    cfg: Config,
    services: Services,
    entries: list[Entry],
    model: Model,
    *,
    force: bool = False,
    deep: bool = True,
    env: jinja2.Environment | None = None,
    on_progress: Callable[[Entry], None] | None = None,
    budget: TokenBudget | None = None,
    on_stage: Callable[[str], None] | None = None,
    into: EnrichStats | None = None,
    titles: Sequence[str] = (),
) -> EnrichStats:
    """Fill in the papers' missing task results in place; raises ModelAuthError to stop the run.

    `budget` is the run's token budget (shared by its days); `on_stage` hears "downloads", "translations" or
    "deep reads" each time one of them finishes (cached and deferred ones included). `titles`: the day's papers, so
    a read about any other one of them is caught even when only some papers are enriched.
    """
    from digest.enrich.fulltext import FullTextFetcher
    from digest.enrich.runner import TaskRunner

    env = env or template_env(cfg.templates_dir)
    runner = TaskRunner(cfg.llm, model, env=env, clock=services.clock, sleep=services.async_sleep,
                        budget=budget, on_wait=services.reporter.detail, on_long_wait=services.reporter.info)
    cache = ResultsCache(cfg.cache_dir)
    stats = into if into is not None else EnrichStats()  # filled even when the run stops

    def from_cache(entry: Entry) -> list[Task]:
        """Take what the cache holds for this version, model and prompt; return the tasks still to run."""
        left: list[Task] = []
        for t in missing_tasks(entry, force=force, deep=deep):
            cached = None if force else cache.get(entry.id, t.name, model.name, runner.prompt_hash(t))
            if cached is not None:
                entry.set_result(t.name, cached)
            else:
                left.append(t)
        return left

    left: dict[str, list[Task]] = {}
    for e in entries:
        wanted = missing_tasks(e, force=force, deep=deep)
        left[e.id] = from_cache(e)
        if on_stage is not None:  # what the cache served counts as finished
            for t in wanted:
                if t not in left[e.id]:
                    on_stage(stage_of(t))
            if any(t.needs_fulltext for t in wanted) and not any(t.needs_fulltext for t in left[e.id]):
                on_stage("downloads")
    translations = sum(1 for e in entries for t in left[e.id] if not t.needs_fulltext)
    gate = _Gate(translations, runner.budget.limited)

    async def one(entry: Entry, texts: _Texts) -> None:
        # A read about any other paper of the day is a read of the wrong paper, not only one enriched now.
        others = [t for t in dict.fromkeys([*titles, *(e.title for e in entries)]) if t != entry.title]
        await _enrich_entry(entry, left[entry.id], runner, cache, texts, services, gate, on_stage, others, stats)
        entry.status = entry_status(entry)  # type: ignore[assignment]
        if on_progress is not None:
            # Progress may write a checkpoint (fsync): keep it off the loop that dispatches calls.
            await asyncio.to_thread(on_progress, entry)

    async with httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT}, timeout=cfg.fulltext.timeout_seconds
    ) as http:
        fetcher = FullTextFetcher(cfg, http, cfg.cache_dir, sleep=services.async_sleep,
                                  on_wait=services.reporter.detail, on_long_wait=services.reporter.info)
        texts = _Texts(fetcher, len(entries))
        try:
            async with asyncio.TaskGroup() as group:
                for e in entries:
                    group.create_task(one(e, texts))
        except* ModelAuthError as eg:
            raise eg.exceptions[0] from None
        finally:
            fetcher.close()
            stats.llm_calls = runner.calls
            stats.prompt_tokens = runner.prompt_tokens
            stats.completion_tokens = runner.completion_tokens
            stats.downloads = fetcher.downloads
            stats.rate_limited = runner.rate_limited
            stats.fallbacks = [
                f"{m} answered {n} call{'s' if n != 1 else ''} because {why}"
                for (m, why), n in sorted(runner.fallback_answers.items())
            ]
    return stats


def _paper_line(entry: Entry) -> str:
    """`2601.00001v1 done (translation done, deep read deferred)`, for --verbose."""
    parts = ", ".join(f"{STAGES.get(n, n).removesuffix('s')} {r.status}" for n, r in sorted(entry.results.items()))
    return f"{entry.id} {entry.status}" + (f" ({parts})" if parts else "")


class _Checkpoint:
    """Keeps finished work on disk as it comes (at most once a second), so a kill costs only what was in flight."""

    def __init__(self, cfg: Config, record: DayRecord, reporter: Reporter, total: int) -> None:
        self.cfg = cfg
        self.record = record
        self.reporter = reporter
        self.total = total
        self.finished = 0
        self.last = 0.0

    def __call__(self, entry: Entry) -> None:
        self.finished += 1
        self.reporter.detail(f"{self.record.date}: {_paper_line(entry)} [{self.finished}/{self.total}]")
        if time.monotonic() - self.last > 1.0:
            save_record(self.cfg, self.record)
            self.last = time.monotonic()


def stage_totals(entries: list[Entry], *, force: bool = False, deep: bool = True) -> dict[str, int]:
    """How many downloads, translations and deep reads the papers still need (the progress rows)."""
    totals = {"downloads": 0, "translations": 0, "deep reads": 0}
    for e in entries:
        tasks = missing_tasks(e, force=force, deep=deep)
        totals["downloads"] += any(t.needs_fulltext for t in tasks)
        for t in tasks:
            totals[stage_of(t)] = totals.get(stage_of(t), 0) + 1
    return totals


def enrich_day(
    cfg: Config,
    services: Services,
    plan: DayPlan,
    model: Model,
    env: jinja2.Environment,
    *,
    force: bool,
    budget: TokenBudget | None = None,
) -> tuple[EnrichStats, str]:
    """Run a planned day's missing tasks with progress and checkpoints; (stats, why the run stopped or "")."""
    assert plan.record is not None
    record = plan.record
    stats = EnrichStats()
    rep = services.reporter
    with rep.stages(plan.day, stage_totals(plan.todo, force=force)) as advance:
        checkpoint = _Checkpoint(cfg, record, rep, len(plan.todo))
        try:
            asyncio.run(enrich(cfg, services, plan.todo, model, force=force, env=env, on_progress=checkpoint,
                               titles=[e.title for e in record.papers],
                               budget=budget, on_stage=advance, into=stats))
        except ModelAuthError as exc:
            return stats, str(exc)
        except KeyboardInterrupt:
            save_record(cfg, record)
            raise
    return stats, ""


# ------------------------------------------------------------------ publish


def publish_day(
    cfg: Config,
    services: Services,
    plan: DayPlan,
    stats: EnrichStats,
    env: jinja2.Environment,
    *,
    started: float,
    stopped: str = "",
) -> DayOutcome:
    """Save the record when its content changed, then hand it to every publisher; the day's outcome.

    A run that stopped (`stopped` says why) changes nothing it did not improve: done results are never replaced
    by failures (see _keep), and a record whose content is unchanged is not rewritten.
    """
    out = DayOutcome(day=plan.day, reason=plan.reason)
    record = plan.record
    if record is None:
        return out  # the summary says why, once
    for e in record.papers:
        e.status = entry_status(e)  # type: ignore[assignment]
    # Keyword rules, no model call; always recomputed, as a translation finished since changes the input.
    apply_topics(record, load_taxonomy(cfg.topics_file), force=True)
    budget = cfg.llm.max_tokens_per_run
    run_stats = RunStats(
        fetched=plan.fetched,
        kept=len(record.papers),
        done=sum(1 for e in record.papers if e.status == "done"),
        failed=sum(1 for e in record.papers if e.status == "failed"),
        llm_calls=stats.llm_calls,
        prompt_tokens=stats.prompt_tokens,
        completion_tokens=stats.completion_tokens,
        downloads=stats.downloads,
        reads_checked=stats.reads_checked,
        reads_reasked=stats.reads_reasked,
        reads_marked=stats.reads_marked,
        deferred=sum(1 for e in record.papers for r in e.results.values() if r.status == "deferred"),
        rate_limited=stats.rate_limited,
        token_budget=budget,
        cost=cfg.llm.cost(stats.prompt_tokens, stats.completion_tokens),
        currency=cfg.llm.currency if cfg.llm.price_per_million_input is not None else "",
        fallbacks=list(stats.fallbacks),
        wall_seconds=round(time.monotonic() - started, 3),
        finished_at=_now_iso(services),
    )
    changed = _content_of(record) != plan.previous_content
    if changed:
        record.stats = run_stats
        save_record(cfg, record)
    out.stats = run_stats
    published = publish_record(cfg, record, env, services.publishers)
    post = published.get("post")
    out.post = post.path if post is not None else None
    wrote = any(p.changed for p in published.values())
    out.failures = failure_lines(record)
    services.reporter.detail(
        f"{plan.day}: record {'updated' if changed else 'unchanged'}, post {'written' if wrote else 'unchanged'}"
    )
    return out


# ------------------------------------------------------------------ run / backfill


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 paper`, `2 papers` (and `many` for an irregular plural)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def summary_lines(o: DayOutcome) -> list[str]:
    """The closing summary of one day: the figures line, then fallbacks, deferrals and one line per failed paper."""
    s = o.stats
    if not o.wrote_post:
        return [f"{o.day}: no post ({o.reason})"]
    tokens = f"{s.prompt_tokens} prompt + {s.completion_tokens} completion tokens"
    if s.token_budget is not None:
        tokens += f" of a {s.token_budget} budget"
    if s.rate_limited:  # the provider serves fewer calls at once than llm.concurrency
        tokens += f"; {plural(s.rate_limited, 'answer')} of 429"
    cost = f" | cost {s.cost:.4f} {s.currency}".rstrip() if s.cost is not None else ""
    deferred = f" | deferred {s.deferred}" if s.deferred else ""
    lines = [
        f"{o.day}: fetched {s.fetched} | kept {s.kept} | done {s.done} | failed {s.failed}{deferred} | "
        f"LLM calls {s.llm_calls} ({tokens}){cost} | downloads {s.downloads} | reads checked {s.reads_checked}, "
        f"re-asked {s.reads_reasked}, marked {s.reads_marked} | {s.wall_seconds:.1f}s -> {o.post}"
    ]
    lines += [f"  fallback: {line}" for line in s.fallbacks]
    if s.deferred:
        lines.append(f"  deferred {plural(s.deferred, 'deep read')}: the run's token budget (llm.max_tokens_per_run) "
                     "was used up; the next run continues them")
    lines += [f"  failed {pid}: {reason}" for pid, reason in o.failures]
    return lines


def failure_lines(record: DayRecord) -> list[tuple[str, str]]:
    """(paper id, what failed and why) once per paper: `translation failed: …; deep read failed: …`."""
    names = [t.name for t in all_tasks()]
    lines = []
    for e in record.papers:
        failed = [(n, r.error) for n in [*names, *sorted(set(e.results) - set(names))]
                  if (r := e.result(n)) is not None and r.status == "failed"]
        if not failed:
            continue
        reasons = {why for _, why in failed}
        parts = [STAGES.get(n, n).removesuffix("s") for n, _ in failed]
        if len(reasons) == 1:
            lines.append((e.id, f"{' and '.join(parts)} failed: {failed[0][1]}"))
        else:
            lines.append((e.id, "; ".join(f"{p} failed: {why}" for p, (_, why) in zip(parts, failed, strict=True))))
    return lines


def _complete(record: DayRecord | None) -> bool:
    return record is not None and all(entry_status(e) == "done" for e in record.papers)


def check_folders(cfg: Config) -> None:
    """Before anything is fetched or paid for: a file where a site folder should be is a config error."""
    from digest.core.files import file_in_the_way

    for key, path in (("site.posts_dir", cfg.posts_dir), ("site.records_dir", cfg.records_dir),
                      ("site.cache_dir", cfg.cache_dir)):
        blocker = file_in_the_way(path)
        if blocker is not None:
            what = "is a file, not a folder" if blocker == path else f"cannot be a folder because {blocker} is a file"
            raise ConfigError(f"{key}: {path} {what}; set {key} in the config to a folder (or move the file away)")


def run_days(
    cfg: Config,
    days: list[date],
    services: Services,
    *,
    no_llm: bool = False,
    force: bool = False,
    skip_complete: bool = False,
    command: str = "run",
    notify: bool = True,
) -> list[DayOutcome]:
    """The daily job over one or more days (oldest first), with one arXiv query for all of them.

    With `notify`, each day whose post is complete is sent to the notify channels not yet sent.
    """
    rep = services.reporter
    check_folders(cfg)
    with site_lock(
        lock_path(cfg), command, wait_seconds=cfg.site.lock_timeout_seconds, sleep=services.sleep, clock=services.clock
    ):
        days = sorted(set(days))
        previous = {d: load_record(cfg.records_dir, d.isoformat()) for d in days}  # a broken record stops here
        outcomes: list[DayOutcome] = []
        todo = []
        for d in days:
            if skip_complete and not force and _complete(previous[d]):
                outcomes.append(DayOutcome(day=d.isoformat(), reason="already complete (use --force to redo)"))
                rep.detail(f"{d}: post already complete, skipped")
                if notify:
                    _notify(cfg, previous[d], services)
            else:
                todo.append(d)
        if not todo:
            return outcomes
        windows = [window_for(d, cfg.window) for d in todo]
        model = None if no_llm else model_for(cfg, services)
        if model is not None and services.model is None:
            threading.Thread(target=_warm_imports, daemon=True).start()
        started = time.monotonic()
        client, own = _arxiv_client(cfg, services)
        try:
            rep.info(f"fetching arXiv listings for {len(windows)} day(s): {todo[0]}" + (
                f" … {todo[-1]}" if len(todo) > 1 else ""))
            fetched = fetch_windows(
                windows, client, cfg.arxiv.categories, cfg.arxiv.announce_types, now=services.clock()
            )
        finally:
            if own is not None:
                own.close()
        for warning in client.warnings:
            rep.detail(f"arXiv: {warning}")
        fetch_seconds = time.monotonic() - started
        listed = sum(len(v) for v in fetched.values())
        rep.info(f"fetch: arXiv listed {listed} paper{'' if listed == 1 else 's'} in {fetch_seconds:.1f} s")

        if no_llm:
            rep.warn("--no-llm: posts show English abstracts without deep reads; a run without it fills them in")
        elif model is None:
            rep.warn(
                f"no API key in ${cfg.llm.api_key_env}: posts show English abstracts without deep reads; "
                "set the variable and run again to fill them in"
            )

        posted = PostedIndex(cfg.records_dir)
        env = template_env(cfg.templates_dir)  # compiled once for every day's prompts and post
        from digest.enrich.budget import TokenBudget

        budget = TokenBudget(cfg.llm.max_tokens_per_run)  # one budget for every day of the run
        for w in windows:
            day_started = time.monotonic()
            plan = plan_day(cfg, w, fetched.get(w.date, []), previous[w.date], posted, force=force, reporter=rep)
            stats, stopped = EnrichStats(), ""
            if model is not None and plan.todo:
                stats, stopped = enrich_day(cfg, services, plan, model, env, force=force, budget=budget)
            # Chinese titles (issue 22): every paper of the day, not only plan.todo, in batched calls.
            if model is not None and plan.record is not None and not stopped:
                from digest.enrich.titles import day_titles, title_step

                titles = title_step(cfg, model, env, services, budget)
                stopped = day_titles(plan.record.papers, titles, stats, services.reporter, force=force)
            if plan.record is not None:
                rep.info(f"{plan.day}: writing the record and the post")
            out = publish_day(cfg, services, plan, stats, env, started=day_started, stopped=stopped)
            out.stopped = stopped
            if plan.record is not None:
                posted.update(plan.record)
            out.stats.wall_seconds = round(out.stats.wall_seconds + fetch_seconds / len(windows), 3)
            outcomes.append(out)
            if notify and plan.record is not None:
                _notify(cfg, plan.record, services)
            if out.stopped:
                break
        halted = any(o.stopped for o in outcomes)
        note_new_versions(cfg, services, client.last_listing, posted, None if halted else model, env, budget)
        return sorted(outcomes, key=lambda o: o.day)


def _notify(cfg: Config, record: DayRecord | None, services: Services) -> None:
    if record is not None and cfg.notify.channels:
        from digest.publish.notify.hook import notify_published

        notify_published(cfg, record, services)


# ------------------------------------------------------------------ new versions of posted papers

REPLACED = ("replace", "replace-cross")


def note_new_versions(
    cfg: Config,
    services: Services,
    listing: Listing | None,
    posted: PostedIndex,
    model: Model | None,
    env: jinja2.Environment,
    budget: TokenBudget | None = None,
) -> list[str]:
    """Note the listing's replacements of papers already posted in the day records where they were posted.

    With llm.reread_new_versions (and a model) each such paper is read again at its new version: one deep-read
    call, checked like any other, and that day's post and record are updated. Returns the changed days.
    """
    if listing is None or listing.mailing_date is None:
        return []
    announced = datetime.combine(listing.mailing_date, MAILING_TIME, tzinfo=NEW_YORK)
    at = announced.astimezone(UTC).isoformat(timespec="seconds")
    days: dict[str, dict[str, str]] = {}  # day posted -> base id -> newest announced version
    for arxiv_id, kind in listing.entries:
        try:
            base, version = split_id(arxiv_id)
        except ValueError:
            continue
        if kind not in REPLACED or version is None:
            continue
        day = posted.day_of(base)
        if day is not None:
            known = days.setdefault(day, {}).get(base)
            if known is None or version > version_of(known):
                days[day][base] = arxiv_id
    changed: list[str] = []
    for day, newest in sorted(days.items()):
        record = load_record(cfg.records_dir, day)
        if record is None:
            continue
        before = dump_record(record)
        again: list[tuple[Entry, Entry]] = []
        for e in record.papers:
            new_id = newest.get(e.base_id)
            if new_id is None or version_of(new_id) <= version_of(e.id):
                continue
            v = version_of(new_id)
            if not e.new_version or v > version_of(e.new_version):
                e.new_version, e.new_version_at = new_id, at
                services.reporter.info(f"{day}: arXiv announced {new_id} of a paper posted that day")
            d = e.deep_read
            if cfg.llm.reread_new_versions and model is not None and (d is None or d.version < v):
                # The new version under its own id (its text, its cache key); results come back to the entry.
                kept = {k: r for k, r in e.results.items() if not _reads(k)}
                again.append((e, e.model_copy(update={"id": new_id, "results": kept})))
        if again and model is not None:
            try:
                asyncio.run(enrich(cfg, services, [tmp for _, tmp in again], model, env=env, budget=budget))
            except ModelAuthError as exc:
                services.reporter.warn(f"{day}: new versions not read again: {exc}")
            for e, tmp in again:
                for name, result in tmp.results.items():
                    if result.status == "done":
                        e.set_result(name, result)
                    elif _reads(name):  # the posted read stays until the new version is read; the next run retries
                        services.reporter.warn(f"{day}: {tmp.id} not read again: {result.error}")
                e.status = entry_status(e)  # type: ignore[assignment]
        if dump_record(record) != before:
            save_record(cfg, record)
            publish_record(cfg, record, env, services.publishers)
            changed.append(day)
    return changed


def _reads(task_name: str) -> bool:
    return any(t.name == task_name and t.needs_fulltext for t in all_tasks())


def backfill(
    cfg: Config, start: date, end: date, services: Services, *, force: bool = False, notify: bool = False
) -> list[DayOutcome]:
    """One post per day from start to end inclusive; complete days are skipped unless force.

    Nothing is sent to the notify channels unless `notify` (backfill --notify).
    """
    if end < start:
        raise UsageError(f"backfill: END {end} is before START {start}; give the older date first")
    if (end - start).days > 366:
        raise UsageError("backfill: at most 366 days at once; split the range")
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return run_days(cfg, days, services, force=force, skip_complete=True, command="backfill", notify=notify)


# ------------------------------------------------------------------ preview


def preview(cfg: Config, arxiv_id: str, services: Services, *, no_pdf: bool = False) -> str:
    """One paper's section as a post would show it; results go to the cache, no post or record is written."""
    from digest.publish.markdown import render_section

    client, own = _arxiv_client(cfg, services)
    try:
        papers = client.by_ids([arxiv_id])
    finally:
        if own is not None:
            own.close()
    if not papers:
        raise DigestError(f"arXiv knows no paper {arxiv_id} (check the id; new papers appear after their mailing)")
    paper = papers[0]
    entry = _entry_from_paper(paper, cfg)
    model = model_for(cfg, services)
    env = template_env(cfg.templates_dir)
    if model is None:
        services.reporter.warn(
            f"no API key in ${cfg.llm.api_key_env}: showing the English abstract only; set the variable for the rest"
        )
    else:
        asyncio.run(enrich(cfg, services, [entry], model, deep=not no_pdf, env=env))
    return render_section(entry, env)
