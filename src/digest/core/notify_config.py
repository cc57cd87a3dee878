"""Where the notify section's schema used to live; it is now digest.core.config.notify (kept for old imports)."""

from digest.core.config.notify import (
    CHANNEL_KINDS,
    Channel,
    DingtalkChannel,
    DiscordChannel,
    EmailChannel,
    FeishuChannel,
    NotifyConfig,
    SlackChannel,
    TelegramChannel,
    WebhookChannel,
    WebhookLike,
    WecomChannel,
    parse_notify_config,
)

__all__ = [
    "CHANNEL_KINDS",
    "Channel",
    "DingtalkChannel",
    "DiscordChannel",
    "EmailChannel",
    "FeishuChannel",
    "NotifyConfig",
    "SlackChannel",
    "TelegramChannel",
    "WebhookChannel",
    "WebhookLike",
    "WecomChannel",
    "parse_notify_config",
]
