"""run / backfill / preview / import / render, composed from the stages."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import jinja2

from . import USER_AGENT
from .arxiv import ArxivClient
from .config import Config
from .errors import DigestError, ModelAuthError, UsageError
from .fetch import fetch_windows
from .lock import site_lock
from .models import (
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
)
from .posts import lock_path, save_record, write_post
from .records import PostedIndex, dump_record, entry_status, load_record
from .render import template_env
from .results_cache import ResultsCache
from .select import select
from .ui import Reporter
from .window import window_for

SEARCH_PAGE_SIZE = 1000


def _warm_imports() -> None:
    """Import the model client (the SDK takes ~0.25 s) while arXiv answers; PDF work runs in its own process."""
    import importlib

    for name in ("digest.llm", "digest.fulltext"):
        importlib.import_module(name)


@dataclass
class Services:
    """Everything that reaches outside the process, passed in so tests can swap it."""

    reporter: Reporter = field(default_factory=Reporter)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    arxiv_http: httpx.Client | None = None  # built from config when None
    llm_client: object | None = None  # an openai.AsyncOpenAI; built from config when None


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


def _arxiv_client(cfg: Config, services: Services) -> tuple[ArxivClient, httpx.Client | None]:
    own = None
    http = services.arxiv_http
    if http is None:
        own = http = httpx.Client()  # the client sets user agent, timeout and redirects on each request
    # arXiv serves up to 2000 results a request: one request covers a month of these categories.
    return ArxivClient(cfg.arxiv, http, sleep=services.sleep, page_size=SEARCH_PAGE_SIZE), own


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


# ------------------------------------------------------------------ enrich


class Enricher:
    """Runs the model tasks of one or more papers concurrently; the record is the cache."""

    def __init__(self, cfg: Config, services: Services, api_key: str, env: jinja2.Environment | None = None) -> None:
        self.cfg = cfg
        self.env = env or template_env(cfg.templates_dir)
        self.services = services
        self.api_key = api_key
        self.cache = ResultsCache(cfg.cache_dir)
        self.llm_calls = self.prompt_tokens = self.completion_tokens = self.downloads = 0

    def _needs(self, result: TaskResult | None, force: bool) -> bool:
        return force or result is None or result.status != "done"

    async def enrich(
        self,
        entries: list[Entry],
        *,
        force: bool,
        deep: bool = True,
        on_progress: Callable[[Entry], None] | None = None,
    ) -> None:
        """Fill in missing translations and deep reads in place; raise ModelAuthError to stop the run."""
        from .fulltext import FullTextError, FullTextFetcher
        from .llm import LLMClient

        llm = LLMClient(self.cfg.llm, self.api_key, env=self.env, client=self.services.llm_client)  # type: ignore[arg-type]
        async with httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT}, timeout=self.cfg.fulltext.timeout_seconds
        ) as http:
            fetcher = FullTextFetcher(self.cfg, http, self.cfg.cache_dir)

            async def translate(entry: Entry) -> None:
                if not self._needs(entry.translation, force):
                    return
                cached = None if force else self.cache.get(entry.id, "translation")
                if cached is not None:
                    entry.translation = cached
                    return
                if not entry.abstract.strip():
                    return  # imported without its English abstract: nothing to translate from
                result = await llm.translate(entry.title, entry.abstract)
                entry.translation = result
                await asyncio.to_thread(self.cache.put, entry.id, "translation", result)

            texts_pending = [len(entries)]

            async def full_text(entry: Entry) -> str | None:
                """The paper's text for its deep read; None when none is needed or it failed (then recorded)."""
                try:
                    if not deep or not self._needs(entry.deep_read, force):
                        return None
                    cached = None if force else self.cache.get(entry.id, "deep_read")
                    if cached is not None:
                        entry.deep_read = cached
                        return None
                    try:
                        return (await fetcher.get(entry.id)).text
                    except FullTextError as exc:
                        entry.deep_read = TaskResult(status="failed", error=exc.reason, at=_now_iso(self.services))
                        return None
                finally:
                    texts_pending[0] -= 1
                    if not texts_pending[0]:
                        # Every text is in: end the PDF worker process while the last model calls are out.
                        await asyncio.to_thread(fetcher.close)

            async def deep_read(entry: Entry) -> None:
                text = await full_text(entry)
                if text is None:
                    return
                result = await llm.deep_read(entry.title, entry.abstract, text)
                entry.deep_read = result
                await asyncio.to_thread(self.cache.put, entry.id, "deep_read", result)

            async def one(entry: Entry) -> None:
                # A paper's translation does not wait for its PDF: both start at once.
                await asyncio.gather(translate(entry), deep_read(entry))
                entry.status = entry_status(entry)  # type: ignore[assignment]
                if on_progress is not None:
                    # Progress may write a checkpoint (fsync): keep it off the loop that dispatches calls.
                    await asyncio.to_thread(on_progress, entry)

            try:
                async with asyncio.TaskGroup() as group:
                    for e in entries:
                        group.create_task(one(e))
            except* ModelAuthError as eg:
                raise eg.exceptions[0] from None
            finally:
                fetcher.close()
                self.llm_calls += llm.calls
                self.prompt_tokens += llm.prompt_tokens
                self.completion_tokens += llm.completion_tokens
                self.downloads += fetcher.downloads


# ------------------------------------------------------------------ run / backfill


def _complete(record: DayRecord | None) -> bool:
    return record is not None and all(e.status == "done" for e in record.papers)


def run_days(
    cfg: Config,
    days: list[date],
    services: Services,
    *,
    no_llm: bool = False,
    force: bool = False,
    skip_complete: bool = False,
    command: str = "run",
) -> list[DayOutcome]:
    """The daily job over one or more days (oldest first), with one arXiv query for all of them."""
    rep = services.reporter
    with site_lock(lock_path(cfg), command, wait_seconds=cfg.site.lock_timeout_seconds, sleep=services.sleep):
        days = sorted(set(days))
        previous = {d: load_record(cfg.records_dir, d.isoformat()) for d in days}  # a broken record stops here
        outcomes: list[DayOutcome] = []
        todo = []
        for d in days:
            if skip_complete and not force and _complete(previous[d]):
                outcomes.append(DayOutcome(day=d.isoformat(), reason="already complete (use --force to redo)"))
                rep.detail(f"{d}: post already complete, skipped")
            else:
                todo.append(d)
        if not todo:
            return outcomes
        windows = [window_for(d, cfg.window) for d in todo]
        if not no_llm and _api_key(cfg, services):
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
        for w in client.warnings:
            rep.detail(f"arXiv: {w}")
        fetch_seconds = time.monotonic() - started

        api_key = "" if no_llm else _api_key(cfg, services)
        if not no_llm and not api_key:
            rep.warn(
                f"no API key in ${cfg.llm.api_key_env}: posts show English abstracts without deep reads; "
                "set the variable and run again to fill them in"
            )
        elif no_llm:
            rep.warn("--no-llm: posts show English abstracts without deep reads; a run without it fills them in")

        posted = PostedIndex(cfg.records_dir)
        env = template_env(cfg.templates_dir)  # compiled once for every day's prompts and post
        for w in windows:
            out = _run_one_day(cfg, services, w, fetched.get(w.date, []), previous[w.date], posted, env, api_key, force)
            out.stats.wall_seconds = round(out.stats.wall_seconds + fetch_seconds / len(windows), 3)
            outcomes.append(out)
            if out.stopped:
                break
        return sorted(outcomes, key=lambda o: o.day)


def _run_one_day(
    cfg: Config,
    services: Services,
    window: Window,
    papers: list[Paper],
    previous: DayRecord | None,
    posted: PostedIndex,
    env: jinja2.Environment,
    api_key: str,
    force: bool,
) -> DayOutcome:
    rep = services.reporter
    day = window.date.isoformat()
    started = time.monotonic()
    out = DayOutcome(day=day)
    sel = select(papers, cfg.filter, posted.excluding(day), cfg.arxiv.categories)
    for paper, reason in sel.dropped:
        rep.detail(f"{day}: dropped {paper.id} ({reason})")
    entries = _merge_entries(previous, sel.kept, cfg)
    if not entries:
        if window.basis == "announced" and not window.mailings:
            out.reason = "no arXiv mailing was released in this window (no mailing on Friday/Saturday or holidays)"
        elif sel.fetched:
            out.reason = f"all {sel.fetched} papers were removed by dedupe or filters (see --verbose)"
        else:
            out.reason = f"arXiv listed no papers in {'/'.join(cfg.arxiv.categories)} for this window"
        rep.info(f"{day}: no post written: {out.reason}")
        return out

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
    )
    before = _content_of(previous)

    enricher = None
    todo = [e for e in entries if force or e.status != "done"]
    if api_key and todo:
        enricher = Enricher(cfg, services, api_key, env)
        last_save = [0.0]

        def checkpoint(entry: Entry) -> None:
            advance()
            # Keep finished work on disk as it comes, so a kill costs only what was in flight.
            if time.monotonic() - last_save[0] > 1.0:
                save_record(cfg, record)
                last_save[0] = time.monotonic()

        with rep.progress(f"{day}: papers", len(todo)) as advance:
            try:
                asyncio.run(enricher.enrich(todo, force=force, on_progress=checkpoint))
            except ModelAuthError as exc:
                out.stopped = str(exc)
            except KeyboardInterrupt:
                save_record(cfg, record)
                raise
    for e in entries:
        e.status = entry_status(e)  # type: ignore[assignment]

    stats = RunStats(
        fetched=sel.fetched,
        kept=len(entries),
        done=sum(1 for e in entries if e.status == "done"),
        failed=sum(1 for e in entries if e.status == "failed"),
        llm_calls=enricher.llm_calls if enricher else 0,
        prompt_tokens=enricher.prompt_tokens if enricher else 0,
        completion_tokens=enricher.completion_tokens if enricher else 0,
        downloads=enricher.downloads if enricher else 0,
        wall_seconds=round(time.monotonic() - started, 3),
        finished_at=_now_iso(services),
    )
    changed = _content_of(record) != before
    if changed:
        record.stats = stats
        save_record(cfg, record)
    out.stats = stats
    out.post, wrote = write_post(cfg, record, env)
    posted.update(record)
    for e in entries:
        for task in (e.translation, e.deep_read):
            if task is not None and task.status == "failed":
                out.failures.append((e.id, task.error))
    rep.detail(f"{day}: record {'updated' if changed else 'unchanged'}, post {'written' if wrote else 'unchanged'}")
    return out


def backfill(cfg: Config, start: date, end: date, services: Services, *, force: bool = False) -> list[DayOutcome]:
    """One post per day from start to end inclusive; complete days are skipped unless force."""
    if end < start:
        raise UsageError(f"backfill: END {end} is before START {start}; give the older date first")
    if (end - start).days > 366:
        raise UsageError("backfill: at most 366 days at once; split the range")
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return run_days(cfg, days, services, force=force, skip_complete=True, command="backfill")


# ------------------------------------------------------------------ preview


def preview(cfg: Config, arxiv_id: str, services: Services, *, no_pdf: bool = False) -> str:
    """One paper's section as a post would show it; results go to the cache, no post or record is written."""
    from .render import render_section

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
    api_key = _api_key(cfg, services)
    env = template_env(cfg.templates_dir)
    if not api_key:
        services.reporter.warn(
            f"no API key in ${cfg.llm.api_key_env}: showing the English abstract only; set the variable for the rest"
        )
    else:
        enricher = Enricher(cfg, services, api_key, env)
        asyncio.run(enricher.enrich([entry], force=False, deep=not no_pdf))
    return render_section(entry, env)
