"""The body of `digest notify [--date D] [--channel NAME] [--dry-run]`: send (or print) a day's messages by hand."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from digest.core.notify_config import NotifyConfig
from digest.core.record import DayRecord
from digest.publish.notify.core import notify_day, summary_lines


def notify_command(
    record: DayRecord,
    cfg: NotifyConfig,
    *,
    already_sent: Mapping[str, str],
    echo: Callable[[str], Any] = print,
    warn: Callable[[str], Any] | None = None,
    **notify_kwargs: Any,
) -> tuple[int, dict[str, str]]:
    """Send the day by hand; returns (exit code, the record's new sent mapping). Exit 1 when a channel failed.

    `notify_kwargs` go to notify_day: `only` (--channel) sends that channel again, without it channels already
    sent are skipped (say so); `dry_run` prints and records nothing. A day not fully translated is sent anyway,
    with a warning.
    """
    warn = warn or echo
    outcome = notify_day(record, cfg, already_sent=already_sent, by_hand=True, **notify_kwargs)
    for text in outcome.previews:
        echo(text)
    for w in outcome.warnings:
        warn(w)
    for line in summary_lines(outcome, record.date):
        echo(line)
    return (1 if outcome.failed else 0), outcome.merged(already_sent)
