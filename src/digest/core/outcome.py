"""What one day of a run did, and the closing summary lines it is told in (run, backfill and demo)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from digest.core.record import RunStats
from digest.core.report import plural


@dataclass
class DayOutcome:
    """What one day's run did, for the summary and the exit code."""

    day: str
    post: Path | None = None
    reason: str = ""  # why no post was written
    stats: RunStats = field(default_factory=RunStats)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (paper id, reason)
    stopped: str = ""  # set when the run had to stop early (bad key, no balance)
    pruned: str = ""  # what the run's cache retention removed, told once, under the run's last day

    @property
    def wrote_post(self) -> bool:
        """Whether the day has a post."""
        return self.post is not None


def summary_lines(o: DayOutcome) -> list[str]:
    """The closing summary of one day: the figures line, then fallbacks, deferrals and one line per failed paper."""
    s = o.stats
    if not o.wrote_post:
        return [f"{o.day}: no post ({o.reason})"] + ([f"  cache: {o.pruned}"] if o.pruned else [])
    tokens = f"{s.prompt_tokens} prompt + {s.completion_tokens} completion tokens"
    if s.token_budget is not None:
        tokens += f" of a {s.token_budget} budget"
    if s.rate_limited:  # the provider serves fewer calls at once than llm.concurrency
        tokens += f"; {plural(s.rate_limited, 'answer')} of 429"
    cost = f" | cost {s.cost:.4f} {s.currency}".rstrip() if s.cost is not None else ""
    deferred = f" | deferred {s.deferred}" if s.deferred else ""
    lines = [
        f"{o.day}: fetched {s.fetched} | kept {s.kept} | done {s.done} | failed {s.failed}{deferred} | "
        f"LLM calls {s.llm_calls} ({tokens}){cost} | downloads {s.downloads} | reads checked {s.reads_checked}, "
        f"re-asked {s.reads_reasked}, marked {s.reads_marked} | {s.wall_seconds:.1f}s -> {o.post}"
    ]
    lines += [f"  fallback: {line}" for line in s.fallbacks]
    if s.deferred:
        lines.append(f"  deferred {plural(s.deferred, 'deep read')}: the run's token budget (llm.max_tokens_per_run) "
                     "was used up; the next run continues them")
    lines += [f"  failed {pid}: {reason}" for pid, reason in o.failures]
    if o.pruned:
        lines.append(f"  cache: {o.pruned}")
    return lines
