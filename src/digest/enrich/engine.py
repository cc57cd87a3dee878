"""The enrich engine: run the papers' missing tasks (cache first, then the model), reading tasks after the text.

`enrich` fills in a list of entries; `enrich_day` does it for a planned day with progress rows and checkpoints.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import httpx
import jinja2

from digest.core.config import Config
from digest.core.errors import ModelAuthError
from digest.core.http import USER_AGENT
from digest.core.record import Entry, RunStats, TaskResult, version_of
from digest.core.services import Services
from digest.core.store import RecordStore
from digest.core.templates import template_env
from digest.enrich.cache import ResultsCache
from digest.enrich.model import run_with
from digest.enrich.plan import STAGES, DayPlan, missing_tasks, refresh_status, stage_of, stage_totals
from digest.enrich.tasks import Task

if TYPE_CHECKING:
    from digest.enrich.budget import TokenBudget
    from digest.enrich.fulltext import FullTextFetcher
    from digest.enrich.model import Model
    from digest.enrich.runner import TaskRunner


def _warm_imports() -> None:
    """Import the model client (the SDK takes ~0.25 s) while arXiv answers; PDF work runs in its own process."""
    import importlib

    for name in ("openai", "digest.enrich.runner", "digest.enrich.fulltext"):
        importlib.import_module(name)


def start_model(cfg: Config, services: Services, *, no_llm: bool = False) -> Model | None:
    """The run's model (None with --no-llm or without a key); a configured one starts loading its SDK now."""
    model = None if no_llm else model_for(cfg, services)
    if model is not None and services.model is None:
        threading.Thread(target=_warm_imports, daemon=True).start()
    return model


def warn_without_model(cfg: Config, services: Services, model: Model | None, *, no_llm: bool = False) -> None:
    """Say why the posts will show English abstracts only, when they will."""
    if no_llm:
        services.reporter.warn(
            "--no-llm: posts show English abstracts without deep reads; a run without it fills them in")
    elif model is None:
        services.reporter.warn(
            f"no API key in ${cfg.llm.api_key_env}: posts show English abstracts without deep reads; "
            "set the variable and run again to fill them in"
        )


def model_for(cfg: Config, services: Services) -> Model | None:
    """The model to run tasks with: the injected one, else the configured service when its key is set, else None."""
    if services.model is not None:
        return cast("Model", services.model)
    from digest.enrich.model import build_chain

    return build_chain(cfg.llm, services.environ)


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

    def run_stats(self, cfg: Config, plan: DayPlan, seconds: float, finished_at: str) -> RunStats:
        """The figures stored with a planned (and now enriched) day."""
        record, llm = plan.record, cfg.llm
        assert record is not None
        return RunStats(
            fetched=plan.fetched, kept=len(record.papers),
            done=sum(1 for e in record.papers if e.status == "done"),
            failed=sum(1 for e in record.papers if e.status == "failed"),
            llm_calls=self.llm_calls, prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
            downloads=self.downloads, reads_checked=self.reads_checked, reads_reasked=self.reads_reasked,
            reads_marked=self.reads_marked,
            deferred=sum(1 for e in record.papers for r in e.results.values() if r.status == "deferred"),
            rate_limited=self.rate_limited, token_budget=llm.max_tokens_per_run,
            cost=llm.cost(self.prompt_tokens, self.completion_tokens),
            currency=llm.currency if llm.price_per_million_input is not None else "",
            fallbacks=list(self.fallbacks), wall_seconds=round(seconds, 3), finished_at=finished_at,
        )


@dataclass
class EnrichOptions:
    """How to enrich: which tasks, within which budget, and who hears about progress."""

    force: bool = False  # redo done tasks
    deep: bool = True  # run the tasks that read the paper
    budget: TokenBudget | None = None  # the run's token budget, shared by its days
    titles: Sequence[str] = ()  # the day's papers: a read about any other one of them is a read of the wrong paper
    on_progress: Callable[[Entry], None] | None = None  # a paper finished (may write a checkpoint)
    on_stage: Callable[[str], None] | None = None  # "downloads", "translations" or "deep reads" finished one
    stats: EnrichStats = field(default_factory=EnrichStats)  # filled even when the run stops


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


@dataclass
class _Shared:
    """What every paper's enrichment of one call shares."""

    runner: TaskRunner
    cache: ResultsCache
    texts: _Texts
    services: Services
    gate: _Gate
    opts: EnrichOptions

    def tick(self, stage: str) -> None:
        if self.opts.on_stage is not None:
            self.opts.on_stage(stage)


async def _run_task(entry: Entry, task: Task, sh: _Shared, others: list[str], text: str | None,
                    source: str = "") -> None:
    """One task of one paper, its result kept (never worse) and cached."""
    try:
        if task.needs_fulltext:
            await sh.gate.open.wait()
        result = await sh.runner.run(task, entry, text, others=others)
        if result is not None:
            if source:  # provenance of a reading task: what it read, and which version
                result = result.model_copy(update={"source": source, "version": version_of(entry.id)})
            sh.opts.stats.count_check(result)
            entry.keep(task.name, result)
            await asyncio.to_thread(sh.cache.put, entry.id, task.name, result)
    finally:
        if not task.needs_fulltext:
            sh.gate.one_done()
    sh.tick(stage_of(task))


async def _reading(entry: Entry, wanted: list[Task], sh: _Shared, others: list[str]) -> None:
    """The tasks that read the paper: fetch its text once, then run them (or record why they could not run)."""
    try:
        if not wanted:
            return
        if sh.runner.budget.closed:
            # The budget is spent: leave the reading to the next run without downloading now.
            for t in wanted:
                sh.runner.budget.deferred += 1
                entry.keep(t.name, TaskResult(status="deferred", error="token budget of this run used up",
                                              at=sh.services.now_iso()))
                sh.tick(stage_of(t))
            sh.tick("downloads")
            return
        text, got = await sh.texts.get(entry.id)
        sh.tick("downloads")
    finally:
        await sh.texts.done_with_one()
    if text is None:
        for t in wanted:
            entry.keep(t.name, TaskResult(status="failed", error=got, at=sh.services.now_iso()))
            sh.tick(stage_of(t))
        return
    await asyncio.gather(*(_run_task(entry, t, sh, others, text, got) for t in wanted))


async def _enrich_entry(entry: Entry, tasks: list[Task], sh: _Shared, others: list[str]) -> None:
    """Run one paper's missing tasks; a paper's translation does not wait for its PDF: every task starts at once."""
    await asyncio.gather(
        *(_run_task(entry, t, sh, others, None) for t in tasks if not t.needs_fulltext),
        _reading(entry, [t for t in tasks if t.needs_fulltext], sh, others),
    )


def _from_cache(entries: list[Entry], runner: TaskRunner, cache: ResultsCache, model: Model,
                opts: EnrichOptions) -> dict[str, list[Task]]:
    """Take what the cache holds for each paper's version, model and prompt; the tasks still to run, by paper id."""
    left: dict[str, list[Task]] = {}
    for e in entries:
        wanted = missing_tasks(e, force=opts.force, deep=opts.deep)
        left[e.id] = []
        for t in wanted:
            cached = None if opts.force else cache.get(e.id, t.name, model.name, runner.prompt_hash(t))
            if cached is not None:
                e.set_result(t.name, cached)
            else:
                left[e.id].append(t)
        if opts.on_stage is not None:  # what the cache served counts as finished
            for t in wanted:
                if t not in left[e.id]:
                    opts.on_stage(stage_of(t))
            if any(t.needs_fulltext for t in wanted) and not any(t.needs_fulltext for t in left[e.id]):
                opts.on_stage("downloads")
    return left


def _count(stats: EnrichStats, runner: TaskRunner, fetcher: FullTextFetcher) -> None:
    stats.llm_calls = runner.calls
    stats.prompt_tokens = runner.prompt_tokens
    stats.completion_tokens = runner.completion_tokens
    stats.downloads = fetcher.downloads
    stats.rate_limited = runner.rate_limited
    stats.fallbacks = [
        f"{m} answered {n} call{'s' if n != 1 else ''} because {why}"
        for (m, why), n in sorted(runner.fallback_answers.items())
    ]


async def enrich(
    cfg: Config,
    services: Services,
    entries: list[Entry],
    model: Model,
    env: jinja2.Environment | None = None,
    opts: EnrichOptions | None = None,
) -> EnrichStats:
    """Fill in the papers' missing task results in place; raises ModelAuthError to stop the run."""
    from digest.enrich.fulltext import FullTextFetcher, Pacing
    from digest.enrich.runner import TaskRunner, Waits

    opts = opts or EnrichOptions()
    env = env or template_env(cfg.templates_dir)
    waits = Waits(clock=services.clock, sleep=services.async_sleep, on_wait=services.reporter.detail,
                  on_long_wait=services.reporter.info)
    runner = TaskRunner(cfg.llm, model, env=env, waits=waits, budget=opts.budget)
    cache = ResultsCache(cfg.cache_dir)
    left = _from_cache(entries, runner, cache, model, opts)
    translations = sum(1 for e in entries for t in left[e.id] if not t.needs_fulltext)
    titles = list(dict.fromkeys([*opts.titles, *(e.title for e in entries)]))

    async def one(entry: Entry, sh: _Shared) -> None:
        # A read about any other paper of the day is a read of the wrong paper, not only one enriched now.
        await _enrich_entry(entry, left[entry.id], sh, [t for t in titles if t != entry.title])
        refresh_status(entry)
        if opts.on_progress is not None:
            # Progress may write a checkpoint (fsync): keep it off the loop that dispatches calls.
            await asyncio.to_thread(opts.on_progress, entry)

    async with httpx.AsyncClient(headers={"User-Agent": USER_AGENT}, timeout=cfg.fulltext.timeout_seconds) as http:
        fetcher = FullTextFetcher(cfg.fulltext, cfg.arxiv, cfg.cache_dir, http=http, pacing=Pacing(
            sleep=services.async_sleep, on_wait=services.reporter.detail, on_long_wait=services.reporter.info))
        sh = _Shared(runner, cache, _Texts(fetcher, len(entries)), services,
                     _Gate(translations, runner.budget.limited), opts)
        try:
            async with asyncio.TaskGroup() as group:
                for e in entries:
                    group.create_task(one(e, sh))
        except* ModelAuthError as eg:
            raise eg.exceptions[0] from None
        finally:
            fetcher.close()
            _count(opts.stats, runner, fetcher)
    return opts.stats


def paper_line(entry: Entry) -> str:
    """`2601.00001v1 done (translation done, deep read deferred)`, for --verbose."""
    parts = ", ".join(f"{STAGES.get(n, n).removesuffix('s')} {r.status}" for n, r in sorted(entry.results.items()))
    return f"{entry.id} {entry.status}" + (f" ({parts})" if parts else "")


@dataclass
class DayJob:
    """A planned day and what its enrichment runs with."""

    plan: DayPlan
    model: Model
    env: jinja2.Environment
    store: RecordStore  # keeps finished work on disk as it comes (the checkpoint)
    force: bool = False
    budget: TokenBudget | None = None


def enrich_day(cfg: Config, services: Services, job: DayJob) -> tuple[EnrichStats, str]:
    """Run a planned day's missing tasks with progress and checkpoints; (stats, why the run stopped or "")."""
    plan = job.plan
    assert plan.record is not None
    record = plan.record
    rep = services.reporter
    save_now = job.store.checkpoint(record)
    finished = 0

    def progress(entry: Entry) -> None:
        nonlocal finished
        finished += 1
        rep.detail(f"{record.date}: {paper_line(entry)} [{finished}/{len(plan.todo)}]")
        save_now()

    with rep.stages(plan.day, stage_totals(plan.todo, force=job.force)) as advance:
        opts = EnrichOptions(force=job.force, budget=job.budget, titles=[e.title for e in record.papers],
                             on_progress=progress, on_stage=advance)
        try:
            run_with(job.model, enrich(cfg, services, plan.todo, job.model, job.env, opts))
        except ModelAuthError as exc:
            return opts.stats, str(exc)
        except KeyboardInterrupt:
            job.store.save(record)
            raise
    return opts.stats, ""
