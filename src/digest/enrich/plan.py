"""Planning a day before enrichment: which papers it shows, which tasks each still needs, and their status.

Also the plan for new versions of papers already posted: which posted entries a listing replaced, and which of
them are read again. Plain functions over plain data; nothing here calls the model or writes a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from digest.core.config import Config
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
from digest.core.report import Reporter, plural
from digest.core.store import PostedIndex, dump_record
from digest.core.window import MAILING_TIME, NEW_YORK
from digest.enrich.tasks import Task, all_tasks
from digest.fetch.arxiv import Listing
from digest.fetch.select import Selection, select

# The progress stage (and summary word) of each built-in task; other tasks count under their own name.
STAGES = {"translation": "translations", "deep_read": "deep reads"}
REPLACED = ("replace", "replace-cross")


def stage_of(task: Task) -> str:
    """The progress stage a task's results count in."""
    return STAGES.get(task.name, task.name)


def required_tasks() -> list[str]:
    """The names of the registered tasks a paper is pending without."""
    return [t.name for t in all_tasks() if t.required]


def refresh_status(entry: Entry) -> None:
    """Set the paper's status from its results and the registered tasks (Entry.status_for holds the rule)."""
    entry.refresh_status(required_tasks())


def reads(task_name: str) -> bool:
    """Whether the named task reads the paper's full text."""
    return any(t.name == task_name and t.needs_fulltext for t in all_tasks())


def _needs(result: TaskResult | None, force: bool) -> bool:
    return force or result is None or result.status != "done"


def missing_tasks(entry: Entry, *, force: bool = False, deep: bool = True) -> list[Task]:
    """The registered tasks this paper still needs (all of them with force; none that read the paper unless deep)."""
    return [t for t in all_tasks() if (deep or not t.needs_fulltext) and _needs(entry.result(t.name), force)]


def stage_totals(entries: list[Entry], *, force: bool = False, deep: bool = True) -> dict[str, int]:
    """How many downloads, translations and deep reads the papers still need (the progress rows)."""
    totals = {"downloads": 0, "translations": 0, "deep reads": 0}
    for e in entries:
        tasks = missing_tasks(e, force=force, deep=deep)
        totals["downloads"] += any(t.needs_fulltext for t in tasks)
        for t in tasks:
            totals[stage_of(t)] = totals.get(stage_of(t), 0) + 1
    return totals


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


def complete(record: DayRecord | None) -> bool:
    """Whether a day has a record whose every paper is done."""
    return record is not None and all(e.status_for(required_tasks()) == "done" for e in record.papers)


# ------------------------------------------------------------------ one day


def _link(template: str, paper_id: str) -> str:
    return template.replace("{id}", paper_id)


def entry_from_paper(paper: Paper, cfg: Config) -> Entry:
    """A new record entry for a paper as arXiv describes it (no results yet)."""
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


def merge_entries(previous: DayRecord | None, kept: list[Paper], cfg: Config) -> list[Entry]:
    """Papers already in the day's record keep their results; new ones are added; none is dropped."""
    by_base: dict[str, Entry] = {}
    if previous is not None:
        for e in previous.papers:
            by_base.setdefault(e.base_id, e)
    for p in kept:
        if p.base_id not in by_base:
            by_base[p.base_id] = entry_from_paper(p, cfg)
    entries = list(by_base.values())
    entries.sort(key=lambda e: (e.published, e.id), reverse=True)
    return entries


def _window_info(window: Window, cfg: Config) -> WindowInfo:
    return WindowInfo(
        start=window.start.isoformat(),
        end=window.end.isoformat(),
        timezone=cfg.window.timezone,
        anchor=cfg.window.anchor,
        basis=window.basis,
    )


def content_of(record: DayRecord | None) -> str:
    """The record without its run figures, to tell whether a run changed anything."""
    if record is None:
        return ""
    return dump_record(record.model_copy(update={"stats": RunStats()}))


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


def _no_post_reason(window: Window, fetched: int, cfg: Config) -> str:
    if window.basis == "announced" and not window.mailings:
        return "no arXiv mailing was released in this window (no mailing on Friday/Saturday or holidays)"
    if fetched:
        return (f"the {plural(fetched, 'paper')} listed {'was' if fetched == 1 else 'were all'} removed "
                "by dedupe or filters (see --verbose)")
    return f"arXiv listed no papers in {'/'.join(cfg.arxiv.categories)} for this window"


def _left_out(sel: Selection, previous: DayRecord | None, entries: list[Entry], cfg: Config) -> list[LeftOut]:
    left_out = [LeftOut(id=p.id, title=p.title, abs_url=_link(cfg.arxiv.abs_link, p.id)) for p in sel.left_out]
    if previous is not None and not sel.left_out:
        shown_ids = {e.base_id for e in entries}
        left_out = [lo for lo in previous.left_out if split_id(lo.id)[0] not in shown_ids]
    return left_out


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
    before = content_of(previous)
    sel = select(papers, cfg.filter, posted.excluding(day), cfg.arxiv.categories)
    if reporter is not None:
        for paper, why in sel.dropped:
            reporter.detail(f"{day}: dropped {paper.id} ({why})")
    entries = merge_entries(previous, sel.kept, cfg)
    if not entries:
        return DayPlan(day=day, record=None, previous=previous, fetched=sel.fetched,
                       reason=_no_post_reason(window, sel.fetched, cfg), previous_content=before)
    record = DayRecord(
        date=day,
        window=_window_info(window, cfg),
        counts=Counts(fetched=max(sel.fetched, previous.counts.fetched if previous is not None else 0),
                      shown=len(entries)),
        papers=entries,
        left_out=_left_out(sel, previous, entries, cfg),
        dropped=[Dropped(id=p.id, title=p.title, reason=r) for p, r in sel.dropped],
        stats=previous.stats if previous is not None else RunStats(),
        source=previous.source if previous is not None else "digest",
        notified=dict(previous.notified) if previous is not None else {},  # what was sent stays sent
    )
    for e in entries:
        refresh_status(e)  # a task added since the record was written makes its papers pending again
    todo = [e for e in entries if force or e.status != "done"]
    return DayPlan(day=day, record=record, previous=previous, fetched=sel.fetched, todo=todo, previous_content=before)


# ------------------------------------------------------------------ new versions of posted papers


def replaced_papers(listing: Listing | None, posted: PostedIndex) -> dict[str, dict[str, str]]:
    """Day posted -> base id -> the newest version the listing announced as a replacement of a posted paper."""
    days: dict[str, dict[str, str]] = {}
    if listing is None or listing.mailing_date is None:
        return days
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
    return days


def announced_at(listing: Listing) -> str:
    """When the listing's mailing went out, in UTC, as records store it."""
    assert listing.mailing_date is not None
    announced = datetime.combine(listing.mailing_date, MAILING_TIME, tzinfo=NEW_YORK)
    return announced.astimezone(UTC).isoformat(timespec="seconds")


def note_replacements(
    record: DayRecord, newest: dict[str, str], at: str, *, reread: bool, reporter: Reporter
) -> list[tuple[Entry, Entry]]:
    """Mark the record's papers that have a newer version; the (posted entry, new version) pairs to read again.

    The new version is a copy under its own id (its text, its cache key) without the reading tasks' results.
    """
    again: list[tuple[Entry, Entry]] = []
    for e in record.papers:
        new_id = newest.get(e.base_id)
        if new_id is None or version_of(new_id) <= version_of(e.id):
            continue
        v = version_of(new_id)
        if not e.new_version or v > version_of(e.new_version):
            e.new_version, e.new_version_at = new_id, at
            reporter.info(f"{record.date}: arXiv announced {new_id} of a paper posted that day")
        d = e.deep_read
        if reread and (d is None or d.version < v):
            kept = {k: r for k, r in e.results.items() if not reads(k)}
            again.append((e, e.model_copy(update={"id": new_id, "results": kept})))
    return again


def fold_back(day: str, again: list[tuple[Entry, Entry]], reporter: Reporter) -> None:
    """Take the new versions' results into the posted entries: a posted read stays until the new one is done."""
    for e, tmp in again:
        for name, result in tmp.results.items():
            e.keep(name, result)
            if result.status != "done" and reads(name):  # the next run retries
                reporter.warn(f"{day}: {tmp.id} not read again: {result.error}")
        refresh_status(e)
