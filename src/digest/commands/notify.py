"""`digest notify`: send (or print) a day's notifications by hand."""

from __future__ import annotations

from collections.abc import Callable

from digest.commands.args import parse_day
from digest.core.config import Config
from digest.core.services import Services
from digest.publish.notify.hook import notify_by_hand


def notify_command(cfg: Config, services: Services, day: str | None, echo: Callable[[str], object], *,
                   channel: str | None = None, dry_run: bool = False) -> int:
    """Send the day (default: the latest with a record); exit 1 when a channel failed."""
    d = parse_day(day).isoformat() if day else None
    return notify_by_hand(cfg, d, services, channel=channel, dry_run=dry_run, echo=echo)
