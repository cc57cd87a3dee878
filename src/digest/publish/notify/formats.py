"""One formatter per platform: a DayDigest becomes the messages (JSON bodies or a mail) that platform accepts.

Each platform's size limit is a constant below, with where it is documented. On the chat webhooks (Feishu,
DingTalk, WeCom, Slack, Discord) a day too long for one message is shortened to fit: as many papers as fit, then
"N more" and a link to the full post (the count alone without site.url), so a day is always one POST. Telegram
splits the day into several messages instead, every paper in one of them. A paper's Chinese title, when it has
one, goes on the line under its English title on every platform (it counts toward the limits like the rest);
the mail also carries the first sentence of the Chinese abstract.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from digest.core.config.notify import (
    DingtalkChannel,
    DiscordChannel,
    EmailChannel,
    FeishuChannel,
    SlackChannel,
    TelegramChannel,
    WebhookChannel,
    WecomChannel,
)
from digest.publish.notify.message import DayDigest, PaperItem, shorten

# Telegram sendMessage: "text: 1-4096 characters after entities parsing" (core.telegram.org/bots/api#sendmessage).
# Counted here before parsing, tags included, which can only err on the short side.
TELEGRAM_TEXT_LIMIT = 4096
# Slack Block Kit (docs.slack.dev/reference/block-kit/blocks): up to 50 blocks per message; a section's text at most
# 3000 characters; a header's plain text at most 150.
SLACK_MAX_BLOCKS = 50
SLACK_SECTION_TEXT_LIMIT = 3000
SLACK_HEADER_TEXT_LIMIT = 150
# Not in Slack's reference but enforced: chat.postMessage answers msg_blocks_too_long at about 13,200 characters of
# block text in total, well under the documented limits (reported in slackapi/bolt-js issue 2509). Keep clear of it.
SLACK_TOTAL_TEXT_LIMIT = 12000
# Discord embed limits (discord.com/developers/docs/resources/message#embed-object-embed-limits): title 256,
# description 4096, 6000 characters across an embed; message content at most 2000 characters (execute webhook).
DISCORD_CONTENT_LIMIT = 2000
DISCORD_TITLE_LIMIT = 256
DISCORD_DESCRIPTION_LIMIT = 4096
DISCORD_EMBED_TOTAL_LIMIT = 6000
# Feishu custom bot: the request body may not exceed 20 KB (open.feishu.cn, 自定义机器人使用指南, 使用限制); cards
# over the limit are refused with code 19036. Measured as the UTF-8 bytes actually sent, with room for the signature.
FEISHU_BODY_LIMIT = 20_000
FEISHU_SIGNATURE_ROOM = 128
# DingTalk custom robot: "body 大小不合法 ... 请保持大小在 20000bytes 以内" (errcode 460101, "message too long, exceed
# 20000 bytes"); the documented error for an oversized robot message. Measured as UTF-8 bytes of the body sent.
DINGTALK_BODY_LIMIT = 20_000
# WeCom group robot (developer.work.weixin.qq.com/document/path/91770): markdown.content 最长不超过4096个字节, UTF-8;
# over it the answer is errcode 40058 "markdown.content exceed max length 4096".
WECOM_MARKDOWN_LIMIT = 4096

Payload = dict[str, Any]
Message = Payload | EmailMessage
# (digest, the papers of this message, number of the first, part number, papers left out) -> payload
Render = Callable[[DayDigest, Sequence[PaperItem], int, int, int], Payload]


def body_bytes(payload: Payload) -> bytes:
    """The exact bytes POSTed for a payload: sizes are measured on what goes over the wire."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ------------------------------------------------------------------ shared wording


def heading(d: DayDigest, part: int = 1) -> str:
    base = f"arXiv 语音/音频日报 · {d.date}"
    return base if part == 1 else f"{base}（续 {part}）"


def counts_line(d: DayDigest) -> str:
    line = f"抓取 {d.fetched} 篇，本期 {d.shown} 篇"
    if d.filtered:
        line += f"，本频道筛选出 {len(d.papers)} 篇"
    return line


def omitted_line(d: DayDigest, omitted: int) -> str:
    return f"另有 {omitted} 篇未列出" + ("，见完整日报" if d.post_url else "")


# ------------------------------------------------------------------ fitting into a size limit


def fit(d: DayDigest, render: Render, fits: Callable[[Payload], bool], *, split: bool) -> list[Payload]:
    """All papers in one message if they fit; else shortened (with the omitted count), or split when `split`."""
    papers = list(d.papers)
    whole = render(d, papers, 1, 1, 0)
    if fits(whole):
        return [whole]
    if not split:
        lo, hi = 0, len(papers) - 1  # the most papers that fit with the "see the full post" line
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(render(d, papers[:mid], 1, 1, len(papers) - mid)):
                lo = mid
            else:
                hi = mid - 1
        return [render(d, papers[:lo], 1, 1, len(papers) - lo)]
    out: list[Payload] = []
    chunk: list[PaperItem] = []
    start, part = 1, 1
    for i, p in enumerate(papers, 1):
        if not chunk or fits(render(d, [*chunk, p], start, part, 0)):
            chunk.append(p)
            continue
        out.append(render(d, chunk, start, part, 0))
        chunk, start, part = [p], i, part + 1
    out.append(render(d, chunk, start, part, 0))
    return out


# ------------------------------------------------------------------ Markdown (Feishu, DingTalk, WeCom, Discord)


def _md_text(text: str) -> str:
    # Brackets would end the link text early; the full-width ones read the same.
    return text.replace("[", "［").replace("]", "］").replace("\n", " ")


def _md_url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _md_link(text: str, url: str) -> str:
    return f"[{_md_text(text)}]({_md_url(url)})"


def _md_lines(d: DayDigest, papers: Sequence[PaperItem], start: int, topic_fmt: Callable[[str], str]) -> list[str]:
    lines = []
    for i, p in enumerate(papers, start):
        topics = d.paper_topics(p)
        # The Chinese title continues the list item on its own line (indented like the item's text).
        zh = f"\n   {_md_text(p.title_zh)}" if p.title_zh else ""
        lines.append(f"{i}. {_md_link(p.title, p.link)}{zh}" + (f" {topic_fmt(topics)}" if topics else ""))
    return lines


def _md_summary(d: DayDigest, part: int) -> list[str]:
    if part > 1:
        return []
    out = [counts_line(d)]
    if d.topic_line():
        out.append(f"主题：{d.topic_line()}")
    return out


def _md_omitted(d: DayDigest, omitted: int) -> list[str]:
    if not omitted:
        return [_md_link("完整日报", d.post_url)] if d.post_url else []
    if not d.post_url:
        return [omitted_line(d, omitted)]
    return [f"{omitted_line(d, omitted)}：{_md_link('完整日报', d.post_url)}"]


def render_feishu(d: DayDigest, papers: Sequence[PaperItem], start: int, part: int, omitted: int) -> Payload:
    lines = _md_summary(d, part) + [""] + _md_lines(d, papers, start, lambda t: f"· {t}") + [""]
    lines += _md_omitted(d, omitted)
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": heading(d, part)}, "template": "blue"},
            "elements": [{"tag": "markdown", "content": "\n".join(lines).strip()}],
        },
    }


def render_dingtalk(d: DayDigest, papers: Sequence[PaperItem], start: int, part: int, omitted: int) -> Payload:
    # DingTalk's Markdown needs a blank line for a line break.
    lines = [f"### {heading(d, part)}", *_md_summary(d, part), *_md_lines(d, papers, start, lambda t: f"· {t}")]
    lines += _md_omitted(d, omitted)
    return {"msgtype": "markdown", "markdown": {"title": heading(d, part), "text": "\n\n".join(lines)}}


def render_wecom(d: DayDigest, papers: Sequence[PaperItem], start: int, part: int, omitted: int) -> Payload:
    lines = [f"**{heading(d, part)}**"] + [f'<font color="comment">{x}</font>' for x in _md_summary(d, part)]
    lines += _md_lines(d, papers, start, lambda t: f'<font color="comment">{t}</font>')
    lines += _md_omitted(d, omitted)
    return {"msgtype": "markdown", "markdown": {"content": "\n".join(lines)}}


def render_discord(d: DayDigest, papers: Sequence[PaperItem], start: int, part: int, omitted: int) -> Payload:
    lines = _md_summary(d, part) + [""] + _md_lines(d, papers, start, lambda t: f"· *{t}*") + [""]
    lines += _md_omitted(d, omitted)
    embed: Payload = {
        "title": shorten(heading(d, part), DISCORD_TITLE_LIMIT),
        "description": "\n".join(lines).strip(),
        "color": 0x2B6CB0,
    }
    if d.post_url:
        embed["url"] = d.post_url
    content = f"**{heading(d, part)}**" + (f" — {counts_line(d)}" if part == 1 else "")
    # No @everyone or role pings from a paper title.
    return {"content": shorten(content, DISCORD_CONTENT_LIMIT), "embeds": [embed], "allowed_mentions": {"parse": []}}


def _fits_feishu(p: Payload) -> bool:
    return len(body_bytes(p)) <= FEISHU_BODY_LIMIT - FEISHU_SIGNATURE_ROOM


def _fits_dingtalk(p: Payload) -> bool:
    return len(body_bytes(p)) <= DINGTALK_BODY_LIMIT


def _fits_wecom(p: Payload) -> bool:
    return len(p["markdown"]["content"].encode("utf-8")) <= WECOM_MARKDOWN_LIMIT


def _fits_discord(p: Payload) -> bool:
    e = p["embeds"][0]
    return (
        len(p["content"]) <= DISCORD_CONTENT_LIMIT
        and len(e["description"]) <= DISCORD_DESCRIPTION_LIMIT
        and len(e["title"]) + len(e["description"]) <= DISCORD_EMBED_TOTAL_LIMIT
    )


# ------------------------------------------------------------------ Slack


def _slack_esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(text: str, url: str) -> str:
    return f"<{url.replace('|', '%7C').replace('>', '%3E')}|{_slack_esc(text).replace('|', '｜')}>"


def render_slack(d: DayDigest, papers: Sequence[PaperItem], start: int, part: int, omitted: int) -> Payload:
    blocks: list[Payload] = [
        {"type": "header", "text": {"type": "plain_text", "text": shorten(heading(d, part), SLACK_HEADER_TEXT_LIMIT)}}
    ]
    if part == 1:
        summary = _slack_esc(counts_line(d)) + (f"\n主题：{_slack_esc(d.topic_line())}" if d.topic_line() else "")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": summary}})
    section = ""
    for i, p in enumerate(papers, start):
        topics = d.paper_topics(p)
        zh = f"\n{_slack_esc(p.title_zh)}" if p.title_zh else ""
        line = f"{i}. {_slack_link(p.title, p.link)}{zh}" + (f" — _{_slack_esc(topics)}_" if topics else "")
        if section and len(section) + 1 + len(line) > SLACK_SECTION_TEXT_LIMIT:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
            section = ""
        section = f"{section}\n{line}" if section else line
    if section:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
    if omitted or d.post_url:
        link = _slack_link("完整日报", d.post_url) if d.post_url else ""
        if omitted:
            tail = _slack_esc(omitted_line(d, omitted)) + (f"：{link}" if link else "")
        else:
            tail = link
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": tail}]})
    fallback = f"{heading(d, part)}：{len(papers)} 篇" + (f" {d.post_url}" if d.post_url else "")
    return {"text": fallback, "blocks": blocks}


def _slack_texts(p: Payload) -> list[str]:
    out = [p["text"]]
    for b in p["blocks"]:
        if "text" in b:
            out.append(b["text"]["text"])
        out.extend(e["text"] for e in b.get("elements", []))
    return out


def _fits_slack(p: Payload) -> bool:
    sections = [b["text"]["text"] for b in p["blocks"] if b["type"] == "section"]
    return (
        len(p["blocks"]) <= SLACK_MAX_BLOCKS
        and all(len(s) <= SLACK_SECTION_TEXT_LIMIT for s in sections)
        and sum(len(t) for t in _slack_texts(p)) <= SLACK_TOTAL_TEXT_LIMIT
    )


# ------------------------------------------------------------------ Telegram (HTML parse mode)


def _tg_text(d: DayDigest, papers: Sequence[PaperItem], start: int, part: int, omitted: int) -> str:
    esc = html.escape
    lines = [f"<b>{esc(heading(d, part))}</b>"]
    if part == 1:
        lines.append(esc(counts_line(d)))
        if d.topic_line():
            lines.append(esc(f"主题：{d.topic_line()}"))
    lines.append("")
    for i, p in enumerate(papers, start):
        lines.append(f'{i}. <a href="{esc(p.link, quote=True)}">{esc(p.title)}</a>')
        if p.title_zh:
            lines.append(esc(p.title_zh))
        if p.topics:
            lines.append(f"<i>{esc(d.paper_topics(p))}</i>")
    if omitted:  # only when shortened, which Telegram never is; kept for a caller passing split=False
        link = f'：<a href="{esc(d.post_url, quote=True)}">完整日报</a>' if d.post_url else ""
        lines.append(f"\n{esc(omitted_line(d, omitted))}{link}")
    return "\n".join(lines)


def telegram_renderer(chat_id: str) -> Render:
    def render(d: DayDigest, papers: Sequence[PaperItem], start: int, part: int, omitted: int) -> Payload:
        return {
            "chat_id": chat_id,
            "text": _tg_text(d, papers, start, part, omitted),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},  # replaced disable_web_page_preview in Bot API 7.0
        }

    return render


def _fits_telegram(p: Payload) -> bool:
    return len(p["text"]) <= TELEGRAM_TEXT_LIMIT


# ------------------------------------------------------------------ generic webhook and email


def render_webhook(d: DayDigest) -> Payload:
    """The day as plain JSON: date, counts, topics and papers with title, Chinese title, link and topic slugs."""
    return {
        "date": d.date,
        "counts": {"fetched": d.fetched, "shown": d.shown, "papers": len(d.papers)},
        "filtered": d.filtered,
        "topics": [{"slug": t.slug, "label": t.label, "count": t.count} for t in d.topic_counts()],
        "post_url": d.post_url,
        "papers": [
            {"id": p.id, "title": p.title, "title_zh": p.title_zh, "link": p.link, "topics": list(p.topics)}
            for p in d.papers
        ],
    }


def email_subject(d: DayDigest) -> str:
    return f"arXiv 语音/音频日报 {d.date}：{len(d.papers)} 篇"


def email_text(d: DayDigest) -> str:
    lines = [heading(d), counts_line(d)]
    if d.topic_line():
        lines.append(f"主题：{d.topic_line()}")
    lines.append("")
    for i, p in enumerate(d.papers, 1):
        lines.append(f"{i}. {p.title}")
        lines += [f"   {text}" for text in (p.title_zh, p.gist) if text]
        if p.topics:
            lines.append(f"   {d.paper_topics(p)}")
        lines.append(f"   {p.link}")
        lines.append("")
    if d.post_url:
        lines.append(f"完整日报：{d.post_url}")
    return "\n".join(lines).rstrip() + "\n"


def email_html(d: DayDigest) -> str:
    esc = html.escape
    items = []
    for p in d.papers:
        topics = f'<br><small style="color:#666">{esc(d.paper_topics(p))}</small>' if p.topics else ""
        link = f'<a href="{esc(p.link, quote=True)}">{esc(p.title)}</a>'
        zh = f"<br><strong>{esc(p.title_zh)}</strong>" if p.title_zh else ""
        gist = f'<br><span style="color:#333">{esc(p.gist)}</span>' if p.gist else ""
        items.append(f'<li style="margin-bottom:8px">{link}{zh}{gist}{topics}</li>')
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"></head><body style="font-family:sans-serif;line-height:1.5">',
        f"<h2>{esc(heading(d))}</h2>",
        f"<p>{esc(counts_line(d))}</p>",
    ]
    if d.topic_line():
        parts.append(f"<p>主题：{esc(d.topic_line())}</p>")
    parts.append("<ol>" + "".join(items) + "</ol>")
    if d.post_url:
        parts.append(f'<p><a href="{esc(d.post_url, quote=True)}">完整日报</a></p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def build_email(d: DayDigest, channel: EmailChannel, now: datetime) -> EmailMessage:
    """A multipart/alternative mail: plain text first, HTML second; the subject carries the date."""
    msg = EmailMessage()
    msg["Subject"] = email_subject(d)
    msg["From"] = channel.from_
    msg["To"] = ", ".join(channel.to)
    msg["Date"] = format_datetime(now)
    domain = channel.from_.rsplit("@", 1)[-1].strip(" >")
    msg["Message-ID"] = make_msgid("digest", domain=domain)
    msg.set_content(email_text(d))
    msg.add_alternative(email_html(d), subtype="html")
    return msg


# ------------------------------------------------------------------ dispatch


def build_messages(channel: Any, d: DayDigest, now: datetime) -> list[Message]:
    """The messages a channel gets for a digest, in sending order (one per POST; one mail for email)."""
    if isinstance(channel, EmailChannel):
        return [build_email(d, channel, now)]
    if isinstance(channel, WebhookChannel):
        return [render_webhook(d)]
    if isinstance(channel, TelegramChannel):
        return list(fit(d, telegram_renderer(channel.chat_id), _fits_telegram, split=True))
    table: dict[type, tuple[Render, Callable[[Payload], bool]]] = {
        FeishuChannel: (render_feishu, _fits_feishu),
        DingtalkChannel: (render_dingtalk, _fits_dingtalk),
        WecomChannel: (render_wecom, _fits_wecom),
        SlackChannel: (render_slack, _fits_slack),
        DiscordChannel: (render_discord, _fits_discord),
    }
    render, fits = table[type(channel)]
    return list(fit(d, render, fits, split=False))


def preview(channel: Any, messages: Sequence[Message]) -> str:
    """What --dry-run prints: the mail's headers and text part, or each JSON body with its size."""
    out = [f"== {channel.name} ({channel.kind}): {len(messages)} message{'s' if len(messages) != 1 else ''}"]
    for i, m in enumerate(messages, 1):
        if isinstance(m, EmailMessage):
            text = m.get_body(("plain",))
            out.append(f"Subject: {m['Subject']}\nFrom: {m['From']}\nTo: {m['To']}\n")
            out.append(text.get_content() if text is not None else "")
        else:
            out.append(f"-- message {i} ({len(body_bytes(m))} bytes)")
            out.append(json.dumps(m, ensure_ascii=False, indent=2))
    return "\n".join(out)
