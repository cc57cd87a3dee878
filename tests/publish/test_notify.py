"""Push notifications (issue 17): a real SMTP server (aiosmtpd) and webhook receivers on 127.0.0.1."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import shutil
import ssl
import subprocess
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from digest.core.config import parse_config
from digest.core.config.notify import NotifyConfig
from digest.core.errors import ConfigError
from digest.core.record import TaskResult
from digest.publish.notify import NotifyOutcome, build_digest, notify_day, parse_notify_config, summary_lines
from digest.publish.notify import formats as F
from digest.publish.notify.core import Delivery, MessageContent, Mode
from digest.publish.notify.send import smtp_connector
from digest.standins.base import Reply, Request, StandIn
from helpers import make_entry, make_record
from smtp_kit import free_port
from smtp_kit import smtp_server as start_smtp

NOW = datetime(2026, 1, 7, 1, 30, tzinfo=UTC)
SITE = "https://example.org/blog"
DAY = "2026-01-07"

# Unique markers for every secret: no output, record or file may contain them.
SMTP_PASSWORD = "pw-SECRET-7f3a9c"
SMTP_USER = "mailer-user-4411"
FEISHU_TOKEN = "fs-TOKEN-b81d2e"
SLACK_TOKEN = "sl-TOKEN-5c0f77"
DING_TOKEN = "dt-TOKEN-e9a012"
DING_SECRET = "SEC-dingsecret-33aa"
FEISHU_SECRET = "fs-signsecret-90bc"
TG_TOKEN = "123456:tg-TOKEN-aa77"
HOOK_TOKEN = "wh-TOKEN-0d0d0d"
WECOM_TOKEN = "wc-TOKEN-1e1e1e"
DISCORD_TOKEN = "dc-TOKEN-2f2f2f"
MARKERS = [SMTP_PASSWORD, FEISHU_TOKEN, SLACK_TOKEN, DING_TOKEN, DING_SECRET, FEISHU_SECRET, TG_TOKEN.split(":")[1],
           HOOK_TOKEN, WECOM_TOKEN, DISCORD_TOKEN]

TOPICS = {
    "2601.00001": ["asr"],
    "2601.00002": ["tts"],
    "2601.00003": ["tts", "codec"],
    "2601.00004": ["music"],
    "2601.00005": ["speaker", "security"],
}
LABELS = {"asr": "语音识别", "tts": "语音合成", "codec": "编解码", "music": "音乐", "speaker": "说话人",
          "security": "安全"}


def clock() -> datetime:
    return NOW


def day_record(n: int = 5, *, translated: bool = True, title_len: int = 0, zh_len: int = -1):
    """`n` papers; with zh_len >= 0 each has a Chinese title (padded by zh_len characters) and a two-sentence
    Chinese abstract."""
    entries = []
    for i in range(1, n + 1):
        pid = f"2601.{i:05d}v1"
        title = f"Paper {i} on speech & <audio> [v{i}]" + (" x" * title_len)
        abstract = "We study text-to-speech (TTS), fast." if i == 2 else "We study speech recognition."
        translation = (zh_gist(i) + "第二句不应出现在推送里。") if zh_len >= 0 else "译文"
        e = make_entry(pid, title=title, abstract=abstract, translation=translation if translated else None)
        if zh_len >= 0:
            e.set_title_zh(TaskResult(status="done", text=zh_title(i) + "长" * zh_len, model="m"))
        entries.append(e)
    return make_record(entries, DAY)


def zh_title(i: int) -> str:
    return f"第{i}篇关于语音与<音频>的论文"


def zh_gist(i: int) -> str:
    return f"本文第{i}篇研究语音识别，提出一种新方法！"


# ------------------------------------------------------------------ local servers


class Receiver(StandIn):
    """Every platform's webhook: answers each path the way that platform does on success."""

    def handle(self, request: Request) -> Reply:
        kind = request.path.strip("/").split("/")[0]
        body = {
            "feishu": {"code": 0, "msg": "success"},
            "dingtalk": {"errcode": 0, "errmsg": "ok"},
            "wecom": {"errcode": 0, "errmsg": "ok"},
        }.get(kind)
        if kind.startswith("bot"):
            body = {"ok": True, "result": {}}
        if kind == "discord":
            return Reply(204)
        if body is None:
            return Reply(200, b"ok")
        return Reply(200, json.dumps(body).encode(), "application/json")

    def posts(self, kind: str) -> list[Request]:
        return [r for r in self.requests if r.path.strip("/").split("/")[0] == kind]


@pytest.fixture
def smtp_server():
    with start_smtp(SMTP_USER, SMTP_PASSWORD) as server:
        yield server


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def env_for(recv: Receiver) -> dict[str, str]:
    return {
        "SMTP_USER": SMTP_USER,
        "SMTP_PASS": SMTP_PASSWORD,
        "FEISHU_URL": f"{recv.url}/feishu/{FEISHU_TOKEN}",
        "FEISHU_SECRET": FEISHU_SECRET,
        "SLACK_URL": f"{recv.url}/slack/{SLACK_TOKEN}",
        "DING_URL": f"{recv.url}/dingtalk/send?access_token={DING_TOKEN}",
        "DING_SECRET": DING_SECRET,
        "WECOM_URL": f"{recv.url}/wecom/send?key={WECOM_TOKEN}",
        "DISCORD_URL": f"{recv.url}/discord/{DISCORD_TOKEN}",
        "HOOK_URL": f"{recv.url}/webhook/{HOOK_TOKEN}",
        "TG_TOKEN": TG_TOKEN,
    }


def email_channel(port: int, **extra: Any) -> dict[str, Any]:
    return {"name": "mail", "kind": "email", "smtp_host": "127.0.0.1", "smtp_port": port, "security": "none",
            "from": "Digest <digest@example.org>", "to": ["a@example.org", "b@example.org"],
            "username_env": "SMTP_USER", "password_env": "SMTP_PASS", **extra}


def run(record, cfg: NotifyConfig, env: dict[str, str], sent: dict[str, str] | None = None, **kw: Any) -> NotifyOutcome:
    with httpx.Client() as http:
        return notify_day(record, cfg, already_sent=sent or {}, delivery=Delivery(environ=env, http=http, clock=clock),
                          content=MessageContent(topics=TOPICS, labels=LABELS, site_url=SITE), mode=Mode(**kw))


def assert_no_secret(*texts: str) -> None:
    for t in texts:
        for m in MARKERS:
            assert m not in t, f"secret marker {m!r} leaked into: {t[:300]!r}"


def outcome_text(o: NotifyOutcome) -> str:
    return json.dumps([o.reason, o.sent, o.failed, o.skipped, o.warnings, o.previews], ensure_ascii=False)


# ------------------------------------------------------------------ config


def test_config_accepts_every_kind():
    cfg = parse_notify_config({"channels": [
        {"name": "m", "kind": "email", "smtp_host": "smtp.example.org", "from": "x@example.org", "to": ["y@example.org"]},
        {"name": "f", "kind": "feishu", "url_env": "F", "secret_env": "FS", "topics": ["tts"]},
        {"name": "d", "kind": "dingtalk", "url_env": "D", "secret_env": "DS"},
        {"name": "w", "kind": "wecom", "url_env": "W", "keywords": ["diffusion"]},
        {"name": "s", "kind": "slack", "url_env": "S"},
        {"name": "c", "kind": "discord", "url_env": "C"},
        {"name": "t", "kind": "telegram", "token_env": "T", "chat_id": -100123},
        {"name": "h", "kind": "webhook", "url_env": "H"},
    ]})
    assert [c.kind for c in cfg.channels] == ["email", "feishu", "dingtalk", "wecom", "slack", "discord",
                                               "telegram", "webhook"]
    assert cfg.channels[0].port == 587 and cfg.channels[0].security == "starttls"
    assert cfg.channels[6].chat_id == "-100123"
    assert parse_notify_config(None).channels == []


@pytest.mark.parametrize(("channels", "expected"), [
    ([{"name": "m", "kind": "email", "smtp_host": "h", "smtp_port": "abc", "from": "x@e.org", "to": ["y@e.org"]}],
     'notify.channels[0].smtp_port: expected a whole number, got "abc"'),
    ([{"name": "a", "kind": "slack", "url_env": "A"}, {"name": "b", "kind": "pager", "url_env": "B"}],
     'notify.channels[1]: kind: expected one of email, feishu'),
    ([{"name": "a", "kind": "slack"}], "notify.channels[0].url_env: missing"),
    ([{"name": "a", "kind": "slack", "url_env": "https://hooks.slack.com/services/T0/B0/x"}],
     "notify.channels[0].url_env: expected the NAME of an environment variable"),
    ([{"name": "a", "kind": "slack", "url_env": "A"}, {"name": "a", "kind": "discord", "url_env": "B"}],
     'notify.channels: two channels are named "a"'),
    ([{"name": "a", "kind": "slack", "url_env": "A", "url": "x"}], "notify.channels[0].url: unknown key"),
    ([{"name": "m", "kind": "email", "smtp_host": "h", "from": "x@e.org", "to": ["y@e.org"], "username_env": "U"}],
     "notify.channels[0]: expected both username_env and password_env"),
    ([{"name": "m", "kind": "email", "smtp_host": "h", "from": "x@e.org", "to": ["y@e.org"], "security": "tls"}],
     "notify.channels[0].security: expected 'none', 'starttls' or 'ssl'"),
])
def test_config_errors_name_the_key(channels, expected):
    with pytest.raises(ConfigError) as err:
        parse_notify_config({"channels": channels})
    assert str(err.value).startswith(f"config.yaml: {expected}"), str(err.value)
    assert "\n" not in str(err.value)


def test_channel_topics_are_the_taxonomys_slugs(tmp_path):
    # The config loader (core) parses; the taxonomy check runs above it, right after loading.
    from digest.enrich.config_checks import check_notify_topics

    def load(data, **kw):
        cfg = parse_config(data, **kw)
        check_notify_topics(cfg)
        return cfg

    channel = {"name": "a", "kind": "slack", "url_env": "A", "topics": ["ttts"]}
    with pytest.raises(ConfigError) as err:
        load({"notify": {"channels": [channel]}})
    assert str(err.value).startswith("config.yaml: notify.channels[0].topics: expected topics among ['asr', 'tts'")
    # A user's own taxonomy brings its own slugs: `birds` is valid there, `tts` no longer is.
    (tmp_path / "mine.yaml").write_text(
        "topics:\n  - {slug: birds, label: 鸟类, en: [bird]}\n  - {slug: other, label: 其他}\n", encoding="utf-8"
    )
    site = {"topics_file": "mine.yaml"}
    cfg = load({"site": site, "notify": {"channels": [{**channel, "topics": ["birds"]}]}}, base_dir=tmp_path)
    assert cfg.notify.channels[0].topics == ["birds"]
    with pytest.raises(ConfigError, match=r"got \['tts'\]"):
        load({"site": site, "notify": {"channels": [{**channel, "topics": ["tts"]}]}}, base_dir=tmp_path)


# ------------------------------------------------------------------ the neutral digest


def test_digest_links_topics_and_filters():
    rec = day_record()
    d = build_digest(rec, topics=TOPICS, labels=LABELS, site_url=SITE + "/")
    assert d.post_url == f"{SITE}/2026/01/07/arxiv.html"
    assert d.papers[0].link == f"{SITE}/2026/01/07/arxiv.html#2601-00001"
    assert d.papers[2].topics == ("tts", "codec")
    assert [(t.slug, t.label, t.count) for t in d.topic_counts()] == [
        ("asr", "语音识别", 1), ("tts", "语音合成", 2), ("codec", "编解码", 1), ("music", "音乐", 1),
        ("speaker", "说话人", 1), ("security", "安全", 1)]  # the taxonomy's order (the labels' order)
    bare = build_digest(rec, topics=lambda e: ["other"])
    assert bare.post_url is None and bare.papers[0].link == "https://arxiv.org/abs/2601.00001v1"
    assert bare.papers[0].topics == ("other",)
    tts = d.select(topics=["tts"])
    assert [p.id for p in tts.papers] == ["2601.00002v1", "2601.00003v1"] and tts.filtered
    # Whole words, case-insensitive, title or abstract: "tts" matches "(TTS)," but "Paper" does not match "pap".
    assert [p.id for p in d.select(keywords=["tts"]).papers] == ["2601.00002v1"]
    assert d.select(keywords=["pap"]).papers == ()
    assert [p.id for p in d.select(topics=["tts"], keywords=["Paper 3"]).papers] == ["2601.00003v1"]


# ------------------------------------------------------------------ formats and size limits


def _fits(kind: str, payload: dict) -> bool:
    body = F.body_bytes(payload)
    if kind == "feishu":
        return len(body) <= F.FEISHU_BODY_LIMIT - F.FEISHU_SIGNATURE_ROOM
    if kind == "dingtalk":
        return len(body) <= F.DINGTALK_BODY_LIMIT
    if kind == "wecom":
        return len(payload["markdown"]["content"].encode()) <= F.WECOM_MARKDOWN_LIMIT
    if kind == "slack":
        blocks = payload["blocks"]
        secs = [b["text"]["text"] for b in blocks if b["type"] == "section"]
        return len(blocks) <= F.SLACK_MAX_BLOCKS and all(len(s) <= F.SLACK_SECTION_TEXT_LIMIT for s in secs) \
            and len(blocks[0]["text"]["text"]) <= F.SLACK_HEADER_TEXT_LIMIT
    if kind == "discord":
        e = payload["embeds"][0]
        return len(payload["content"]) <= 2000 and len(e["description"]) <= 4096 and \
            len(e["title"]) + len(e["description"]) <= 6000
    if kind == "telegram":
        return len(payload["text"]) <= F.TELEGRAM_TEXT_LIMIT
    raise AssertionError(kind)


KINDS = {
    "feishu": {"url_env": "X"}, "dingtalk": {"url_env": "X"}, "wecom": {"url_env": "X"}, "slack": {"url_env": "X"},
    "discord": {"url_env": "X"}, "telegram": {"token_env": "X", "chat_id": "42"},
}


def _channel(kind: str):
    return parse_notify_config({"channels": [{"name": kind, "kind": kind, **KINDS[kind]}]}).channels[0]


@pytest.mark.parametrize("kind", list(KINDS))
def test_big_day_is_shortened_or_split_within_the_limit(kind):
    rec = day_record(400, title_len=60)  # 400 papers with ~200-character titles: over every chat limit
    with_site = build_digest(rec, topics=TOPICS, labels=LABELS, site_url=SITE)
    msgs = F.build_messages(_channel(kind), with_site, NOW)
    assert all(_fits(kind, m) for m in msgs)
    text = json.dumps(msgs, ensure_ascii=False)
    if kind == "telegram":  # always split: every paper in some chunk
        assert len(msgs) > 1
        assert all(p.link in text for p in with_site.papers)
    else:  # one message, shortened, pointing at the full post
        assert len(msgs) == 1
        assert "另有" in text and with_site.post_url in text
        assert with_site.papers[0].link in text and with_site.papers[-1].link not in text
    # Without a site there is no full post to point at: Telegram still splits, the others say how many are left out.
    bare = build_digest(rec, topics=TOPICS, labels=LABELS)
    parts = F.build_messages(_channel(kind), bare, NOW)
    assert all(_fits(kind, m) for m in parts)
    joined = json.dumps(parts, ensure_ascii=False)
    if kind == "telegram":
        assert len(parts) > 1 and all(p.link in joined for p in bare.papers)
    else:
        assert len(parts) == 1 and "未列出" in joined and "完整日报" not in joined
        assert bare.papers[0].link in joined


def test_small_day_formats():
    d = build_digest(day_record(), topics=TOPICS, labels=LABELS, site_url=SITE)
    tg = F.build_messages(_channel("telegram"), d, NOW)
    assert len(tg) == 1 and tg[0]["parse_mode"] == "HTML" and tg[0]["chat_id"] == "42"
    assert '<a href="https://example.org/blog/2026/01/07/arxiv.html#2601-00001">Paper 1 on speech &amp; &lt;audio&gt; [v1]</a>' in tg[0]["text"]
    slack = F.build_messages(_channel("slack"), d, NOW)[0]
    assert slack["blocks"][0]["type"] == "header" and DAY in slack["text"]
    assert "<https://example.org/blog/2026/01/07/arxiv.html#2601-00002|Paper 2 on speech &amp; &lt;audio&gt; [v2]>" \
        in json.dumps(slack, ensure_ascii=False)
    feishu = F.build_messages(_channel("feishu"), d, NOW)[0]
    assert feishu["msg_type"] == "interactive" and feishu["card"]["elements"][0]["tag"] == "markdown"
    assert "[Paper 3 on speech & <audio> ［v3］](https://example.org/blog/2026/01/07/arxiv.html#2601-00003) · 语音合成 / 编解码" \
        in feishu["card"]["elements"][0]["content"]
    assert "主题：语音识别 1 · 语音合成 2" in feishu["card"]["elements"][0]["content"]
    ding = F.build_messages(_channel("dingtalk"), d, NOW)[0]
    assert ding["msgtype"] == "markdown" and ding["markdown"]["title"].endswith(DAY)
    wecom = F.build_messages(_channel("wecom"), d, NOW)[0]
    assert wecom["msgtype"] == "markdown" and "2601-00005" in wecom["markdown"]["content"]
    discord = F.build_messages(_channel("discord"), d, NOW)[0]
    assert discord["allowed_mentions"] == {"parse": []} and discord["embeds"][0]["url"] == d.post_url


# ------------------------------------------------------------------ acceptance: SMTP + feishu + slack, reruns


def test_complete_day_then_three_reruns_send_once(smtp_server, receiver, capsys):
    sink, port = smtp_server
    env = env_for(receiver)
    cfg = parse_notify_config({"channels": [
        email_channel(port),
        {"name": "fs", "kind": "feishu", "url_env": "FEISHU_URL", "secret_env": "FEISHU_SECRET"},
        {"name": "sl", "kind": "slack", "url_env": "SLACK_URL"},
    ]})
    rec = day_record()
    record_sent: dict[str, str] = {}
    outcomes = []
    for _ in range(4):  # the completing run, then three reruns
        o = run(rec, cfg, env, record_sent)
        outcomes.append(o)
        record_sent = o.merged(record_sent)
    assert outcomes[0].sent == {"mail": NOW.isoformat(timespec="seconds"), "fs": NOW.isoformat(timespec="seconds"),
                                "sl": NOW.isoformat(timespec="seconds")}
    assert all(o.sent == {} and set(o.skipped) == {"mail", "fs", "sl"} for o in outcomes[1:])
    assert not any(o.warnings for o in outcomes)

    assert sink.per_recipient() == {"a@example.org": 1, "b@example.org": 1}
    assert sink.logins == [(SMTP_USER.encode(), SMTP_PASSWORD.encode())]
    mail = email.message_from_bytes(sink.mails[0][1], policy=email.policy.default)
    assert DAY in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    d = build_digest(rec, topics=TOPICS, labels=LABELS, site_url=SITE)
    for p in d.papers:
        assert p.title in text and p.link in text
        assert p.title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in html
        assert f'href="{p.link}"' in html

    fs, sl = receiver.posts("feishu"), receiver.posts("slack")
    assert len(fs) == 1 and len(sl) == 1
    fbody, sbody = json.loads(fs[0].body), json.loads(sl[0].body)
    assert fbody["msg_type"] == "interactive" and len(fs[0].body) <= F.FEISHU_BODY_LIMIT
    # Feishu signature: base64(HmacSHA256(key=timestamp + "\n" + secret, message="")).
    want = base64.b64encode(hmac.new(f"{fbody['timestamp']}\n{FEISHU_SECRET}".encode(), b"",
                                     hashlib.sha256).digest()).decode()
    assert fbody["sign"] == want and fbody["timestamp"] == str(int(NOW.timestamp()))
    assert sbody["blocks"][0]["type"] == "header" and _fits("slack", sbody)
    for p in d.papers:
        assert p.link in fs[0].body.decode() and p.link in sl[0].body.decode()

    out = capsys.readouterr()
    assert_no_secret(out.out, out.err, *(outcome_text(o) for o in outcomes), json.dumps(record_sent),
                     *(json.dumps(json.loads(r.body)) for r in receiver.requests))


def test_first_answer_500_is_a_warning_and_the_next_run_delivers_once(receiver):
    env = env_for(receiver)
    cfg = parse_notify_config({"channels": [{"name": "sl", "kind": "slack", "url_env": "SLACK_URL"},
                                            {"name": "fs", "kind": "feishu", "url_env": "FEISHU_URL"}]})
    # The error page echoes the URL it was called on, token and all.
    receiver.fail_next(Reply(500, f"internal error at /slack/{SLACK_TOKEN}".encode()))
    rec = day_record()
    first = run(rec, cfg, env)
    assert first.eligible and list(first.sent) == ["fs"] and list(first.failed) == ["sl"]
    assert "HTTP 500" in first.failed["sl"] and "***" in first.failed["sl"]
    assert len(first.warnings) == 1 and "sl (slack)" in first.warnings[0] and "next run" in first.warnings[0]
    second = run(rec, cfg, env, first.merged({}))
    assert list(second.sent) == ["sl"] and not second.warnings and "fs" in second.skipped
    third = run(rec, cfg, env, second.merged(first.merged({})))
    assert third.sent == {}
    slack_posts = receiver.posts("slack")
    assert len(slack_posts) == 2  # the failed one, then exactly one delivery
    assert len(receiver.posts("feishu")) == 1
    assert_no_secret(outcome_text(first), outcome_text(second), *summary_lines(first, DAY))


def test_topic_channel_lists_exactly_the_tts_papers(receiver):
    env = env_for(receiver)
    cfg = parse_notify_config({"channels": [
        {"name": "tts-hook", "kind": "webhook", "url_env": "HOOK_URL", "topics": ["tts"]},
        {"name": "tts-slack", "kind": "slack", "url_env": "SLACK_URL", "topics": ["tts"]},
        {"name": "music-kw", "kind": "webhook", "url_env": "HOOK_URL", "keywords": ["opera"]},
    ]})
    o = run(day_record(), cfg, env)
    assert set(o.sent) == {"tts-hook", "tts-slack"}
    assert o.skipped == {"music-kw": "no paper matches the channel's filters"}
    (hook,) = receiver.posts("webhook")
    body = json.loads(hook.body)
    assert [p["id"] for p in body["papers"]] == ["2601.00002v1", "2601.00003v1"]
    assert body["date"] == DAY and body["counts"] == {"fetched": 5, "shown": 5, "papers": 2}
    assert body["topics"][0] == {"slug": "tts", "label": "语音合成", "count": 2}
    assert body["papers"][1] == {"id": "2601.00003v1", "title": "Paper 3 on speech & <audio> [v3]", "title_zh": "",
                                 "link": f"{SITE}/2026/01/07/arxiv.html#2601-00003", "topics": ["tts", "codec"]}
    slack = receiver.posts("slack")[0].body.decode()
    assert "2601-00002" in slack and "2601-00003" in slack
    assert not any(f"2601-0000{i}" in slack for i in (1, 4, 5))


# ------------------------------------------------------------------ eligibility, by hand, dry run


def test_nothing_is_sent_until_every_paper_is_translated(receiver):
    env = env_for(receiver)
    cfg = parse_notify_config({"channels": [{"name": "sl", "kind": "slack", "url_env": "SLACK_URL"}]})
    rec = day_record()
    rec.papers[3].translation = TaskResult(status="failed", error="model down")
    o = run(rec, cfg, env)
    assert not o.eligible and o.sent == {} and "1 of 5 papers not translated" in o.reason
    assert receiver.requests == []
    # By hand it goes out anyway, with a warning.
    by_hand = run(rec, cfg, env, by_hand=True)
    assert list(by_hand.sent) == ["sl"] and "sending anyway" in by_hand.warnings[0]
    assert len(receiver.requests) == 1
    assert run(rec, NotifyConfig(), env).reason == "no notify channels configured"


def test_by_hand_one_channel_resends_and_dry_run_sends_nothing(receiver):
    env = env_for(receiver)
    cfg = parse_notify_config({"channels": [{"name": "sl", "kind": "slack", "url_env": "SLACK_URL"},
                                            {"name": "tg", "kind": "telegram", "token_env": "TG_TOKEN",
                                             "chat_id": 42, "api_url": receiver.url}]})
    rec = day_record()
    sent = {"sl": "2026-01-07T01:00:00+00:00", "tg": "2026-01-07T01:00:00+00:00"}
    dry = run(rec, cfg, env, sent, dry_run=True, by_hand=True)
    assert receiver.requests == [] and dry.sent == {} and len(dry.previews) == 2
    assert "Paper 5 on speech" in dry.previews[0] and '"parse_mode": "HTML"' in dry.previews[1]
    again = run(rec, cfg, env, sent, only="tg", by_hand=True)
    assert list(again.sent) == ["tg"]
    (tg,) = receiver.requests
    assert tg.path == f"/bot{TG_TOKEN}/sendMessage" and json.loads(tg.body)["chat_id"] == "42"
    with pytest.raises(ConfigError, match='no channel named "nope"'):
        run(rec, cfg, env, only="nope")
    assert_no_secret(outcome_text(dry), outcome_text(again))


def test_dingtalk_signature_and_wecom_discord_deliveries(receiver):
    env = env_for(receiver)
    cfg = parse_notify_config({"channels": [
        {"name": "dt", "kind": "dingtalk", "url_env": "DING_URL", "secret_env": "DING_SECRET"},
        {"name": "wc", "kind": "wecom", "url_env": "WECOM_URL"},
        {"name": "dc", "kind": "discord", "url_env": "DISCORD_URL"},
    ]})
    o = run(day_record(), cfg, env)
    assert set(o.sent) == {"dt", "wc", "dc"}, o.failed
    (dt,) = receiver.posts("dingtalk")
    ts = dt.query["timestamp"][0]
    assert ts == str(int(NOW.timestamp() * 1000)) and dt.query["access_token"] == [DING_TOKEN]
    mac = hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(), hashlib.sha256).digest()
    assert dt.query["sign"] == [base64.b64encode(mac).decode()]
    assert json.loads(dt.body)["msgtype"] == "markdown"
    assert json.loads(receiver.posts("wecom")[0].body)["msgtype"] == "markdown"
    assert "embeds" in json.loads(receiver.posts("discord")[0].body)


# ------------------------------------------------------------------ failures never leak secrets


def test_failures_are_one_line_and_redacted(smtp_server, receiver, capsys):
    sink, port = smtp_server
    env = env_for(receiver)
    env["SMTP_PASS"] = SMTP_PASSWORD + "-wrong"
    closed = free_port()
    env["HOOK_URL"] = f"http://127.0.0.1:{closed}/webhook/{HOOK_TOKEN}"  # nothing listens there
    env.pop("WECOM_URL")
    cfg = parse_notify_config({"channels": [
        email_channel(port),
        {"name": "hook", "kind": "webhook", "url_env": "HOOK_URL", "timeout_seconds": 5},
        {"name": "wc", "kind": "wecom", "url_env": "WECOM_URL"},
        {"name": "fs", "kind": "feishu", "url_env": "FEISHU_URL"},
        {"name": "tg", "kind": "telegram", "token_env": "TG_TOKEN", "chat_id": "1", "api_url": receiver.url},
    ]})
    # Feishu answers 200 with an error code; Telegram refuses the chat.
    receiver.fail_next(Reply(200, json.dumps({"code": 19036, "msg": "message exceeds 30KB"}).encode(),
                             "application/json"),
                       Reply(400, json.dumps({"ok": False, "error_code": 400,
                                              "description": f"chat not found for bot{TG_TOKEN}"}).encode()))
    o = run(day_record(), cfg, env)
    assert o.sent == {} and set(o.failed) == {"mail", "hook", "wc", "fs", "tg"}
    assert "SMTP login refused (535)" in o.failed["mail"]
    assert o.failed["wc"] == "environment variable WECOM_URL is not set"
    assert "code 19036" in o.failed["fs"]
    assert "HTTP 400" in o.failed["tg"] and "***" in o.failed["tg"]
    assert "ConnectError" in o.failed["hook"]
    assert all("\n" not in w for w in o.warnings) and len(o.warnings) == 5
    assert sink.mails == []
    out = capsys.readouterr()
    assert_no_secret(outcome_text(o), out.out, out.err)


def test_no_secret_in_any_file_written(tmp_path, receiver):
    """What the pipeline would store (the record's sent map, previews, warnings) holds no secret."""
    env = env_for(receiver)
    cfg = parse_notify_config({"channels": [{"name": "sl", "kind": "slack", "url_env": "SLACK_URL"}]})
    rec = day_record()
    o = run(rec, cfg, env)
    (tmp_path / "record.json").write_text(json.dumps({**rec.model_dump(mode="json"), "notified": o.sent}))
    (tmp_path / "log.txt").write_text("\n".join(summary_lines(o, DAY) + o.warnings))
    for f in tmp_path.iterdir():
        assert_no_secret(f.read_text())


# ------------------------------------------------------------------ STARTTLS and SSL with a local certificate


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("cert")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, crt


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_modes_with_login(cert, receiver, security):
    key, crt = cert
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(crt), str(key))
    kwargs: dict[str, Any] = {"tls_context": server_ctx} if security == "starttls" else {"ssl_context": server_ctx}
    # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; implicit TLS is checked through session.ssl below.
    with start_smtp(SMTP_USER, SMTP_PASSWORD, auth_require_tls=security == "starttls", **kwargs) as (sink, port):
        client_ctx = ssl.create_default_context(cafile=str(crt))
        cfg = parse_notify_config({"channels": [email_channel(port, security=security)]})
        with httpx.Client() as http:
            o = notify_day(day_record(), cfg, delivery=Delivery(environ=env_for(receiver), http=http, clock=clock,
                                                               smtp_factory=smtp_connector(client_ctx)),
                           content=MessageContent(site_url=SITE))
        assert list(o.sent) == ["mail"], o.failed
        assert sink.per_recipient() == {"a@example.org": 1, "b@example.org": 1}
        assert sink.tls == [True] and sink.logins == [(SMTP_USER.encode(), SMTP_PASSWORD.encode())]
        # The default context does not trust the self-signed certificate: a warning, not a crash.
        with httpx.Client() as http:
            bad = notify_day(day_record(), cfg, delivery=Delivery(environ=env_for(receiver), http=http, clock=clock))
        assert list(bad.failed) == ["mail"] and "CERTIFICATE_VERIFY_FAILED" in bad.failed["mail"]



# ------------------------------------------------------------------ `digest notify` by hand


def test_notify_command_prints_sends_and_reports(receiver):
    from digest.publish.notify import notify_command

    env = env_for(receiver)
    cfg = parse_notify_config({"channels": [{"name": "sl", "kind": "slack", "url_env": "SLACK_URL"},
                                            {"name": "hook", "kind": "webhook", "url_env": "HOOK_URL"}]})
    rec = day_record()
    lines: list[str] = []
    seen: list[str] = []  # everything printed, for the secret scan

    def echo(text: str) -> None:
        lines.append(text)
        seen.append(text)

    kw: dict[str, Any] = dict(send=(Delivery(environ=env, clock=clock),
                                    MessageContent(topics=TOPICS, labels=LABELS, site_url=SITE)), echo=echo)
    code, sent = notify_command(rec, cfg, already_sent={}, mode=Mode(dry_run=True), **kw)
    assert code == 0 and sent == {} and receiver.requests == []
    assert any("== sl (slack): 1 message" in x for x in lines) and any('"date": "2026-01-07"' in x for x in lines)
    lines.clear()
    receiver.fail_next(Reply(500))
    code, sent = notify_command(rec, cfg, already_sent={}, **kw)
    assert code == 1 and list(sent) == ["hook"]
    assert lines[0].startswith("notify 2026-01-07: channel sl (slack) not sent: HTTP 500")
    assert lines[1] == f"2026-01-07: sent to hook at {NOW.isoformat(timespec='seconds')}"
    lines.clear()
    code, sent = notify_command(rec, cfg, already_sent=sent, **kw)
    assert code == 0 and set(sent) == {"hook", "sl"}
    assert lines == [f"2026-01-07: sent to sl at {NOW.isoformat(timespec='seconds')}",
                     f"2026-01-07: hook skipped (already sent at {NOW.isoformat(timespec='seconds')})"]
    assert len(receiver.posts("webhook")) == 1 and len(receiver.posts("slack")) == 2
    assert_no_secret(*seen)


def test_telegram_sends_every_chunk_in_order(receiver):
    env = env_for(receiver)
    cfg = parse_notify_config({"channels": [{"name": "tg", "kind": "telegram", "token_env": "TG_TOKEN",
                                             "chat_id": "42", "api_url": receiver.url}]})
    rec = day_record(120, title_len=40)
    o = run(rec, cfg, env)
    assert list(o.sent) == ["tg"]
    bodies = [json.loads(r.body) for r in receiver.requests]
    assert len(bodies) > 1 and all(len(b["text"]) <= F.TELEGRAM_TEXT_LIMIT for b in bodies)
    assert all(b["parse_mode"] == "HTML" and b["chat_id"] == "42" for b in bodies)
    joined = "".join(b["text"] for b in bodies)
    anchors = [f"#2601-{i:05d}\"" for i in range(1, 121)]
    positions = [joined.index(a) for a in anchors]
    assert positions == sorted(positions)  # every paper once, in order across the chunks
    assert "（续 2）" in bodies[1]["text"]


def test_an_overlong_title_is_cut_to_fit_the_smallest_limit():
    rec = day_record(1)
    rec.papers[0].title = "Speech " * 800
    d = build_digest(rec, site_url=SITE)
    assert len(d.papers[0].title) <= 300 and d.papers[0].title.endswith("…")
    (wecom,) = F.build_messages(_channel("wecom"), d, NOW)
    assert _fits("wecom", wecom) and d.papers[0].link in wecom["markdown"]["content"]


def test_unreachable_smtp_server_is_a_warning(receiver):
    cfg = parse_notify_config({"channels": [email_channel(free_port(), timeout_seconds=5)]})
    o = run(day_record(), cfg, env_for(receiver))
    assert o.sent == {} and o.failed["mail"].startswith("cannot reach 127.0.0.1:")
    assert_no_secret(outcome_text(o))


# ------------------------------------------------------------------ Chinese titles and gists (issue 22)


def test_first_sentence_ends_at_the_first_chinese_stop():
    from digest.publish.notify.message import first_sentence

    assert first_sentence("我们提出 A 方法。它在 3.5 秒内完成！结果很好？") == "我们提出 A 方法。"
    assert first_sentence("方法真的有效吗？是的。") == "方法真的有效吗？"
    assert first_sentence("没有句号的一段话\n\n第二段。") == "没有句号的一段话"
    assert first_sentence("  第一行\n接着一行。后面。") == "第一行 接着一行。"
    assert first_sentence("") == ""


def test_mail_carries_each_chinese_title_and_the_first_sentence(smtp_server, receiver):
    sink, port = smtp_server
    rec = day_record(5, zh_len=0)
    rec.papers[4].set_title_zh(None)  # a paper the title step has not reached: its English title alone
    o = run(rec, parse_notify_config({"channels": [email_channel(port)]}), env_for(receiver))
    assert o.sent and not o.warnings
    mail = email.message_from_bytes(sink.mails[0][1], policy=email.policy.default)
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for i in range(1, 6):
        block = text.split(f"{i}. Paper {i} on speech")[1].split("\n\n")[0]
        assert zh_gist(i) in block  # the first sentence of the Chinese abstract, under the title
        assert "第二句" not in block
        assert (zh_title(i) in block) == (i != 5)
        assert zh_gist(i) in html
        assert (zh_title(i).replace("<", "&lt;").replace(">", "&gt;") in html) == (i != 5)
    assert "第二句" not in text and "第二句" not in html and "<音频>" not in html


@pytest.mark.parametrize("kind", list(KINDS))
def test_chat_messages_carry_each_chinese_title(kind):
    d = build_digest(day_record(5, zh_len=0), topics=TOPICS, labels=LABELS, site_url=SITE)
    msgs = F.build_messages(_channel(kind), d, NOW)
    text = json.dumps(msgs, ensure_ascii=False)
    esc = {"telegram": "&lt;音频&gt;", "slack": "&lt;音频&gt;"}.get(kind, "<音频>")
    for i, p in enumerate(d.papers, 1):
        assert zh_title(i).replace("<音频>", esc) in text and p.link in text
    assert "本文" not in text  # the gist is the mail's; chat messages stay short
    # The Chinese title sits under its own English title, not under another paper's.
    first, second = text.index(zh_title(1).replace("<音频>", esc)), text.index("Paper 2 on speech")
    assert text.index("Paper 1 on speech") < first < second


@pytest.mark.parametrize("kind", list(KINDS))
def test_big_day_with_long_chinese_titles_stays_within_the_limit(kind):
    rec = day_record(400, title_len=60, zh_len=400)  # Chinese titles over the cap: cut, and the day shortened
    d = build_digest(rec, topics=TOPICS, labels=LABELS, site_url=SITE)
    assert all(len(p.title_zh) <= 150 and p.title_zh.endswith("…") for p in d.papers)
    msgs = F.build_messages(_channel(kind), d, NOW)
    assert all(_fits(kind, m) for m in msgs)
    text = json.dumps(msgs, ensure_ascii=False)
    listed = [int(p.id[5:10]) for p in d.papers if p.link in text]
    plain = text.replace("&lt;音频&gt;", "<音频>")  # Telegram and Slack escape the brackets
    assert listed and all(zh_title(i) in plain for i in listed)
    assert len(listed) >= 3 and not any(zh_title(i) in plain for i in set(range(1, 401)) - set(listed))
    if kind == "telegram":
        assert len(listed) == len(d.papers)


def test_one_paper_with_both_titles_at_their_caps_fits_wecom():
    rec = day_record(1, zh_len=1000)
    rec.papers[0].title = "语音" * 800  # a title of Chinese characters: 3 bytes each, the worst case
    d = build_digest(rec, site_url=SITE)
    (wecom,) = F.build_messages(_channel("wecom"), d, NOW)
    assert _fits("wecom", wecom) and d.papers[0].link in wecom["markdown"]["content"]
    assert d.papers[0].title_zh in wecom["markdown"]["content"]


def test_webhook_json_has_the_chinese_title():
    d = build_digest(day_record(2, zh_len=0), topics=TOPICS, labels=LABELS, site_url=SITE)
    body = F.render_webhook(d)
    assert [p["title_zh"] for p in body["papers"]] == [zh_title(1), zh_title(2)]
