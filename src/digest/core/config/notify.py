"""The `notify` section of the config: a list of channels, one schema per kind, secrets only by variable name."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from digest.core.config.base import Section, env_name, http_url, validate
from digest.core.errors import ConfigError

CHANNEL_KINDS = ("email", "feishu", "dingtalk", "wecom", "slack", "discord", "telegram", "webhook")


def _address(value: str) -> str:
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", value):
        raise ValueError(f'expected a mail address like "me@example.org", got "{value}"')
    return value


class _Model(Section):
    # `from` is a Python keyword: the field is from_, written `from` in the file.
    model_config = ConfigDict(populate_by_name=True)
    reference: ClassVar[str] = "the README's Notifications section"
    missing_hint: ClassVar[str] = "missing (this channel kind needs it)"


class _Channel(_Model):
    name: str
    topics: list[str] = []  # only papers carrying one of these topics
    keywords: list[str] = []  # only papers whose title or abstract has one of these words (whole words)
    timeout_seconds: float = Field(default=20.0, gt=0)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("expected a non-empty channel name")
        return v

    @field_validator("username_env", "password_env", "url_env", "secret_env", "token_env", check_fields=False)
    @classmethod
    def _envs(cls, v: str | None) -> str | None:
        return env_name(v, "SLACK_WEBHOOK_URL", "secret")

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, v: list[str]) -> list[str]:
        if any(not k.strip() for k in v):
            raise ValueError("expected non-empty keywords, got an empty one")
        return [k.strip() for k in v]

    def env_names(self) -> dict[str, str]:
        """The channel's `*_env` keys that are set -> the names of the environment variables they name."""
        return {k: v for k, v in self.__dict__.items() if k.endswith("_env") and isinstance(v, str)}

    def secret_envs(self) -> list[str]:
        """Names of the variables holding this channel's secrets (their values are redacted everywhere).

        The SMTP user name is read from the environment too but is no secret (often the From address itself):
        redacting it would blank out the sender in previews and messages.
        """
        return [v for k, v in self.env_names().items() if k != "username_env"]


class EmailChannel(_Channel):
    kind: Literal["email"]
    smtp_host: str
    smtp_port: int | None = Field(default=None, ge=1, le=65535)  # default by security: 25, 587, 465
    security: Literal["none", "starttls", "ssl"] = "starttls"
    from_: str = Field(alias="from")
    to: list[str]
    username_env: str | None = None
    password_env: str | None = None


    @field_validator("from_")
    @classmethod
    def _from(cls, v: str) -> str:
        # "Name <addr>" is allowed: only the address part is checked.
        m = re.fullmatch(r"\s*(?P<name>[^<]*?)\s*<(?P<addr>[^>]+)>\s*", v)
        _address(m.group("addr") if m else v)
        return v

    @field_validator("to")
    @classmethod
    def _to(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("expected at least one recipient, got an empty list")
        for a in v:
            _address(a)
        return v

    @model_validator(mode="after")
    def _login_pair(self) -> EmailChannel:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("expected both username_env and password_env, or neither (SMTP login needs both)")
        return self

    @property
    def port(self) -> int:
        """The configured port, or the usual one for the security mode."""
        return self.smtp_port or {"none": 25, "starttls": 587, "ssl": 465}[self.security]


class _UrlChannel(_Channel):
    url_env: str  # the variable holding the webhook URL: the URL carries a token



class FeishuChannel(_UrlChannel):
    kind: Literal["feishu"]
    secret_env: str | None = None  # signature check ("签名校验") secret



class DingtalkChannel(_UrlChannel):
    kind: Literal["dingtalk"]
    secret_env: str | None = None  # "加签" secret: adds timestamp and sign to the URL



class WecomChannel(_UrlChannel):
    kind: Literal["wecom"]


class SlackChannel(_UrlChannel):
    kind: Literal["slack"]


class DiscordChannel(_UrlChannel):
    kind: Literal["discord"]


class WebhookChannel(_UrlChannel):
    kind: Literal["webhook"]


class TelegramChannel(_Channel):
    kind: Literal["telegram"]
    token_env: str
    chat_id: str
    api_url: str = "https://api.telegram.org"  # a local Bot API server (or a test stand-in) may replace it


    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id(cls, v: Any) -> Any:
        # Numeric chat ids are written unquoted in YAML.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        return http_url(v).rstrip("/")


Channel = Annotated[
    EmailChannel
    | FeishuChannel
    | DingtalkChannel
    | WecomChannel
    | SlackChannel
    | DiscordChannel
    | TelegramChannel
    | WebhookChannel,
    Field(discriminator="kind"),
]

WebhookLike = FeishuChannel | DingtalkChannel | WecomChannel | SlackChannel | DiscordChannel | WebhookChannel


class NotifyConfig(_Model):
    """`notify:` in config.yaml. No channels (the default) means no notifications."""

    channels: list[Channel] = Field(
        default=[],
        description="where each finished day is sent: `{name, kind, ...}` per channel, kinds email, feishu, "
        "dingtalk, wecom, slack, discord, telegram, webhook (see Notifications)",
    )

    @field_validator("channels")
    @classmethod
    def _unique(cls, v: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for ch in v:
            if ch.name in seen:
                raise ValueError(f'two channels are named "{ch.name}"; names must be unique (the record keys on them)')
            seen.add(ch.name)
        return v

    def channel(self, name: str) -> Any:
        """The channel called `name`; ConfigError listing the names when there is none."""
        for ch in self.channels:
            if ch.name == name:
                return ch
        names = ", ".join(c.name for c in self.channels) or "none configured"
        raise ConfigError(f'notify: no channel named "{name}" (channels: {names})')


def parse_notify_config(data: Any, source: str = "config.yaml", prefix: str = "notify") -> NotifyConfig:
    """Validate the `notify` mapping; raise ConfigError naming the key (notify.channels[0].smtp_port)."""
    if data is None:
        return NotifyConfig()
    return validate(NotifyConfig, data, source, prefix)


def check_channel_topics(cfg: NotifyConfig, known: Sequence[str], source: str = "config.yaml") -> None:
    """Refuse a channel topic the taxonomy does not have: a misspelt one would silently filter out every paper."""
    for i, ch in enumerate(cfg.channels):
        bad = [t for t in ch.topics if t not in known]
        if bad:
            raise ConfigError(
                f"{source}: notify.channels[{i}].topics: expected topics among {list(known)}, got {bad}"
                " (the slugs of the built-in taxonomy, or of site.topics_file)"
            )
