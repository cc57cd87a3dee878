"""Where runs and `digest notify` meet the senders: topics and links for a record, and its `notified` on disk.

`Notifications` is the publisher a run hands each day to (publish.outputs); `notify_by_hand` is `digest notify`.
Only the record's `notified` mapping is written (through the record store): the post is never rendered again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from digest.core.errors import DigestError, UsageError
from digest.core.record import DayRecord, Entry
from digest.core.services import Services
from digest.core.store import RecordStore
from digest.core.urls import paper_anchors
from digest.publish.base import PublishContext, Published
from digest.publish.notify.core import Delivery, MessageContent, Mode, NotifyOutcome, notify_day

if TYPE_CHECKING:
    from digest.core.config import Config
    from digest.enrich.topics import Taxonomy


def site_anchors(record: DayRecord) -> dict[str, str]:
    """Paper id -> the id of its heading on the site's day page (core.urls' rule)."""
    out: dict[str, str] = {}
    for entry, anchor in zip(record.papers, paper_anchors(record.papers), strict=True):
        out.setdefault(entry.id, anchor)
    return out


def site_url(cfg: Config) -> str:
    """The configured `site.url`, "" when unset."""
    return cfg.site.url


def load_topics(cfg: Config) -> Taxonomy:
    """The taxonomy the site uses: the user's `site.topics_file` when set, else the built-in."""
    from digest.enrich.topics import load_taxonomy

    return load_taxonomy(cfg.topics_file)


def topics_of(taxonomy: Taxonomy) -> Callable[[Entry], list[str]]:
    """A paper's topics: those stored with it (filled in when records are published), else computed now."""
    from digest.enrich.topics import entry_topics

    def topics(entry: Entry) -> list[str]:
        return list(entry.topics) if entry.topics else entry_topics(entry, taxonomy)

    return topics


def _content(cfg: Config, record: DayRecord) -> MessageContent:
    """What a day's messages say beyond the record, the way the site shows it (topics, labels, links)."""
    taxonomy = load_topics(cfg)
    anchors = site_anchors(record)
    return MessageContent(
        topics=topics_of(taxonomy),
        labels=taxonomy.labels(),
        site_url=site_url(cfg) or None,
        anchor_for=lambda e: anchors.get(e.id, ""),
    )


def _delivery(services: Services) -> Delivery:
    return Delivery(environ=services.environ, http=services.http, clock=services.clock)


class Notifications:
    """The notify channels as an output: a day is sent once its post is complete, to each channel not yet sent."""

    name = "notify"

    def publish(self, ctx: PublishContext) -> Published:
        """Send the day when the run notifies (backfill only with --notify); the record's path when it changed."""
        if not ctx.notify or not ctx.cfg.notify.channels:
            return Published(None, False)
        outcome = notify_published(ctx.cfg, ctx.record, ctx.services, ctx.store)
        sent = outcome is not None and bool(outcome.sent)
        return Published(ctx.store.path(ctx.record.date) if sent else None, sent)


def notify_published(
    cfg: Config, record: DayRecord, services: Services, store: RecordStore
) -> NotifyOutcome | None:
    """After a run published `record`: send it to every channel not yet sent, once all papers are translated.

    A failed send is a warning and the channel stays unsent, so the next run tries it again. The caller holds
    the site lock. None when there is nothing to do (no channels, or all of them already sent).
    """
    channels = cfg.notify.channels
    if not channels or all(ch.name in record.notified for ch in channels):
        return None
    rep = services.reporter
    try:
        outcome = notify_day(record, cfg.notify, already_sent=record.notified, delivery=_delivery(services),
                             content=_content(cfg, record))
    except DigestError as exc:  # e.g. a broken topics file: the post is out, the next run tries again
        rep.warn(f"notify {record.date}: not sent ({exc}); the next run tries again")
        return None
    if not outcome.eligible:
        rep.detail(f"{record.date}: notifications wait ({outcome.reason})")
        return outcome
    if outcome.sent:
        store.add_notified(record.date, outcome.sent)
        record.notified = outcome.merged(record.notified)
    for name in outcome.sent:
        rep.info(f"{record.date}: notified {name}")
    for w in outcome.warnings:
        rep.warn(w)
    return outcome


def notify_by_hand(
    cfg: Config,
    day: str | None,
    services: Services,
    *,
    channel: str | None = None,
    dry_run: bool = False,
    echo: Callable[[str], Any] = print,
) -> int:
    """`digest notify`: send (or with dry_run print) a day's messages; the exit code (1 when a channel failed)."""
    from digest.publish.notify.command import notify_command

    if not cfg.notify.channels:
        raise UsageError(
            "notify: no channels configured; add notify.channels to the config (see the README's Notifications section)"
        )
    if channel is not None:
        cfg.notify.channel(channel)  # an unknown name fails before anything is read
    store = RecordStore.of(cfg, services)
    if day is None:
        days = store.days()
        if not days:
            raise UsageError(f"notify: no day records in {cfg.records_dir}; run or import a day first")
        day = days[-1]

    def send() -> int:
        record = store.load(day)
        if record is None:
            raise UsageError(f"notify: no record for {day} in {cfg.records_dir}; run or import that day first")
        code, sent = notify_command(record, cfg.notify, already_sent=record.notified, echo=echo,
                                    warn=services.reporter.warn,
                                    send=(_delivery(services), _content(cfg, record)),
                                    mode=Mode(only=channel, dry_run=dry_run))
        if not dry_run:
            store.add_notified(day, {k: v for k, v in sent.items() if record.notified.get(k) != v})
        return code

    if dry_run:
        return send()  # reads only: no lock needed, and a dry run works beside a running job
    with store.locked("notify"):
        return send()
