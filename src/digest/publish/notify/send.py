"""Senders: SMTP for mail, one HTTP POST per message for the rest. A send never raises; it reports ok or one line."""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import httpx

from digest.core.config.notify import DingtalkChannel, EmailChannel, FeishuChannel, TelegramChannel
from digest.publish.notify.formats import Message, Payload, body_bytes

SmtpFactory = Callable[[EmailChannel], smtplib.SMTP]


@dataclass(frozen=True)
class SendResult:
    ok: bool
    reason: str = ""  # one line, secrets redacted (failure only)
    messages: int = 0  # messages delivered


class Redactor:
    """Replaces every secret value (and its URL-encoded forms) with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for s in secrets:
            if len(s) >= 4:  # a 1-3 character "secret" would blank out ordinary words
                forms.update({s, quote(s, safe=""), quote_plus(s), quote(s, safe=":/?&=")})
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for f in self._forms:
            text = text.replace(f, "***")
        return text


class MissingSecret(Exception):
    """A variable the channel names is not set; the message names the variable, never a value."""


def secret(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value.strip():
        raise MissingSecret(f"environment variable {name} is not set")
    return value.strip()


def _token_parts(value: str) -> list[str]:
    """Pieces of a secret that may be printed on their own: a webhook URL's path, the tokens in its path and query,
    a bot token's part after the colon. Short plain words (hook, v2, send) are not tokens."""
    parts: list[str] = []
    if value.startswith(("http://", "https://")):
        u = urlsplit(value)
        parts += [u.path, f"{u.path}?{u.query}"] if u.query else [u.path]
        pieces = [seg for seg in u.path.split("/") if seg] + [v for _, v in parse_qsl(u.query)]
        parts += [p for p in pieces if len(p) >= 16 or (len(p) >= 6 and any(c.isdigit() for c in p))]
    elif ":" in value:
        parts.append(value.split(":", 1)[1])
    return [p for p in parts if len(p) >= 6]


def channel_secrets(channel: Any, environ: Mapping[str, str]) -> list[str]:
    """The values of every secret the channel names (set ones only), and their token parts: never printed."""
    values = [environ[n].strip() for n in channel.secret_envs() if environ.get(n, "").strip()]
    return values + [p for v in values for p in _token_parts(v)]


# ------------------------------------------------------------------ mail


def smtp_connector(context: ssl.SSLContext | None = None) -> SmtpFactory:
    """A factory connecting as configured (plain, STARTTLS or TLS from the start); `context` checks certificates."""

    def connect(channel: EmailChannel) -> smtplib.SMTP:
        ctx = context or ssl.create_default_context()
        if channel.security == "ssl":
            return smtplib.SMTP_SSL(channel.smtp_host, channel.port, timeout=channel.timeout_seconds, context=ctx)
        conn = smtplib.SMTP(channel.smtp_host, channel.port, timeout=channel.timeout_seconds)
        if channel.security == "starttls":
            try:
                conn.starttls(context=ctx)
            except BaseException:
                conn.close()
                raise
        return conn

    return connect


default_smtp: SmtpFactory = smtp_connector()


def send_email(
    channel: EmailChannel, msg: EmailMessage, *, environ: Mapping[str, str], smtp_factory: SmtpFactory = default_smtp
) -> SendResult:
    """One mail to every recipient; login when username_env/password_env are given."""
    redact = Redactor(channel_secrets(channel, environ))
    try:
        user = secret(environ, channel.username_env) if channel.username_env else None
        password = secret(environ, channel.password_env) if channel.password_env else None
    except MissingSecret as exc:
        return SendResult(False, str(exc))
    conn: smtplib.SMTP | None = None
    try:
        conn = smtp_factory(channel)
        if user is not None and password is not None:
            conn.login(user, password)
        refused = conn.send_message(msg, to_addrs=list(channel.to))
        if refused:
            return SendResult(False, redact(f"the server refused {', '.join(sorted(refused))}"))
        return SendResult(True, messages=1)
    except smtplib.SMTPAuthenticationError as exc:
        return SendResult(False, redact(f"SMTP login refused ({exc.smtp_code})"))
    except smtplib.SMTPException as exc:
        return SendResult(False, redact(f"SMTP error: {_one_line(exc)}"))
    except (OSError, ssl.SSLError) as exc:
        return SendResult(False, redact(f"cannot reach {channel.smtp_host}:{channel.port} ({_one_line(exc)})"))
    finally:
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    return text[:200]


# ------------------------------------------------------------------ webhooks


def dingtalk_signed_url(url: str, secret_value: str, now: datetime) -> str:
    """DingTalk 加签: timestamp (ms) and sign = urlencode(base64(HmacSHA256(secret, timestamp + '\\n' + secret)))."""
    ts = str(int(now.timestamp() * 1000))
    mac = hmac.new(secret_value.encode(), f"{ts}\n{secret_value}".encode(), hashlib.sha256).digest()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}timestamp={ts}&sign={quote_plus(base64.b64encode(mac).decode())}"


def feishu_signature(secret_value: str, now: datetime) -> dict[str, str]:
    """Feishu 签名校验: body fields timestamp (s) and sign = base64(HmacSHA256(key=timestamp + '\\n' + secret, ''))."""
    ts = str(int(now.timestamp()))
    mac = hmac.new(f"{ts}\n{secret_value}".encode(), b"", hashlib.sha256).digest()
    return {"timestamp": ts, "sign": base64.b64encode(mac).decode()}


def _platform_error(kind: str, resp: httpx.Response) -> str | None:
    """Platforms that answer 200 with an error code in the body: the error, else None."""
    if kind == "slack" or kind == "discord" or kind == "webhook":
        return None
    try:
        data = resp.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if kind == "feishu":
        code = data.get("code", data.get("StatusCode", 0))
        return f"Feishu answered code {code}: {data.get('msg', data.get('StatusMessage', ''))}" if code else None
    if kind in ("dingtalk", "wecom"):
        code = data.get("errcode", 0)
        return f"{kind} answered errcode {code}: {data.get('errmsg', '')}" if code else None
    if kind == "telegram" and data.get("ok") is False:
        return f"Telegram answered {data.get('error_code', '')}: {data.get('description', '')}"
    return None


def _target(channel: Any, environ: Mapping[str, str]) -> str:
    if isinstance(channel, TelegramChannel):
        return f"{channel.api_url}/bot{secret(environ, channel.token_env)}/sendMessage"
    url = secret(environ, channel.url_env)
    if not url.startswith(("http://", "https://")):
        raise MissingSecret(f"environment variable {channel.url_env} does not hold an http(s) URL")
    return url


def send_webhook(
    channel: Any,
    payloads: Sequence[Message],
    *,
    environ: Mapping[str, str],
    http: httpx.Client,
    clock: Callable[[], datetime],
) -> SendResult:
    """POST each payload in order; stop at the first failure (the next run sends the channel's messages again)."""
    redact = Redactor(channel_secrets(channel, environ))
    try:
        url = _target(channel, environ)
        sign_secret = secret(environ, channel.secret_env) if getattr(channel, "secret_env", None) else None
    except MissingSecret as exc:
        return SendResult(False, str(exc))
    sent = 0
    for i, payload in enumerate(payloads, 1):
        assert isinstance(payload, dict)
        body: Payload = payload
        target = url
        if sign_secret and isinstance(channel, FeishuChannel):
            body = {**feishu_signature(sign_secret, clock()), **payload}
        elif sign_secret and isinstance(channel, DingtalkChannel):
            target = dingtalk_signed_url(url, sign_secret, clock())
        where = f"message {i} of {len(payloads)}: " if len(payloads) > 1 else ""
        try:
            resp = http.post(
                target,
                content=body_bytes(body),
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=channel.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            # httpx puts the URL (with its token) in some messages: only the class and a redacted text go out.
            return SendResult(False, redact(f"{where}{exc.__class__.__name__}: {_one_line(exc)}"), sent)
        if not 200 <= resp.status_code < 300:
            detail = " ".join(resp.text.split())[:200]
            reason = f"{where}HTTP {resp.status_code}" + (f": {detail}" if detail else "")
            return SendResult(False, redact(reason), sent)
        err = _platform_error(channel.kind, resp)
        if err:
            return SendResult(False, redact(where + _one_line(Exception(err))), sent)
        sent += 1
    return SendResult(True, messages=sent)
