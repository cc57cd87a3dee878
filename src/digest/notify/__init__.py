"""Push notifications of a finished day (issue 17): mail, chat webhooks, Telegram and a generic JSON webhook.

Standalone: the pipeline calls `notify_day` after a run and stores `NotifyOutcome.sent` in the day record.
"""

from __future__ import annotations

from .command import notify_command
from .config import KNOWN_TOPICS, Channel, NotifyConfig, parse_notify_config
from .core import NotifyOutcome, notify_day, summary_lines, untranslated
from .formats import build_messages, preview
from .message import DayDigest, PaperItem, build_digest, default_anchor, post_url
from .send import SendResult, default_smtp

__all__ = [
    "KNOWN_TOPICS",
    "Channel",
    "DayDigest",
    "NotifyConfig",
    "NotifyOutcome",
    "PaperItem",
    "SendResult",
    "build_digest",
    "build_messages",
    "default_anchor",
    "default_smtp",
    "notify_command",
    "notify_day",
    "parse_notify_config",
    "post_url",
    "preview",
    "summary_lines",
    "untranslated",
]
