"""Notifications through the real CLI (issue 17 acceptance): `digest run`, `backfill` and `notify` against the arXiv,
PDF and chat stand-ins, a real SMTP server (aiosmtpd) and a webhook receiver, all on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from digest.core.config import parse_config
from digest.core.errors import ConfigError
from digest.core.record import DayRecord
from digest.core.store import load_record
from digest.publish.notify import formats as F
from digest.publish.notify import notify_day
from digest.publish.notify.core import Delivery, Mode
from digest.publish.notify.hook import load_topics, site_anchors, topics_of
from digest.standins.arxiv_server import ArxivStandIn, make_paper
from digest.standins.base import Reply, Request, StandIn
from digest.standins.chat_server import ChatStandIn
from digest.standins.pdf_host import PdfHost
from digest.standins.pdfgen import make_paper_pdf
from helpers import digest_cli, make_entry, make_record, write_config
from smtp_kit import smtp_server as start_smtp

DAY = "2026-01-07"
KEY = "sk-notify-wired-test-key-0000"
SMTP_USER = "mailer-user-5512"
SMTP_PASSWORD = "pw-SECRET-wired-c4d2"
FEISHU_TOKEN = "fs-TOKEN-wired-71aa"
FEISHU_SECRET = "fs-signsecret-wired-08"
SLACK_TOKEN = "sl-TOKEN-wired-9e3b"
HOOK_TOKEN = "wh-TOKEN-wired-4c4c"
MARKERS = [SMTP_PASSWORD, FEISHU_TOKEN, FEISHU_SECRET, SLACK_TOKEN, HOOK_TOKEN]

# (title, abstract): two text-to-speech papers among others, so a `topics: [tts]` channel has something to drop.
PAPERS = [
    ("Zero-Shot Text-to-Speech Synthesis with Flow Matching",
     "We propose a TTS model that synthesizes natural speech from text."),
    ("Streaming Speech Recognition for Low-Resource Languages",
     "We improve automatic speech recognition word error rate."),
    ("Expressive Speech Synthesis with Prosody Control",
     "A text-to-speech system with controllable prosody and a neural vocoder."),
    ("Music Generation from Text Prompts", "We generate music audio with a diffusion model."),
    ("Speaker Verification under Noise", "Speaker embeddings for verification."),
]


def day_papers() -> list:
    # Submitted inside the 2026-01-07 window (08:50 Asia/Shanghai = 00:50 UTC), basis `submitted`.
    end = datetime(2026, 1, 7, 0, 50, tzinfo=UTC)
    return [make_paper(f"2601.{20001 + k}v1", end - timedelta(hours=2 + 3 * k), title=t, abstract=a,
                       categories=["cs.SD"]) for k, (t, a) in enumerate(PAPERS)]


def previous_day_papers() -> list:
    end = datetime(2026, 1, 6, 0, 50, tzinfo=UTC)
    return [make_paper(f"2601.{20101 + k}v1", end - timedelta(hours=3 + 4 * k), categories=["eess.AS"],
                       title=f"Speech Enhancement Study {k}", abstract="We denoise speech with a neural network.")
            for k in range(2)]


# ------------------------------------------------------------------ receivers


class Receiver(StandIn):
    """Chat webhooks (Feishu answers its JSON code, the others plain 200) and a generic JSON webhook."""

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/feishu/"):
            return Reply(200, json.dumps({"code": 0, "msg": "success"}).encode(), "application/json")
        return Reply(200, b"ok")

    def posts(self, kind: str) -> list[Request]:
        return [r for r in self.requests if r.path.startswith(f"/{kind}/")]


@pytest.fixture
def smtp_server():
    with start_smtp(SMTP_USER, SMTP_PASSWORD) as server:
        yield server


@pytest.fixture
def stand_ins():
    papers = day_papers() + previous_day_papers()
    pdf = make_paper_pdf("Notify paper", pages=2)
    with ArxivStandIn(papers) as arxiv, PdfHost({p.id: pdf for p in papers}) as host, ChatStandIn() as chat, \
            Receiver() as recv:
        yield SimpleNamespace(arxiv=arxiv, host=host, chat=chat, recv=recv)


def channel_env(recv: Receiver) -> dict[str, str]:
    return {
        "DIGEST_TEST_KEY": KEY,
        "SMTP_USER": SMTP_USER,
        "SMTP_PASS": SMTP_PASSWORD,
        "FEISHU_URL": f"{recv.url}/feishu/hook/{FEISHU_TOKEN}",
        "FEISHU_SECRET": FEISHU_SECRET,
        "SLACK_URL": f"{recv.url}/slack/services/{SLACK_TOKEN}",
        "HOOK_URL": f"{recv.url}/webhook/{HOOK_TOKEN}",
    }


def mail_channel(port: int) -> dict[str, Any]:
    return {"name": "team-mail", "kind": "email", "smtp_host": "127.0.0.1", "smtp_port": port, "security": "none",
            "from": "Digest <digest@example.org>", "to": ["alice@example.org", "bob@example.org"],
            "username_env": "SMTP_USER", "password_env": "SMTP_PASS"}


FEISHU = {"name": "lab-feishu", "kind": "feishu", "url_env": "FEISHU_URL", "secret_env": "FEISHU_SECRET"}
SLACK = {"name": "lab-slack", "kind": "slack", "url_env": "SLACK_URL"}
TTS_HOOK = {"name": "tts-only", "kind": "webhook", "url_env": "HOOK_URL", "topics": ["tts"]}


def configure(site: Path, s: SimpleNamespace, channels: list[dict[str, Any]]) -> None:
    write_config(
        site,
        arxiv={"api_url": s.arxiv.api_url, "listing_url": s.arxiv.listing_url,
               "pdf_download_url": s.host.pdf_url, "html_download_url": s.host.html_url},
        window={"basis": "submitted"},
        llm={"base_url": s.chat.base_url, "api_key_env": "DIGEST_TEST_KEY", "model": "stand-in", "max_retries": 1},
        notify={"channels": channels},
    )


def digest(site: Path, s: SimpleNamespace, *args: str, env: dict[str, str] | None = None):
    return digest_cli(site, *args, env=env or channel_env(s.recv))


def record_of(site: Path, day: str = DAY) -> DayRecord:
    record = load_record(site / "_data" / "digest", day)
    assert record is not None
    return record


def assert_no_secret_anywhere(site: Path, *outputs: str) -> None:
    """No secret marker in any file under the site (posts, records, cache, config) nor in any output."""
    for path in site.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for m in MARKERS:
                assert m.encode() not in data, f"secret {m!r} in {path}"
    for text in outputs:
        for m in MARKERS:
            assert m not in text, f"secret {m!r} in the output: {text[:400]!r}"


def mail_parts(raw: bytes) -> tuple[str, str, str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    plain = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    assert plain is not None and html_part is not None, "expected a plain-text and an HTML part"
    return str(msg["Subject"]), plain.get_content(), html_part.get_content()


# ------------------------------------------------------------------ acceptance


def test_complete_day_then_three_reruns_send_once_per_channel(tmp_path, smtp_server, stand_ins):
    sink, port = smtp_server
    s = stand_ins
    configure(tmp_path, s, [mail_channel(port), FEISHU, SLACK, TTS_HOOK])
    outputs = []
    first = digest(tmp_path, s, "run", "--date", DAY)
    outputs += [first.stdout, first.stderr]
    assert first.returncode == 0, first.stderr
    post = tmp_path / "_posts" / f"{DAY}-arxiv.md"
    post_bytes = post.read_bytes()
    for _ in range(3):
        again = digest(tmp_path, s, "run", "--date", DAY)
        outputs += [again.stdout, again.stderr]
        assert again.returncode == 0, again.stderr
    assert post.read_bytes() == post_bytes  # sending never rewrites the post

    record = record_of(tmp_path)
    assert len(record.papers) == len(PAPERS)
    assert all(e.translation is not None and e.translation.status == "done" for e in record.papers)
    assert sorted(record.notified) == ["lab-feishu", "lab-slack", "team-mail", "tts-only"]

    # Mail: exactly one per recipient; the subject carries the date; both parts hold every title and link.
    assert sink.per_recipient() == {"alice@example.org": 1, "bob@example.org": 1}
    assert len(sink.mails) == 1
    subject, plain, html_text = mail_parts(sink.mails[0][1])
    assert DAY in subject
    for e in record.papers:
        assert e.title in plain and e.title in html_text, e.title
        assert e.abs_url in plain and e.abs_url in html_text, e.abs_url  # no site URL configured: arXiv links

    # Feishu and Slack: exactly one POST each, in the platform's format and within its size limit.
    feishu, slack = s.recv.posts("feishu"), s.recv.posts("slack")
    assert len(feishu) == 1 and len(slack) == 1
    card = json.loads(feishu[0].body)
    assert card["msg_type"] == "interactive" and card["card"]["elements"][0]["tag"] == "markdown"
    assert {"timestamp", "sign"} <= set(card)  # signed with the secret from FEISHU_SECRET
    assert len(feishu[0].body) <= F.FEISHU_BODY_LIMIT
    blocks = json.loads(slack[0].body)
    assert blocks["blocks"][0]["type"] == "header" and F._fits_slack(blocks)
    for e in record.papers:
        assert e.title in card["card"]["elements"][0]["content"]
        assert e.abs_url in slack[0].body.decode()

    # The tts channel lists exactly the day's papers that carry the tts topic.
    carry = topics_of(load_topics(parse_config({})))
    tts = {e.id for e in record.papers if "tts" in carry(e)}
    assert tts and tts != {e.id for e in record.papers}
    hooks = s.recv.posts("webhook")
    assert len(hooks) == 1
    day = json.loads(hooks[0].body)
    assert day["date"] == DAY and {p["id"] for p in day["papers"]} == tts
    assert all("tts" in p["topics"] for p in day["papers"])

    assert_no_secret_anywhere(tmp_path, *outputs)


def test_first_answer_500_is_a_warning_and_the_next_run_delivers_once(tmp_path, stand_ins):
    s = stand_ins
    configure(tmp_path, s, [FEISHU, SLACK])
    # Before the post is complete (no model: English abstracts) nothing is sent at all.
    early = digest(tmp_path, s, "run", "--date", DAY, "--no-llm")
    assert early.returncode == 0, early.stderr
    assert s.recv.posts("feishu") == [] and s.recv.posts("slack") == [] and record_of(tmp_path).notified == {}

    s.recv.fail_next(Reply(500, b"internal error"))  # the first POST (Feishu's) fails
    first = digest(tmp_path, s, "run", "--date", DAY)
    assert first.returncode == 0, first.stderr
    assert "warning:" in first.stderr and "lab-feishu" in first.stderr and "HTTP 500" in first.stderr
    assert "next run" in first.stderr
    assert len(s.recv.posts("feishu")) == 1 and len(s.recv.posts("slack")) == 1
    assert sorted(record_of(tmp_path).notified) == ["lab-slack"]

    second = digest(tmp_path, s, "run", "--date", DAY)
    assert second.returncode == 0, second.stderr
    assert "warning:" not in second.stderr
    assert len(s.recv.posts("feishu")) == 2  # the failed one, then exactly one delivery
    assert len(s.recv.posts("slack")) == 1
    assert sorted(record_of(tmp_path).notified) == ["lab-feishu", "lab-slack"]

    third = digest(tmp_path, s, "run", "--date", DAY)
    assert third.returncode == 0 and len(s.recv.posts("feishu")) == 2 and len(s.recv.posts("slack")) == 1
    assert_no_secret_anywhere(tmp_path, early.stderr, first.stdout, first.stderr, second.stderr, third.stderr)


def test_backfill_sends_only_with_notify(tmp_path, smtp_server, stand_ins):
    sink, port = smtp_server
    s = stand_ins
    configure(tmp_path, s, [mail_channel(port), SLACK])
    quiet = digest(tmp_path, s, "backfill", "2026-01-06", DAY)
    assert quiet.returncode == 0, quiet.stderr
    assert sink.mails == [] and s.recv.posts("slack") == []
    assert record_of(tmp_path, "2026-01-06").notified == {} and record_of(tmp_path).notified == {}
    posts = {p: p.read_bytes() for p in (tmp_path / "_posts").glob("*.md")}
    assert len(posts) == 2

    loud = digest(tmp_path, s, "backfill", "2026-01-06", DAY, "--notify")
    assert loud.returncode == 0, loud.stderr
    # Both (complete, so skipped) days are sent: one mail per recipient per day, one Slack POST per day.
    assert sink.per_recipient() == {"alice@example.org": 2, "bob@example.org": 2}
    subjects = sorted(mail_parts(raw)[0] for _, raw in sink.mails)
    assert "2026-01-06" in subjects[0] and DAY in subjects[1]
    assert len(s.recv.posts("slack")) == 2
    for day in ("2026-01-06", DAY):
        assert sorted(record_of(tmp_path, day).notified) == ["lab-slack", "team-mail"]
    assert {p: p.read_bytes() for p in (tmp_path / "_posts").glob("*.md")} == posts

    again = digest(tmp_path, s, "backfill", "2026-01-06", DAY, "--notify")
    assert again.returncode == 0 and len(sink.mails) == 2 and len(s.recv.posts("slack")) == 2
    assert_no_secret_anywhere(tmp_path, quiet.stderr, loud.stdout, loud.stderr, again.stderr)


def test_notify_command_dry_run_resend_and_errors(tmp_path, stand_ins):
    s = stand_ins
    configure(tmp_path, s, [SLACK, TTS_HOOK])
    assert digest(tmp_path, s, "run", "--date", DAY, "--no-llm").returncode == 0
    records = tmp_path / "_data" / "digest"
    before = (records / f"{DAY}.json").read_bytes()

    dry = digest(tmp_path, s, "notify", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert s.recv.requests == [] and (records / f"{DAY}.json").read_bytes() == before
    assert "lab-slack" in dry.stdout and "tts-only" in dry.stdout and "Zero-Shot Text-to-Speech" in dry.stdout
    assert "not translated" in dry.stderr  # by hand, an incomplete day is sent (or shown) with a warning

    sent = digest(tmp_path, s, "notify", "--date", DAY, "--channel", "lab-slack")
    assert sent.returncode == 0, sent.stderr
    assert len(s.recv.posts("slack")) == 1 and s.recv.posts("webhook") == []
    assert sorted(record_of(tmp_path).notified) == ["lab-slack"]
    again = digest(tmp_path, s, "notify", "--channel", "lab-slack")  # --channel sends that one again
    assert again.returncode == 0 and len(s.recv.posts("slack")) == 2

    missing_var = digest(tmp_path, s, "notify", "--channel", "tts-only", env={"DIGEST_TEST_KEY": KEY})
    assert missing_var.returncode == 1
    assert "environment variable HOOK_URL is not set" in missing_var.stderr + missing_var.stdout
    unknown = digest(tmp_path, s, "notify", "--channel", "nope")
    assert unknown.returncode == 2 and 'no channel named "nope"' in unknown.stderr
    assert "Traceback" not in unknown.stderr + missing_var.stderr
    no_day = digest(tmp_path, s, "notify", "--date", "2026-01-02")
    assert no_day.returncode == 2 and "no record for 2026-01-02" in no_day.stderr
    assert_no_secret_anywhere(tmp_path, dry.stdout, dry.stderr, sent.stdout, sent.stderr, again.stdout)


# ------------------------------------------------------------------ pieces


def test_config_section_errors_name_the_key_and_never_echo_a_secret():
    url = f"https://hooks.slack.com/services/T000/B000/{SLACK_TOKEN}"
    cases = [
        ({"notify": {"channels": [{"name": "s", "kind": "slack", "url_env": url}]}},
         "config.yaml: notify.channels[0].url_env: expected the NAME of an environment variable"),
        ({"notify": {"chanels": []}}, "config.yaml: notify.chanels: unknown key"),
        ({"notify": {"channels": [{"name": "s", "kind": "pager"}]}}, "config.yaml: notify.channels[0]: kind:"),
        ({"notify": ["x"]}, "config.yaml: notify: expected a mapping of keys"),
        ({"notfy": {}}, "config.yaml: notfy: unknown key (did you mean notify?"),
    ]
    for data, expected in cases:
        with pytest.raises(ConfigError) as err:
            parse_config(data)
        assert str(err.value).startswith(expected), str(err.value)
        assert SLACK_TOKEN not in str(err.value) and "\n" not in str(err.value)
    assert parse_config({}).notify.channels == []
    assert parse_config({"notify": None}).notify.channels == []


def test_links_go_to_the_sites_anchors_when_the_site_has_a_url():
    from digest.site.build import day_page, markdown_renderer

    entries = [make_entry("2601.20001v2", title="Zero-Shot Text-to-Speech Synthesis"),
               make_entry("2601.20002v1", title="Speech Recognition"),
               make_entry("cs/0112017v1", title="An old-style id")]
    record = make_record(entries, DAY)
    page = day_page(record, markdown_renderer(), "{date}")
    assert list(site_anchors(record).values()) == [c.anchor for c in page.papers]

    from digest.publish.notify.hook import _content

    channels = {"channels": [{"name": "h", "kind": "webhook", "url_env": "H"}]}
    cfg = parse_config({"notify": channels})
    with_url = parse_config({"site": {"url": "https://example.org/blog"}, "notify": channels})
    outcome = notify_day(record, cfg.notify, delivery=Delivery(environ={}), mode=Mode(dry_run=True),
                         content=_content(with_url, record))
    sent = json.loads(outcome.previews[0].split("\n", 2)[2])  # the preview: a heading line, a size line, the JSON
    assert sent["post_url"] == "https://example.org/blog/2026/01/07/arxiv.html"
    assert [p["link"] for p in sent["papers"]] == [f"{sent['post_url']}#{c.anchor}" for c in page.papers]
    # Without a site URL: arXiv links.
    plain = notify_day(record, cfg.notify, delivery=Delivery(environ={}), mode=Mode(dry_run=True),
                         content=_content(cfg, record))
    assert all(e.abs_url in plain.previews[0] for e in entries)
    assert re.search(r"arxiv\.html#", plain.previews[0]) is None


def test_stored_topics_win_and_missing_ones_are_computed():
    from digest.publish.notify.hook import _content

    music = make_entry("2601.20004v1", title="Music Generation from Text Prompts", abstract="We generate music.")
    music.topics = ["tts"]  # as stored when the record was published: used as is
    speech = make_entry("2601.20001v1", title="Zero-Shot Text-to-Speech Synthesis with Flow Matching",
                        abstract="We propose a TTS model that synthesizes natural speech from text.")
    asr = make_entry("2601.20002v1", title="Streaming Speech Recognition for Low-Resource Languages",
                     abstract="We improve automatic speech recognition word error rate.")
    record = make_record([music, speech, asr], DAY)
    cfg = parse_config({"notify": {"channels": [{"name": "h", "kind": "webhook", "url_env": "H", "topics": ["tts"]}]}})
    outcome = notify_day(record, cfg.notify, delivery=Delivery(environ={}), mode=Mode(dry_run=True),
                         content=_content(cfg, record))
    sent = json.loads(outcome.previews[0].split("\n", 2)[2])
    assert [p["id"] for p in sent["papers"]] == ["2601.20004v1", "2601.20001v1"]
    assert sent["topics"][0] == {"slug": "tts", "label": load_topics(cfg).label("tts"), "count": 2}


def test_notify_command_without_channels_says_how_to_add_them(tmp_path):
    from digest.core.errors import UsageError
    from digest.publish.notify.hook import notify_by_hand
    from helpers import quiet_services

    cfg = parse_config({"site": {"records_dir": str(tmp_path)}})
    with pytest.raises(UsageError, match="no channels configured; add notify.channels"):
        notify_by_hand(cfg, None, quiet_services())
    cfg = parse_config({"site": {"records_dir": str(tmp_path)}, "notify": {"channels": [SLACK]}})
    with pytest.raises(UsageError, match="no day records in"):
        notify_by_hand(cfg, None, quiet_services())
