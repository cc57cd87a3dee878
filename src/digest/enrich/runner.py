"""Runs model tasks through a Model: prompt from the task's template, bounded retries and concurrency, answer check."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import jinja2

from digest.core.config import LLMConfig
from digest.core.record import RETRY_NOTE, Entry, TaskResult
from digest.core.retry import LONG_WAIT_SECONDS, RetryPolicy
from digest.enrich.budget import TokenBudget
from digest.enrich.limiter import AdaptiveLimiter
from digest.enrich.model import (
    BadAnswer,
    Completion,
    FatalModelError,
    Messages,
    Model,
    ModelError,
    RateLimited,
    Unreachable,
)
from digest.enrich.tasks import Verification, verifier
from digest.enrich.tasks.deep_read import check_deep_read
from digest.enrich.tasks.translate import check_translation
from digest.enrich.text_checks import cjk_share, clean_answer

if TYPE_CHECKING:
    from digest.enrich.tasks import Task

__all__ = ["TaskRunner", "check_deep_read", "check_translation", "clean_answer", "cjk_share", "prompt_hash"]



def _utc_now() -> datetime:
    return datetime.now(UTC)


def prompt_hash(env: jinja2.Environment, template: str, model: str) -> str:
    """Short sha256 of a prompt template's source and the model name: part of the cache key, kept in records."""
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, template)
    return hashlib.sha256(f"{source}\0{model}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Waits:
    """How a runner waits between attempts and who hears of it (the clock stamps its results)."""

    clock: Callable[[], datetime] = _utc_now
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 60.0
    on_wait: Callable[[str], None] | None = None
    on_long_wait: Callable[[str], None] | None = None


class TaskRunner:
    """Runs tasks for papers through one Model; counts calls and tokens; stops every call once one is fatal."""

    def __init__(
        self,
        cfg: LLMConfig,
        model: Model,
        *,
        env: jinja2.Environment,
        waits: Waits | None = None,
        budget: TokenBudget | None = None,
    ) -> None:
        self.cfg = cfg
        self.model = model
        self.env = env
        w = waits or Waits()
        self.clock = w.clock
        self.sleep = w.sleep
        self.policy = RetryPolicy(1 + cfg.max_retries, w.backoff_seconds, w.max_wait_seconds)
        # Shrinks on 429 and grows back on successes: a provider serving fewer parallel calls is used at its limit.
        # A Retry-After holds every new call, but never longer than one retry wait may last.
        self.limiter = AdaptiveLimiter(cfg.concurrency, max_pause_seconds=w.max_wait_seconds)
        self.budget = budget if budget is not None else TokenBudget(cfg.max_tokens_per_run)
        self.on_wait = w.on_wait  # told "model 429, retrying in 2 s (1/5)" before each backoff
        self.on_long_wait = w.on_long_wait  # told the same for waits of LONG_WAIT_SECONDS or more
        self._in_flight = 0
        self.calls = 0  # answered calls
        self.attempts = 0  # attempts, including failed ones
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.peak_concurrency = 0
        self.waits: list[float] = []  # backoff waits, in seconds, for the summary and tests
        self.rate_limited = 0  # answers of 429
        self.fallback_answers: dict[tuple[str, str], int] = {}  # (model, why) -> calls a fallback answered
        self.fatal: FatalModelError | None = None  # set once the key is refused; later calls raise it unasked
        self._hashes: dict[str, str] = {}

    def prompt_hash(self, task: Task) -> str:
        """The task's prompt hash for this model (read once: reading the template at every result stalled the loop)."""
        return self._hash(task.template, self.model.name)

    def _hash(self, template: str, model: str) -> str:
        key = f"{template}\0{model}"
        if key not in self._hashes:
            self._hashes[key] = prompt_hash(self.env, template, model)
        return self._hashes[key]

    def _messages(self, task: Task, values: dict[str, str]) -> Messages:
        tmpl = self.env.get_template(task.template)
        ctx = tmpl.new_context(values)
        system = "".join(tmpl.blocks["system"](ctx)).strip()
        user = "".join(tmpl.blocks["user"](ctx)).strip()
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    async def run(
        self, task: Task, entry: Entry, fulltext: str | None = None, *, others: Sequence[str] = ()
    ) -> TaskResult | None:
        """The task's result for this paper (a failed one, never an exception, unless the run must stop).

        A task with a verify hook (see digest.enrich.tasks.Verification) has a well-formed answer checked against
        the paper: a clean one is kept as is, anything else is asked again once, naming what was wrong; what
        is still unsupported then is kept marked. `others` are the titles of the run's other papers.
        None when the task has nothing to ask for this paper. Raises FatalModelError (a ModelAuthError).
        """
        values = task.prompt_values(entry, fulltext)
        if values is None:
            return None
        messages = self._messages(task, values)
        chars = sum(len(m["content"]) for m in messages)
        reserved: int | None = 0
        if not task.required and self.budget.limited:
            reserved = await self.budget.admit(lambda: self.budget.estimate(task.name, chars, self.cfg.max_tokens))
            if reserved is None:
                self.budget.deferred += 1
                return self._result("deferred", 0, task, error="token budget of this run used up")
        try:
            return await self._ask(task, entry, messages, chars, fulltext, others)
        finally:
            self.budget.release(reserved or 0)

    async def _ask(
        self, task: Task, entry: Entry, messages: Messages, chars: int, fulltext: str | None, others: Sequence[str]
    ) -> TaskResult:
        """The answer, asked again once when malformed or unsupported; the result carries tokens and who answered."""
        verify = verifier(task)
        attempts = 0
        problem = ""
        spent = _Spent()
        first: Verification | None = None  # a well-formed first answer the verify hook did not pass
        for round_ in range(2):  # the answer, and once more when it was malformed or unsupported
            used = [0]
            try:
                answer = await self._complete(messages, used)
            except ModelError as exc:
                if isinstance(exc, FatalModelError):
                    raise
                if first is not None:
                    return self._unverified(first, attempts + used[0], task, spent)
                note = f"，已尝试 {used[0]} 次" if exc.retryable else ""
                return self._result("failed", attempts + used[0], task, error=exc.problem + note + RETRY_NOTE,
                                    spent=spent)
            attempts += used[0]
            spent.add(answer)
            self.budget.record(task.name, chars, answer.prompt_tokens, answer.completion_tokens)
            raw = answer.text
            text = clean_answer(raw)
            repair = getattr(task, "repair", None)  # a fault the task mends with certainty is not asked again
            if callable(repair):
                text = repair(text, entry)
            bad = task.check(text, entry)
            if bad is None:
                if verify is None:
                    return self._result("done", attempts, task, text=text, spent=spent)
                # A scan of the paper's text: off the loop, so the calls in flight are not held up.
                verdict = await asyncio.to_thread(verify, text, entry, fulltext, others)
                if verdict.clean:
                    done = self._result("done", attempts, task, text=text, spent=spent)
                    return done.model_copy(update={"check": "clean" if first is None else "reasked"})
                if round_ == 1:
                    return self._unverified(verdict, attempts, task, spent)
                first = verdict
                reask = verdict.reask
            else:
                if first is not None:  # the re-ask broke the format: the first answer, marked, is better
                    return self._unverified(first, attempts, task, spent)
                problem = bad
                reask = f"上面的回答不符合要求：{bad}。请严格按照要求重新输出完整的答案，只输出答案本身。"
            chars += len(raw or "") + 80
            if round_ == 0:
                messages = [*messages, {"role": "assistant", "content": raw or ""}, {"role": "user", "content": reask}]
        return self._result("failed", attempts, task, error=f"模型回答不合格（{problem}）{RETRY_NOTE}", spent=spent)

    def _unverified(self, verdict: Verification, attempts: int, task: Task, spent: _Spent) -> TaskResult:
        """The result once the re-ask did not clear a verdict: marked claims are kept, another fault fails."""
        if verdict.problem:
            error = f"模型回答不合格（{verdict.problem}）{RETRY_NOTE}"
            failed = self._result("failed", attempts, task, error=error, spent=spent)
            return failed.model_copy(update={"check": "reasked"})
        done = self._result("done", attempts, task, text=verdict.marked, spent=spent)
        return done.model_copy(update={"check": "marked", "unverified": list(verdict.unverified)})

    def _result(
        self, status: str, attempts: int, task: Task, *, text: str = "", error: str = "", spent: _Spent | None = None
    ) -> TaskResult:
        spent = spent or _Spent()
        model = spent.model or self.model.name
        return TaskResult(
            status=status,  # type: ignore[arg-type]
            text=text,
            error=error,
            model=model,
            # A fallback's answer is keyed by its own model: the primary's cache entry is never taken for it.
            prompt_hash=self._hash(task.template, model),
            at=self.clock().astimezone(UTC).isoformat(timespec="seconds"),
            attempts=attempts,
            prompt_tokens=spent.prompt_tokens,
            completion_tokens=spent.completion_tokens,
            fallback=spent.fallback,
        )

    async def _complete(self, messages: Messages, used: list[int]) -> Completion:
        """The answer text, asked under the retry policy; `used[0]` counts the attempts."""

        async def attempt() -> Completion:
            used[0] += 1
            return await self._attempt(messages)

        def waited(exc: BaseException, seconds: float) -> None:
            self.waits.append(seconds)
            # Short waits are routine with many calls in flight (--verbose shows them); a long one would look
            # like a hang, so it is always shown.
            tell = self.on_long_wait if seconds >= LONG_WAIT_SECONDS and self.on_long_wait else self.on_wait
            if tell is not None:
                what = _wait_label(exc)
                tell(f"model {what}, retrying in {seconds:.3g} s ({used[0]}/{self.policy.attempts - 1})")

        answer = await self.policy.acall(
            attempt,
            retry_if=lambda exc: isinstance(exc, ModelError) and exc.retryable,
            sleep=self.sleep,
            on_retry=waited,
        )
        return answer

    async def _attempt(self, messages: Messages) -> Completion:
        if self.fatal is not None:
            raise self.fatal
        async with self.limiter:
            # Calls still queued behind the limit fail at once instead of each asking the server.
            if self.fatal is not None:
                raise self.fatal
            self._in_flight += 1
            self.peak_concurrency = max(self.peak_concurrency, self._in_flight)
            self.attempts += 1
            try:
                answer = await self.model.complete(messages)
            except FatalModelError as exc:
                self.fatal = self.fatal or exc
                raise
            except RateLimited as exc:
                self.rate_limited += 1
                self.limiter.rate_limited(exc.retry_after)
                raise
            else:
                self.limiter.succeeded()
            finally:
                self._in_flight -= 1
        self.calls += 1
        self.prompt_tokens += answer.prompt_tokens
        self.completion_tokens += answer.completion_tokens
        if answer.fallback:
            key = (answer.model, answer.fallback)
            self.fallback_answers[key] = self.fallback_answers.get(key, 0) + 1
        return answer


def _wait_label(exc: BaseException) -> str:
    """`429`, `503`, `unreachable`, `bad answer`: what the service did, as a wait line says it."""
    if isinstance(exc, RateLimited):
        return "429"
    code = re.search(r"HTTP (\d{3})", str(exc))
    if code:
        return code.group(1)
    if isinstance(exc, Unreachable):
        return "unreachable"
    if isinstance(exc, BadAnswer):
        return "bad answer"
    return str(exc)


class _Spent:
    """The calls of one task: tokens, and the model that gave the last answer (and why, when a fallback)."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.model = ""
        self.fallback = ""

    def add(self, answer: Completion) -> None:
        self.prompt_tokens += answer.prompt_tokens
        self.completion_tokens += answer.completion_tokens
        self.model = answer.model
        self.fallback = answer.fallback
