"""The data that flows through the stages: Paper (fetch), Window (schedule), Entry and DayRecord (records)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_serializer, model_validator

# New-style ids (2601.03227v1) and old-style ones (cs/0112017v2, math.GT/0309136v1).
ARXIV_ID = re.compile(r"^(?P<base>(\d{4}\.\d{4,5})|([a-z-]+(\.[A-Z]{2})?/\d{7}))(v(?P<version>\d+))?$")


def split_id(arxiv_id: str) -> tuple[str, int | None]:
    """Split '2601.03227v2' into ('2601.03227', 2); raise ValueError on anything else."""
    m = ARXIV_ID.match(arxiv_id)
    if not m:
        raise ValueError(f"not an arXiv id: {arxiv_id!r}")
    if "." in m.group("base") and "/" not in m.group("base"):
        yymm, number = m.group("base").split(".")
        # Four-digit numbers ran from 0704 to 1412; five digits since 1501. Months are 01-12.
        if not 1 <= int(yymm[2:]) <= 12 or len(number) != (5 if yymm >= "1501" else 4) or yymm < "0704":
            raise ValueError(f"not an arXiv id: {arxiv_id!r}")
    v = m.group("version")
    return m.group("base"), int(v) if v else None


def version_of(arxiv_id: str) -> int:
    """The version an id names (1 when it names none, or is not an arXiv id: an imported post's odd id)."""
    try:
        return split_id(arxiv_id)[1] or 1
    except ValueError:
        return 1


@dataclass(frozen=True)
class Paper:
    """One paper as arXiv describes it, in the form every later stage uses."""

    id: str  # with version, e.g. 2601.03227v1
    title: str  # whitespace collapsed
    authors: tuple[str, ...]
    categories: tuple[str, ...]  # primary first
    abstract: str  # whitespace collapsed
    published: datetime  # first version, aware (UTC)
    updated: datetime  # this version, aware (UTC)
    comment: str = ""
    announce_type: str = ""  # from the listing feed when it decided the paper (new, cross, ...)
    doi: str = ""  # arxiv:doi, when the authors gave one
    journal_ref: str = ""  # arxiv:journal_ref, when the authors gave one

    # Cached: dedupe reads these several times per paper; an invalid id still raises on first use.
    @cached_property
    def base_id(self) -> str:
        return split_id(self.id)[0]

    @cached_property
    def version(self) -> int:
        return split_id(self.id)[1] or 1

    @property
    def primary_category(self) -> str:
        return self.categories[0] if self.categories else ""


def newest_versions(papers: Iterable[Paper], into: dict[str, Paper] | None = None) -> dict[str, Paper]:
    """Base id -> the highest version among `papers` (and what `into` already holds); the first seen wins a tie."""
    best = {} if into is None else into
    for p in papers:
        cur = best.get(p.base_id)
        if cur is None or p.version > cur.version:
            best[p.base_id] = p
    return best


@dataclass(frozen=True)
class Mailing:
    """One arXiv announcement: when it went out and which submission times it covers."""

    announced_at: datetime  # aware, 20:00 America/New_York
    covers_from: datetime  # aware, inclusive: the cutoff of the mailing before
    covers_to: datetime  # aware, exclusive: this mailing's 14:00 cutoff


@dataclass(frozen=True)
class Window:
    """The 24 hours a post covers, and (basis announced) the mailings released inside them."""

    date: date
    start: datetime  # aware, in the configured time zone, inclusive
    end: datetime  # aware, exclusive
    basis: Literal["announced", "submitted"] = "announced"
    mailings: tuple[Mailing, ...] = field(default=())

    def contains(self, moment: datetime) -> bool:
        """Half-open test: start <= moment < end."""
        return self.start <= moment < self.end


# ---------------------------------------------------------------- records (JSON on disk)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# deferred: not asked this run (e.g. the token budget ran out); the next run asks.
TaskStatus = Literal["done", "failed", "skipped", "deferred"]


# done: every required task answered; failed: some task failed; pending: a required task has no result yet or was
# deferred. partial and imported are read from records written by older versions.
EntryStatus = Literal["done", "failed", "partial", "pending", "imported"]


# Ends every failure reason the next run will retry (shown in posts; read back by the importer).
RETRY_NOTE = "，下次运行将重试"


class TaskResult(_Record):
    """The outcome of one model task for one paper (translation or deep read)."""

    status: TaskStatus
    text: str = ""  # the model's answer as published (done) — empty otherwise
    error: str = ""  # plain-words reason (failed) or why it was skipped
    model: str = ""
    prompt_hash: str = ""
    at: str = ""  # ISO time the result was made
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    fallback: str = ""  # why a fallback provider answered instead of the primary; empty when the primary did
    # Provenance of a deep read: what the model was given and what the figure check found.
    source: str = ""  # "pdf" | "html" | "abstract"
    version: int = 0  # the arXiv version read
    check: str = ""  # "" (not checked) | "clean" | "reasked" | "marked"
    unverified: list[str] = []  # figures still unsupported after the re-ask, marked （未核实） in the post


class Entry(_Record):
    """One paper of a day record: metadata as shown, and the model's results."""

    id: str
    title: str
    authors: list[str]
    categories: list[str]
    abstract: str
    abs_url: str
    pdf_url: str
    published: str = ""
    updated: str = ""
    comment: str = ""
    doi: str = ""
    journal_ref: str = ""
    status: EntryStatus = "pending"
    # Task name (see digest.enrich.tasks) -> its result. A task absent was never asked for: no LLM (English
    # abstract, no details block), or a deep read not wanted.
    results: dict[str, TaskResult] = {}
    topics: list[str] = []  # topic slugs (digest.enrich.topics), 1 to 3, computed without a model call
    # The Chinese title (digest.enrich.titles), "" until a batch call gave a usable one; title_zh_result is its
    # provenance (model, prompt hash, time, tokens: the share of its batch call), text equal to title_zh.
    title_zh: str = ""
    title_zh_result: TaskResult | None = None
    new_version: str = ""  # a newer version announced after posting, e.g. "2601.03227v2"
    new_version_at: str = ""  # ISO time the replacement was announced

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        """Records written before results existed keep each task's result under its own top-level key."""
        if isinstance(data, dict) and ("translation" in data or "deep_read" in data):
            data = dict(data)
            results = dict(data.get("results") or {})
            for name in ("translation", "deep_read"):
                value = data.pop(name, None)
                if value is not None:
                    results.setdefault(name, value)
            data["results"] = results
        return data

    @field_serializer("results")
    def _results_in_name_order(self, results: dict[str, TaskResult]) -> dict[str, TaskResult]:
        # Tasks finish in any order: the record on disk must not depend on it.
        return dict(sorted(results.items()))

    def result(self, task: str) -> TaskResult | None:
        """The result of a task, or None when it was never asked for."""
        return self.results.get(task)

    def set_result(self, task: str, result: TaskResult | None) -> None:
        """Keep (or, with None, forget) a task's result."""
        if result is None:
            self.results.pop(task, None)
        else:
            self.results[task] = result

    def keep(self, task: str, result: TaskResult) -> None:
        """Record a new result unless it makes the paper worse: a done result is never replaced by a failure."""
        before = self.results.get(task)
        if before is not None and before.status == "done" and result.status != "done":
            return
        self.results[task] = result

    def status_for(self, required: Collection[str]) -> EntryStatus:
        """The paper's status given the names of the required tasks (the one place status is computed)."""
        results = self.results.values()
        if any(r.status == "failed" for r in results):
            return "failed"
        if any(r.status == "deferred" for r in results):
            return "pending"  # the token budget ran out: the next run asks
        if any(name not in self.results for name in required):
            return "pending"
        return "done"

    def refresh_status(self, required: Collection[str]) -> None:
        """Set `status` from the results (see status_for)."""
        self.status = self.status_for(required)

    def set_title_zh(self, result: TaskResult | None) -> None:
        """Keep a done title result (title and provenance together), or with None forget both."""
        if result is None or result.status != "done":
            self.title_zh, self.title_zh_result = "", None
        else:
            self.title_zh, self.title_zh_result = result.text, result

    @property
    def translation(self) -> TaskResult | None:
        return self.results.get("translation")

    @translation.setter
    def translation(self, value: TaskResult | None) -> None:
        self.set_result("translation", value)

    @property
    def deep_read(self) -> TaskResult | None:
        return self.results.get("deep_read")

    @deep_read.setter
    def deep_read(self, value: TaskResult | None) -> None:
        self.set_result("deep_read", value)

    @property
    def base_id(self) -> str:
        return split_id(self.id)[0]


class LeftOut(_Record):
    """A paper cut by filter.max_papers: listed in the post by title and link."""

    id: str
    title: str
    abs_url: str


class Dropped(_Record):
    """A paper the select stage removed, with the reason."""

    id: str
    title: str = ""
    reason: str


class WindowInfo(_Record):
    start: str  # ISO 8601 with offset
    end: str
    timezone: str = "Asia/Shanghai"
    anchor: str = "08:50"
    basis: str = "announced"


class Counts(_Record):
    fetched: int  # 抓取总数
    shown: int  # 本页显示


class RunStats(_Record):
    """Figures of the last run that touched this day."""

    fetched: int = 0
    kept: int = 0
    done: int = 0
    failed: int = 0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    downloads: int = 0
    rate_limited: int = 0  # model answers of 429 (the adaptive limit shrank on each)
    deferred: int = 0  # deep reads left for the next run (token budget)
    token_budget: int | None = None  # llm.max_tokens_per_run at the time
    cost: float | None = None  # in `currency`, when prices are configured
    currency: str = ""
    fallbacks: list[str] = []  # one line per fallback that served: which model, and why
    reads_checked: int = 0
    reads_reasked: int = 0
    reads_marked: int = 0
    wall_seconds: float = 0.0
    finished_at: str = ""


class DayRecord(_Record):
    """Everything a post is rendered from."""

    date: str  # YYYY-MM-DD
    window: WindowInfo
    counts: Counts
    papers: list[Entry]
    left_out: list[LeftOut] = []
    dropped: list[Dropped] = []
    stats: RunStats = RunStats()
    source: str = "digest"  # or "import:<file name>"
    topics_fingerprint: str = ""  # the taxonomy the entries' topics were computed with
    notified: dict[str, str] = {}  # notify channel name -> ISO time the day was sent there
