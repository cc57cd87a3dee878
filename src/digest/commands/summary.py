"""The closing summary of run and backfill (lines from core.outcome) and the exit code it implies."""

from __future__ import annotations

from collections.abc import Callable

from digest.core.outcome import DayOutcome, summary_lines
from digest.core.report import Reporter


def summarise(rep: Reporter, outcomes: list[DayOutcome], echo_err: Callable[[str], object], *,
              strict: bool = False) -> int:
    """Print the summary; the exit code: 1 when the run stopped early, 3 with --strict when papers still fail."""
    stopped = next((o.stopped for o in outcomes if o.stopped), "")
    if stopped:
        # First and once: the one thing a cron mail must show.
        echo_err(f"digest: error: {stopped}")
    for o in outcomes:
        for line in summary_lines(o):
            rep.info(line)
    if stopped:
        return 1
    if strict and any(o.stats.failed for o in outcomes):
        failed = sum(o.stats.failed for o in outcomes)
        rep.warn(f"--strict: {failed} paper{'s' if failed != 1 else ''} still failing after this run (exit 3)")
        return 3
    return 0
