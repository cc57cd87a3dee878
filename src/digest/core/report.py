"""What the user sees while a command runs: log lines, progress, the closing summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class Reporter:
    """Plain lines on a pipe (cron, CI), a progress bar on a terminal; --quiet keeps only warnings."""

    def __init__(self, *, verbose: bool = False, quiet: bool = False, stream: IO[str] | None = None,
                 progress: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.quiet = quiet
        self.console = Console(file=self.stream, highlight=False, soft_wrap=True)
        is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.use_progress = (is_tty and not quiet) if progress is None else progress
        self._progress: Progress | None = None
        self.warnings: list[str] = []

    def _print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def info(self, text: str) -> None:
        if not self.quiet:
            self._print(text)

    def detail(self, text: str) -> None:
        if self.verbose and not self.quiet:
            self._print(text)

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        self._print(f"warning: {text}")

    @contextmanager
    def progress(self, label: str, total: int) -> Iterator[Any]:
        """Yield an `advance(n=1, text=None)` callable; a bar on a terminal, nothing extra elsewhere."""
        if not self.use_progress or total <= 0:
            def advance(n: int = 1, text: str | None = None) -> None:
                if text:
                    self.detail(text)
            yield advance
            return
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=self.console, transient=True,
        )
        self._progress = progress
        task = progress.add_task(label, total=total)
        started = time.monotonic()
        with progress:
            def advance(n: int = 1, text: str | None = None) -> None:
                progress.advance(task, n)
                if text:
                    self.detail(text)
            try:
                yield advance
            finally:
                self._progress = None
        self.detail(f"{label}: {total} in {time.monotonic() - started:.1f}s")

    @contextmanager
    def stages(self, label: str, totals: dict[str, int]) -> Iterator[Callable[[str], None]]:
        """Yield `advance(stage)`; a row per stage with its count on a terminal, a line per finished stage elsewhere.

        Stages with a total of 0 are left out. `label` prefixes every row and line (the day).
        """
        totals = {k: v for k, v in totals.items() if v > 0}
        counts = dict.fromkeys(totals, 0)
        if not self.use_progress or not totals:
            def advance(stage: str) -> None:
                if stage not in counts:
                    return
                counts[stage] += 1
                if counts[stage] == totals[stage]:
                    self.info(f"{label}: {stage} {counts[stage]}/{totals[stage]}")
            yield advance
            return
        progress = Progress(
            TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=self.console, transient=True,
        )
        self._progress = progress
        rows = {name: progress.add_task(f"{label} {name}", total=total) for name, total in totals.items()}
        with progress:
            def advance(stage: str) -> None:
                if stage in rows:
                    counts[stage] += 1
                    progress.advance(rows[stage], 1)
            try:
                yield advance
            finally:
                self._progress = None
        for name, total in totals.items():
            self.detail(f"{label}: {name} {counts[name]}/{total}")


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 paper`, `2 papers` (and `many` for an irregular plural)."""
    return f"{n} {word if n == 1 else many or word + 's'}"
