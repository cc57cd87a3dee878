"""The token budget of one run (`llm.max_tokens_per_run`): every call is counted, optional calls must fit first.

Translations are always asked (a post needs them) and only counted. A deep read is admitted when what was
spent, what calls in flight are expected to spend and its own estimate fit in the budget (waiting for calls in
flight to settle first); the first one that does not fit with nothing in flight closes the budget, and every
later deep read of the run is deferred to the next run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

# Until a call has been answered: tokens per prompt character (Chinese prompts run near one per character).
DEFAULT_TOKENS_PER_CHAR = 1.0
# Until an answer of a task has been seen: its expected length in tokens (a deep read is up to ~6000 characters).
DEFAULT_COMPLETION_TOKENS = 3000


@dataclass
class TokenBudget:
    """Tokens spent by the run against `limit` (None: no limit, nothing is ever deferred)."""

    limit: int | None = None
    spent: int = 0
    reserved: int = 0  # estimates of admitted calls still in flight
    closed: bool = False  # a deep read did not fit: defer the rest of the run's
    deferred: int = 0
    _prompt_chars: int = 0
    _prompt_tokens: int = 0
    _completions: dict[str, list[int]] = field(default_factory=dict)
    # Calls waiting for room; all belong to the running day's event loop (each day empties the list).
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)

    @property
    def limited(self) -> bool:
        """Whether a limit is set at all."""
        return self.limit is not None

    def estimate(self, task: str, prompt_chars: int, max_tokens: int | None = None) -> int:
        """The tokens a call of `task` with a prompt of this many characters is expected to cost."""
        ratio = self._prompt_tokens / self._prompt_chars if self._prompt_chars else DEFAULT_TOKENS_PER_CHAR
        seen = self._completions.get(task)
        completion = max(seen) if seen else DEFAULT_COMPLETION_TOKENS
        if max_tokens is not None:
            completion = min(completion, max_tokens)
        return int(ratio * prompt_chars) + completion

    async def admit(self, estimate: Callable[[], int]) -> int | None:
        """Reserve room for an optional call: the tokens reserved (0 without a limit), or None when it does not fit.

        A call that does not fit while others are in flight waits for them (their real cost is often below the
        estimate, and later estimates learn from it); one that does not fit with nothing in flight closes the budget.
        """
        if self.limit is None:
            return 0
        while True:
            if self.closed:
                return None
            need = estimate()
            if self.spent + self.reserved + need <= self.limit:
                self.reserved += need
                return need
            if self.reserved == 0:
                self.closed = True
                self._wake()
                return None
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            await fut

    def release(self, estimate: int) -> None:
        """Give back an admitted call's reservation (after it was answered or failed)."""
        self.reserved = max(0, self.reserved - estimate)
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def record(self, task: str, prompt_chars: int, prompt_tokens: int, completion_tokens: int) -> None:
        """Count one answered call and learn from it for later estimates."""
        self.spent += prompt_tokens + completion_tokens
        if prompt_tokens and prompt_chars:
            self._prompt_chars += prompt_chars
            self._prompt_tokens += prompt_tokens
        self._completions.setdefault(task, []).append(completion_tokens)
