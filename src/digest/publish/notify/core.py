"""When and where to notify: once per channel per post, after the day's post has every paper translated."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from digest.core.notify_config import EmailChannel, NotifyConfig
from digest.core.record import DayRecord, Entry
from digest.core.urls import paper_anchor
from digest.publish.notify.formats import Message, build_messages, preview
from digest.publish.notify.message import TopicSource, build_digest
from digest.publish.notify.send import (
    Redactor,
    SendResult,
    SmtpFactory,
    channel_secrets,
    default_smtp,
    send_email,
    send_webhook,
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class NotifyOutcome:
    """What a notify pass did. Merge `sent` into the record; print `warnings`; `previews` is --dry-run output."""

    eligible: bool
    reason: str = ""  # why nothing was attempted (not eligible, no channels)
    sent: dict[str, str] = field(default_factory=dict)  # channel name -> ISO time sent, newly this pass
    failed: dict[str, str] = field(default_factory=dict)  # channel name -> one-line reason, secrets redacted
    skipped: dict[str, str] = field(default_factory=dict)  # channel name -> why not sent (already sent, no papers)
    warnings: list[str] = field(default_factory=list)
    previews: list[str] = field(default_factory=list)

    def merged(self, already_sent: Mapping[str, str]) -> dict[str, str]:
        """The record's new `notified` mapping: what was there plus what this pass sent."""
        return {**already_sent, **self.sent}


def untranslated(record: DayRecord) -> list[Entry]:
    """Papers whose translation is not done yet (never asked for, failed or skipped)."""
    return [e for e in record.papers if e.translation is None or e.translation.status != "done"]


def notify_day(
    record: DayRecord,
    cfg: NotifyConfig,
    *,
    environ: Mapping[str, str] | None = None,
    http: httpx.Client | None = None,
    smtp_factory: SmtpFactory = default_smtp,
    clock: Callable[[], datetime] = _utc_now,
    already_sent: Mapping[str, str] | None = None,
    topics: TopicSource = None,
    labels: Mapping[str, str] | None = None,
    site_url: str | None = None,
    anchor_for: Callable[[Entry], str] = paper_anchor,
    only: str | None = None,
    dry_run: bool = False,
    by_hand: bool = False,
) -> NotifyOutcome:
    """Send the day to each channel not yet in `already_sent`; never raises for a failed send.

    The pipeline calls it after every run (by_hand=False): nothing is sent until every paper is translated.
    `digest notify` calls it with by_hand=True: the translation check is a warning, `only` picks one channel
    (sent again even if it was sent before), and dry_run builds and returns the messages without sending.
    """
    env = os.environ if environ is None else environ
    done = dict(already_sent or {})
    channels = [cfg.channel(only)] if only is not None else list(cfg.channels)
    if not channels:
        return NotifyOutcome(False, "no notify channels configured")
    missing = untranslated(record)
    out = NotifyOutcome(True)
    if missing:
        why = f"{len(missing)} of {len(record.papers)} papers not translated yet"
        if not by_hand:
            return NotifyOutcome(False, f"{why}; notifications wait for a complete post")
        out.warnings.append(f"notify {record.date}: {why}; sending anyway (by hand)")
    digest = build_digest(record, topics=topics, labels=labels, site_url=site_url, anchor_for=anchor_for)
    own_http = http is None and not dry_run
    client = httpx.Client() if own_http else http
    try:
        for ch in channels:
            if ch.name in done and only is None and not dry_run:
                out.skipped[ch.name] = f"already sent at {done[ch.name]}"
                continue
            view = digest.select(ch.topics, ch.keywords)
            if not view.papers:
                out.skipped[ch.name] = "no paper matches the channel's filters" if view.filtered else "no papers"
                continue
            messages = build_messages(ch, view, clock())
            if dry_run:
                out.previews.append(Redactor(channel_secrets(ch, env))(preview(ch, messages)))
                continue
            result = _send(ch, messages, env, client, smtp_factory, clock)
            if result.ok:
                out.sent[ch.name] = clock().isoformat(timespec="seconds")
            else:
                out.failed[ch.name] = result.reason
                out.warnings.append(
                    f"notify {record.date}: channel {ch.name} ({ch.kind}) not sent: {result.reason}; "
                    "the next run tries again"
                )
    finally:
        if own_http and client is not None:
            client.close()
    return out


def _send(
    ch: Any,
    messages: list[Message],
    env: Mapping[str, str],
    client: httpx.Client | None,
    smtp_factory: SmtpFactory,
    clock: Callable[[], datetime],
) -> SendResult:
    if isinstance(ch, EmailChannel):
        result = SendResult(True)
        for m in messages:
            assert not isinstance(m, dict)
            result = send_email(ch, m, environ=env, smtp_factory=smtp_factory)
            if not result.ok:
                break
        return result
    assert client is not None
    return send_webhook(ch, messages, environ=env, http=client, clock=clock)


def summary_lines(outcome: NotifyOutcome, day: str) -> list[str]:
    """One line per channel for the command's output (warnings are printed separately)."""
    if not outcome.eligible:
        return [f"{day}: notifications not sent ({outcome.reason})"]
    lines = [f"{day}: sent to {name} at {at}" for name, at in outcome.sent.items()]
    lines += [f"{day}: {name} skipped ({why})" for name, why in outcome.skipped.items()]
    return lines
