"""The body of `digest notify [--date D] [--channel NAME] [--dry-run]`: send (or print) a day's messages by hand."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from digest.core.config.notify import NotifyConfig
from digest.core.record import DayRecord
from digest.publish.notify.core import Delivery, MessageContent, Mode, notify_day, summary_lines


def notify_command(
    record: DayRecord,
    cfg: NotifyConfig,
    *,
    already_sent: Mapping[str, str],
    echo: Callable[[str], Any] = print,
    warn: Callable[[str], Any] | None = None,
    send: tuple[Delivery, MessageContent] | None = None,
    mode: Mode | None = None,
) -> tuple[int, dict[str, str]]:
    """Send the day by hand; returns (exit code, the record's new sent mapping). Exit 1 when a channel failed.

    `mode.only` (--channel) sends that channel again, without it channels already sent are skipped (say so);
    `mode.dry_run` prints and records nothing. A day not fully translated is sent anyway, with a warning.
    """
    warn = warn or echo
    delivery, content = send or (Delivery(), MessageContent())
    mode = mode or Mode()
    by_hand = Mode(by_hand=True, only=mode.only, dry_run=mode.dry_run)
    outcome = notify_day(record, cfg, already_sent=already_sent, delivery=delivery, content=content, mode=by_hand)
    for text in outcome.previews:
        echo(text)
    for w in outcome.warnings:
        warn(w)
    for line in summary_lines(outcome, record.date):
        echo(line)
    return (1 if outcome.failed else 0), outcome.merged(already_sent)
