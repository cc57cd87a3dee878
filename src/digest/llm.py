"""Runs model tasks through a Model: prompt from the task's template, bounded retries and concurrency, answer check."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import jinja2

from .config import LLMConfig
from .model import Completion, FatalModelError, Messages, Model, ModelError
from .models import RETRY_NOTE, Entry, TaskResult
from .retry import RetryPolicy
from .tasks import Verification, verifier
from .tasks.deep_read import check_deep_read
from .tasks.translate import check_translation
from .text_checks import cjk_share, clean_answer

if TYPE_CHECKING:
    from .tasks import Task

__all__ = ["TaskRunner", "check_deep_read", "check_translation", "clean_answer", "cjk_share", "prompt_hash"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def prompt_hash(env: jinja2.Environment, template: str, model: str) -> str:
    """Short sha256 of a prompt template's source and the model name: part of the cache key, kept in records."""
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, template)
    return hashlib.sha256(f"{source}\0{model}".encode()).hexdigest()[:12]


class TaskRunner:
    """Runs tasks for papers through one Model; counts calls and tokens; stops every call once one is fatal."""

    def __init__(
        self,
        cfg: LLMConfig,
        model: Model,
        *,
        env: jinja2.Environment,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff_seconds: float = 1.0,
        max_wait_seconds: float = 60.0,
    ) -> None:
        self.cfg = cfg
        self.model = model
        self.env = env
        self.clock = clock
        self.sleep = sleep
        self.policy = RetryPolicy(1 + cfg.max_retries, backoff_seconds, max_wait_seconds)
        self._sem = asyncio.Semaphore(cfg.concurrency)
        self._in_flight = 0
        self.calls = 0  # answered calls
        self.attempts = 0  # attempts, including failed ones
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.peak_concurrency = 0
        self.waits: list[float] = []  # backoff waits, in seconds, for the summary and tests
        self.fatal: FatalModelError | None = None  # set once the key is refused; later calls raise it unasked
        self._hashes: dict[str, str] = {}

    def prompt_hash(self, task: Task) -> str:
        """The task's prompt hash for this model (read once: reading the template at every result stalled the loop)."""
        if task.template not in self._hashes:
            self._hashes[task.template] = prompt_hash(self.env, task.template, self.model.name)
        return self._hashes[task.template]

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

        A task with a verify hook (see digest.tasks.Verification) has a well-formed answer checked against
        the paper: a clean one is kept as is, anything else is asked again once, naming what was wrong; what
        is still unsupported then is kept marked. `others` are the titles of the run's other papers.
        None when the task has nothing to ask for this paper. Raises FatalModelError (a ModelAuthError).
        """
        values = task.prompt_values(entry, fulltext)
        if values is None:
            return None
        messages = self._messages(task, values)
        verify = verifier(task)
        attempts = 0
        problem = ""
        first: Verification | None = None  # a well-formed first answer the verify hook did not pass
        for round_ in range(2):  # the answer, and once more when it was malformed or unsupported
            used = [0]
            try:
                raw = await self._complete(messages, used)
            except ModelError as exc:
                if isinstance(exc, FatalModelError):
                    raise
                if first is not None:
                    return self._unverified(first, attempts + used[0], task)
                note = f"，已尝试 {used[0]} 次" if exc.retryable else ""
                return self._result("failed", attempts + used[0], task, error=exc.problem + note + RETRY_NOTE)
            attempts += used[0]
            text = clean_answer(raw)
            bad = task.check(text, entry)
            if bad is None:
                if verify is None:
                    return self._result("done", attempts, task, text=text)
                # A scan of the paper's text: off the loop, so the calls in flight are not held up.
                verdict = await asyncio.to_thread(verify, text, entry, fulltext, others)
                if verdict.clean:
                    done = self._result("done", attempts, task, text=text)
                    return done.model_copy(update={"check": "clean" if first is None else "reasked"})
                if round_ == 1:
                    return self._unverified(verdict, attempts, task)
                first = verdict
                reask = verdict.reask
            else:
                if first is not None:  # the re-ask broke the format: the first answer, marked, is better
                    return self._unverified(first, attempts, task)
                problem = bad
                reask = f"上面的回答不符合要求：{bad}。请严格按照要求重新输出完整的答案，只输出答案本身。"
            if round_ == 0:
                messages = [*messages, {"role": "assistant", "content": raw or ""}, {"role": "user", "content": reask}]
        return self._result("failed", attempts, task, error=f"模型回答不合格（{problem}）{RETRY_NOTE}")

    def _unverified(self, verdict: Verification, attempts: int, task: Task) -> TaskResult:
        """The result once the re-ask did not clear a verdict: marked claims are kept, another fault fails."""
        if verdict.problem:
            failed = self._result("failed", attempts, task, error=f"模型回答不合格（{verdict.problem}）{RETRY_NOTE}")
            return failed.model_copy(update={"check": "reasked"})
        done = self._result("done", attempts, task, text=verdict.marked)
        return done.model_copy(update={"check": "marked", "unverified": list(verdict.unverified)})

    def _result(self, status: str, attempts: int, task: Task, *, text: str = "", error: str = "") -> TaskResult:
        return TaskResult(
            status=status,  # type: ignore[arg-type]
            text=text,
            error=error,
            model=self.model.name,
            prompt_hash=self.prompt_hash(task),
            at=self.clock().astimezone(UTC).isoformat(timespec="seconds"),
            attempts=attempts,
        )

    async def _complete(self, messages: Messages, used: list[int]) -> str:
        """The answer text, asked under the retry policy; `used[0]` counts the attempts."""

        async def attempt() -> Completion:
            used[0] += 1
            return await self._attempt(messages)

        def waited(_exc: BaseException, seconds: float) -> None:
            self.waits.append(seconds)

        answer = await self.policy.acall(
            attempt,
            retry_if=lambda exc: isinstance(exc, ModelError) and exc.retryable,
            sleep=self.sleep,
            on_retry=waited,
        )
        return answer.text

    async def _attempt(self, messages: Messages) -> Completion:
        if self.fatal is not None:
            raise self.fatal
        async with self._sem:
            # Calls still queued behind the semaphore fail at once instead of each asking the server.
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
            finally:
                self._in_flight -= 1
        self.calls += 1
        self.prompt_tokens += answer.prompt_tokens
        self.completion_tokens += answer.completion_tokens
        return answer
