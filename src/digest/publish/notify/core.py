"""When and where to notify: once per channel per post, after the day's post has every paper translated."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from digest.core.config.notify import EmailChannel, NotifyConfig
from digest.core.record import DayRecord, Entry
from digest.core.urls import paper_anchor
from digest.publish.notify.formats import Message, build_messages, preview
from digest.publish.notify.message import DayDigest, TopicSource, build_digest
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


@dataclass(frozen=True)
class Delivery:
    """How messages leave: the environment holding the channels' secrets, the HTTP client, SMTP and the clock."""

    environ: Mapping[str, str] | None = None  # os.environ when None
    http: httpx.Client | None = None  # a client of its own when None
    smtp_factory: SmtpFactory = default_smtp
    clock: Callable[[], datetime] = _utc_now


@dataclass(frozen=True)
class MessageContent:
    """What a message says beyond the record: topics and their labels, and the links into the site."""

    topics: TopicSource = None
    labels: Mapping[str, str] | None = None
    site_url: str | None = None
    anchor_for: Callable[[Entry], str] = paper_anchor


@dataclass(frozen=True)
class Mode:
    """A pass by hand (`digest notify`) sends an untranslated day with a warning; `only` resends one channel."""

    by_hand: bool = False
    only: str | None = None
    dry_run: bool = False  # build and return the messages, send nothing


def notify_day(
    record: DayRecord,
    cfg: NotifyConfig,
    *,
    already_sent: Mapping[str, str] | None = None,
    delivery: Delivery | None = None,
    content: MessageContent | None = None,
    mode: Mode | None = None,
) -> NotifyOutcome:
    """Send the day to each channel not yet in `already_sent`; never raises for a failed send.

    The pipeline calls it after every run (by_hand=False): nothing is sent until every paper is translated.
    `digest notify` calls it with by_hand=True: the translation check is a warning, `only` picks one channel
    (sent again even if it was sent before), and dry_run builds and returns the messages without sending.
    """
    d, c, m = delivery or Delivery(), content or MessageContent(), mode or Mode()
    env = os.environ if d.environ is None else d.environ
    channels = [cfg.channel(m.only)] if m.only is not None else list(cfg.channels)
    if not channels:
        return NotifyOutcome(False, "no notify channels configured")
    missing = untranslated(record)
    out = NotifyOutcome(True)
    if missing:
        why = f"{len(missing)} of {len(record.papers)} papers not translated yet"
        if not m.by_hand:
            return NotifyOutcome(False, f"{why}; notifications wait for a complete post")
        out.warnings.append(f"notify {record.date}: {why}; sending anyway (by hand)")
    digest = build_digest(record, topics=c.topics, labels=c.labels, site_url=c.site_url, anchor_for=c.anchor_for)
    own_http = d.http is None and not m.dry_run
    client = httpx.Client() if own_http else d.http
    try:
        for ch in channels:
            _pass_channel(ch, digest, out, _Pass(record.date, dict(already_sent or {}), env, client, d, m))
    finally:
        if own_http and client is not None:
            client.close()
    return out


@dataclass(frozen=True)
class _Pass:
    """One notify pass's shared state, as each channel sees it."""

    day: str
    done: dict[str, str]
    env: Mapping[str, str]
    client: httpx.Client | None
    delivery: Delivery
    mode: Mode


def _pass_channel(ch: Any, digest: DayDigest, out: NotifyOutcome, p: _Pass) -> None:
    """Send (or preview, or skip) one channel, recording what happened in `out`."""
    if ch.name in p.done and p.mode.only is None and not p.mode.dry_run:
        out.skipped[ch.name] = f"already sent at {p.done[ch.name]}"
        return
    view = digest.select(ch.topics, ch.keywords)
    if not view.papers:
        out.skipped[ch.name] = "no paper matches the channel's filters" if view.filtered else "no papers"
        return
    clock = p.delivery.clock
    messages = build_messages(ch, view, clock())
    if p.mode.dry_run:
        out.previews.append(Redactor(channel_secrets(ch, p.env))(preview(ch, messages)))
        return
    result = _send(ch, messages, p.env, p.client, p.delivery.smtp_factory, clock)
    if result.ok:
        out.sent[ch.name] = clock().isoformat(timespec="seconds")
    else:
        out.failed[ch.name] = result.reason
        out.warnings.append(f"notify {p.day}: channel {ch.name} ({ch.kind}) not sent: {result.reason}; "
                            "the next run tries again")


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
