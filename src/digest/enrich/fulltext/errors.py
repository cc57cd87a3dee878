"""The full-text stage's error: what went wrong, in plain Chinese for the post, and whether a retry may help."""

from __future__ import annotations

from typing import Any

from digest.core.record import RETRY_NOTE


class FullTextError(Exception):
    """The full text could not be had; `.reason` is plain Chinese for the post."""

    def __init__(self, problem: str, *, retryable: bool = True) -> None:
        self.problem = problem
        self.retryable = retryable
        self.reason = problem + RETRY_NOTE if retryable else problem
        super().__init__(self.reason)

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in the worker process: keep `retryable` across the pickle (the default keeps only args).
        return (_fulltext_error, (self.problem, self.retryable))


def _fulltext_error(problem: str, retryable: bool) -> FullTextError:
    return FullTextError(problem, retryable=retryable)

