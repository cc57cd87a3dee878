"""Chinese titles: a day-level step that translates the day's English titles in batched model calls.

One call asks for up to BATCH_SIZE titles; the answer is read line by line as `<arXiv id>: <中文标题>`. A line for
an id not asked about is ignored, a title the model left out (or gave badly) is simply missing and asked again on
the next run: a title never blocks a post. Done titles are kept in the entry (Entry.set_title_zh) with their
provenance, and in the results cache under TASK_NAME, keyed like every other result by paper version, model and
prompt hash, so a rerun with every title present (or cached) makes no call.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import jinja2

from digest.core.config import Config
from digest.core.errors import ModelAuthError
from digest.core.record import ARXIV_ID, Entry, TaskResult
from digest.core.report import Reporter
from digest.core.retry import RetryPolicy
from digest.enrich.budget import TokenBudget
from digest.enrich.cache import ResultsCache
from digest.enrich.model import Completion, FatalModelError, Messages, Model, ModelError, RateLimited, run_with
from digest.enrich.runner import prompt_hash
from digest.enrich.text_checks import clean_answer, norm

TASK_NAME = "titles"  # the key of a title in the results cache (one key for titles made by batch calls)
TEMPLATE = "prompts/titles.j2"
BATCH_SIZE = 50  # titles per call: a long batch answer is more often cut short or misnumbered
MIN_CJK = 2  # Chinese characters a title must have, besides being mostly Chinese
MIN_TITLE_CJK_SHARE = 0.25  # Chinese characters among Chinese characters and Latin letters (names stay English)
TOKENS_PER_TITLE = 80  # the answer's expected tokens per title, capping the budget's estimate of a batch call

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# `<id>: <title>`, with what models add around it: list markers, numbering, bold or code marks, brackets.
_LINE = re.compile(
    r"^\s*(?:[-*+•]\s+|\d{1,3}\s*[.)、．]\s*)?[*_`\[(（【]*\s*(?:arxiv\s*[:：]?\s*)?"
    r"(?P<id>\d{4}\.\d{4,5}(?:v\d+)?|[a-z-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)"
    r"\s*[*_`\])）】]*\s*[:：]\s*(?P<title>.+?)\s*$",
    re.I,
)
_PAIRS = [("“", "”"), ("‘", "’"), ('"', '"'), ("'", "'"), ("《", "》"), ("「", "」"), ("『", "』"), ("`", "`")]


@dataclass
class TitleStats:
    """What the title step did and cost; added to the day's run figures like any other model call."""

    wanted: int = 0  # papers without a title at the start
    cached: int = 0  # titles the results cache had
    filled: int = 0  # titles the model gave this run
    calls: int = 0  # answered calls
    attempts: int = 0  # attempts, failed ones included
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rate_limited: int = 0  # answers of 429
    deferred: int = 0  # titles left for the next run: the run's token budget had no room for their call
    fallbacks: dict[tuple[str, str], int] = field(default_factory=dict)  # (model, why) -> calls a fallback answered
    problems: list[str] = field(default_factory=list)  # one line per batch that got no usable answer

    @property
    def missing(self) -> int:
        """Titles still missing after the step (the next run asks for them)."""
        return self.wanted - self.cached - self.filled


def clean_title(text: str) -> str:
    """A title as the model wrote it, without Markdown marks, surrounding quotes or brackets and stray spaces."""
    t = re.sub(r"\*\*|__|~~", "", text).strip()
    changed = True
    while changed and len(t) >= 2:
        changed = False
        for left, right in _PAIRS:
            if t.startswith(left) and t.endswith(right) and len(t) > len(left) + len(right):
                t, changed = t[len(left) : -len(right)].strip(), True
    return re.sub(r"\s+", " ", t)


def title_problem(zh: str, english: str) -> str | None:
    """Why a cleaned Chinese title is unusable (not mostly Chinese, the English title again, far too long), or None."""
    if not zh:
        return "empty"
    cjk = len(_CJK.findall(zh))
    latin = len(_LATIN.findall(zh))
    if cjk < MIN_CJK or cjk / (cjk + latin) < MIN_TITLE_CJK_SHARE:
        return "not Chinese"
    if norm(zh) == norm(english):
        return "the English title"
    if len(zh) > 2 * len(english) + 40:
        return "too long"
    return None


def parse_titles(answer: str, papers: Sequence[Entry]) -> dict[str, str]:
    """Base id -> usable Chinese title, from an answer of `<id>: <title>` lines; other lines and ids are ignored.

    The first usable line for an id wins; ids may come with or without their version.
    """
    by_base = {e.base_id: e for e in papers}
    found: dict[str, str] = {}
    for line in clean_answer(answer).splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        id_match = ARXIV_ID.match(m.group("id"))
        base = id_match.group("base") if id_match else ""
        entry = by_base.get(base)
        if entry is None or base in found:
            continue
        zh = clean_title(m.group("title"))
        if title_problem(zh, entry.title) is None:
            found[base] = zh
    return found


def title_messages(env: jinja2.Environment, papers: Sequence[Entry]) -> Messages:
    """The system and user messages asking for these papers' Chinese titles (template TEMPLATE)."""
    tmpl = env.get_template(TEMPLATE)
    ctx = tmpl.new_context({"papers": [{"id": e.base_id, "title": " ".join(e.title.split())} for e in papers]})
    system = "".join(tmpl.blocks["system"](ctx)).strip()
    user = "".join(tmpl.blocks["user"](ctx)).strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def needs_title(entry: Entry, *, force: bool = False) -> bool:
    """Whether a paper still has no Chinese title (every paper with force)."""
    return force or not entry.title_zh


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _no_wait(_seconds: float) -> None:
    return None


@dataclass
class TitleStep:
    """The services and settings of one title step (see translate_titles)."""

    model: Model
    env: jinja2.Environment
    cache: ResultsCache
    clock: Callable[[], datetime] = _utc_now
    policy: RetryPolicy = field(default_factory=lambda: RetryPolicy(4))
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    on_wait: Callable[[str], None] | None = None
    # The run's token budget: title calls are counted in it and, with a limit, asked only while they fit.
    budget: TokenBudget = field(default_factory=TokenBudget)
    stats: TitleStats = field(default_factory=TitleStats)
    _hashes: dict[str, str] = field(default_factory=dict)

    def hash_for(self, model: str) -> str:
        """The prompt hash of the title template for a model (kept in provenance and the cache key)."""
        if model not in self._hashes:
            self._hashes[model] = prompt_hash(self.env, TEMPLATE, model)
        return self._hashes[model]

    def from_cache(self, entry: Entry) -> bool:
        """Take a cached title for this paper version, model and prompt; True when there was one."""
        cached = self.cache.get(entry.id, TASK_NAME, self.model.name, self.hash_for(self.model.name))
        if cached is None or title_problem(cached.text, entry.title) is not None:
            return False
        entry.set_title_zh(cached)
        return True

    async def ask(self, messages: Messages) -> tuple[Completion, int]:
        """The answer under the retry policy and the attempts it took; raises the last ModelError."""
        used = [0]

        async def attempt() -> Completion:
            used[0] += 1
            self.stats.attempts += 1
            try:
                return await self.model.complete(messages)
            except RateLimited:
                self.stats.rate_limited += 1
                raise

        def waited(exc: BaseException, seconds: float) -> None:
            if self.on_wait is not None:
                what = exc.problem if isinstance(exc, ModelError) else str(exc)
                self.on_wait(f"model ({what}) on titles, retrying in {seconds:.3g} s")

        answer = await self.policy.acall(
            attempt,
            retry_if=lambda exc: isinstance(exc, ModelError) and exc.retryable,
            sleep=self.sleep,
            on_retry=waited,
        )
        return answer, used[0]

    async def batch(self, papers: Sequence[Entry]) -> None:
        """One call for these papers (when the token budget has room); the titles are kept in the entries and cache."""
        messages = title_messages(self.env, papers)
        chars = sum(len(m["content"]) for m in messages)
        budget = self.budget
        reserved = await budget.admit(lambda: budget.estimate(TASK_NAME, chars, TOKENS_PER_TITLE * len(papers)))
        if reserved is None:
            self.stats.deferred += len(papers)
            return
        try:
            answer, attempts = await self.ask(messages)
        except FatalModelError:
            raise
        except ModelError as exc:
            self.stats.problems.append(f"{len(papers)} titles not translated: {exc.problem}; the next run asks again")
            return
        finally:
            budget.release(reserved)
        budget.record(TASK_NAME, chars, answer.prompt_tokens, answer.completion_tokens)
        s = self.stats
        s.calls += 1
        s.prompt_tokens += answer.prompt_tokens
        s.completion_tokens += answer.completion_tokens
        model = answer.model or self.model.name
        if answer.fallback:
            s.fallbacks[(model, answer.fallback)] = s.fallbacks.get((model, answer.fallback), 0) + 1
        titles = parse_titles(answer.text, papers)
        if len(titles) < len(papers):
            s.problems.append(f"the answer gave {len(titles)} of {len(papers)} titles; the next run asks again")
        share = max(len(titles), 1)
        at = self.clock().astimezone(UTC).isoformat(timespec="seconds")
        for e in papers:
            zh = titles.get(e.base_id)
            if zh is None:
                continue
            result = TaskResult(
                status="done", text=zh, model=model, prompt_hash=self.hash_for(model), at=at, attempts=attempts,
                prompt_tokens=answer.prompt_tokens // share, completion_tokens=answer.completion_tokens // share,
                fallback=answer.fallback,
            )
            e.set_title_zh(result)
            s.filled += 1
            await asyncio.to_thread(self.cache.put, e.id, TASK_NAME, result)


async def translate_titles(
    entries: Sequence[Entry], step: TitleStep, *, force: bool = False, batch_size: int = BATCH_SIZE
) -> TitleStats:
    """Give every paper without a Chinese title one: the cache first, then one call per `batch_size` papers.

    Failed or partial answers leave titles missing (counted in the stats, asked again next run); only a
    FatalModelError (key refused, no balance) is raised, after the titles already got are kept.
    """
    s = step.stats
    todo: list[Entry] = []
    for e in entries:
        if not needs_title(e, force=force):
            continue
        s.wanted += 1
        if not force and step.from_cache(e):
            s.cached += 1
        else:
            todo.append(e)
    # One batch after another: a day has a few at most, and a fatal answer stops the rest unasked.
    for start in range(0, len(todo), max(batch_size, 1)):
        await step.batch(todo[start : start + batch_size])
    return s


# ---------------------------------------------------------------- the day step a run calls


class RunFigures(Protocol):
    """The run's call figures the title calls are added to (the pipeline's EnrichStats)."""

    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    rate_limited: int
    fallbacks: list[str]


class RunServices(Protocol):
    """The run's services the title step uses (the pipeline's Services)."""

    @property
    def reporter(self) -> Reporter: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def async_sleep(self) -> Callable[[float], Awaitable[None]]: ...


def title_step(
    cfg: Config, model: Model, env: jinja2.Environment, services: RunServices, budget: TokenBudget | None = None
) -> TitleStep:
    """The title step of a run: its model, prompts, results cache, clock, retry policy and token budget."""
    return TitleStep(
        model=model, env=env, cache=ResultsCache(cfg.cache_dir), clock=services.clock,
        policy=RetryPolicy(1 + cfg.llm.max_retries, 1.0, 60.0), sleep=services.async_sleep,
        on_wait=services.reporter.detail, budget=budget if budget is not None else TokenBudget(),
    )


def day_titles(
    entries: Sequence[Entry], step: TitleStep, into: RunFigures, reporter: Reporter, *, force: bool = False
) -> str:
    """The title step of a day's run: missing titles filled in, calls added to `into`; why the run must stop, or "".

    Called for every paper of the day (imported days too), not only those with tasks left, so a day whose
    titles are all present costs nothing and one without any costs one call per BATCH_SIZE papers.
    """
    if not any(needs_title(e, force=force) for e in entries):
        return ""
    rep = reporter
    step.stats = TitleStats()
    stopped = ""
    try:
        run_with(step.model, translate_titles(entries, step, force=force))
    except ModelAuthError as exc:
        stopped = str(exc)
    s = step.stats
    into.llm_calls += s.calls
    into.prompt_tokens += s.prompt_tokens
    into.completion_tokens += s.completion_tokens
    into.rate_limited += s.rate_limited
    for (m, why), n in sorted(s.fallbacks.items()):
        into.fallbacks.append(f"{m} answered {n} title call{'s' if n != 1 else ''} because {why}")
    rep.detail(f"Chinese titles: {s.cached} from the cache, {s.filled} from {s.calls} call(s), {s.missing} missing")
    if s.deferred:
        rep.detail(f"Chinese titles: {s.deferred} left for the next run (the run's token budget is used up)")
    for problem in s.problems:
        rep.warn(f"Chinese titles: {problem}")
    return stopped
