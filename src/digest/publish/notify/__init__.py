"""Push notifications of a finished day (issue 17): mail, chat webhooks, Telegram and a generic JSON webhook.

A run calls `hook.notify_published` after publishing a day; `digest notify` calls `hook.notify_by_hand`.
Names are loaded on first use: the config loader imports `notify.config` and should not pay for the senders.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest.core.config.notify import Channel, NotifyConfig, parse_notify_config
    from digest.publish.notify.command import notify_command
    from digest.publish.notify.core import NotifyOutcome, notify_day, summary_lines, untranslated
    from digest.publish.notify.formats import build_messages, preview
    from digest.publish.notify.message import DayDigest, PaperItem, build_digest
    from digest.publish.notify.send import SendResult, default_smtp

_WHERE = {
    "notify_command": "command",
    "Channel": "digest.core.config.notify",
    "NotifyConfig": "digest.core.config.notify",
    "parse_notify_config": "digest.core.config.notify",
    "NotifyOutcome": "core",
    "notify_day": "core",
    "summary_lines": "core",
    "untranslated": "core",
    "build_messages": "formats",
    "preview": "formats",
    "DayDigest": "message",
    "PaperItem": "message",
    "build_digest": "message",
    "SendResult": "send",
    "default_smtp": "send",
}

__all__ = [
    "Channel",
    "DayDigest",
    "NotifyConfig",
    "NotifyOutcome",
    "PaperItem",
    "SendResult",
    "build_digest",
    "build_messages",
    "default_smtp",
    "notify_command",
    "notify_day",
    "parse_notify_config",
    "preview",
    "summary_lines",
    "untranslated",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    where = module if "." in module else f"{__name__}.{module}"
    return getattr(importlib.import_module(where), name)
