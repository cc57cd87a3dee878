"""The token budget of one run (`llm.max_tokens_per_run`): every call is counted, optional calls must fit first.

Translations are always asked (a post needs them) and only counted. A deep read is admitted when what was spent,
what calls in flight are expected to spend and its own estimate fit in the budget; the first one that does not
fit closes the budget and every later deep read of the run is deferred to the next run.
"""

from __future__ import annotations

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

    def admit(self, estimate: int) -> bool:
        """Reserve room for an optional call; False (and the budget closes) when it would not fit."""
        if self.limit is None:
            return True
        if self.closed or self.spent + self.reserved + estimate > self.limit:
            self.closed = True
            return False
        self.reserved += estimate
        return True

    def release(self, estimate: int) -> None:
        """Give back an admitted call's reservation (after it was answered or failed)."""
        self.reserved = max(0, self.reserved - estimate)

    def record(self, task: str, prompt_chars: int, prompt_tokens: int, completion_tokens: int) -> None:
        """Count one answered call and learn from it for later estimates."""
        self.spent += prompt_tokens + completion_tokens
        if prompt_tokens and prompt_chars:
            self._prompt_chars += prompt_chars
            self._prompt_tokens += prompt_tokens
        self._completions.setdefault(task, []).append(completion_tokens)
