"""Turn a DayRecord into the Markdown post (DESIGN section 1), applying the escaping rules."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from .models import RETRY_NOTE, DayRecord, Entry, TaskResult
from .sanitize import clean_block, clean_inline, guard_endraw, needs_raw, unguard_endraw

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"
_PLAIN_YAML = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+/-]*$")
DEEP_READ_FAILED = "（全文解读失败：{reason}）"
_RAW_OPEN = "{% raw %}\n"
_RAW_CLOSE = "{% endraw %}"
TRANSLATION_MISSING = "（译文暂缺：{reason}" + RETRY_NOTE + "）"


def template_env(user_dir: Path | None = None) -> jinja2.Environment:
    """Jinja environment: the user's templates folder first, then the built-in templates."""
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None and user_dir.is_dir():
        loaders.append(jinja2.FileSystemLoader(str(user_dir)))
    loaders.append(jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES)))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown out; escaping is sanitize.py's job
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # a run is short: no stat of every template on every use
    )


def yaml_scalar(value: str) -> str:
    """A YAML scalar that reads back as exactly `value` (a JSON string is a valid YAML one)."""
    return json.dumps(value, ensure_ascii=False)


def yaml_flow_list(values: list[str]) -> str:
    return "[" + ", ".join(v if _PLAIN_YAML.match(v) else yaml_scalar(v) for v in values) + "]"


def tz_labels(timezone: str, moment: datetime) -> tuple[str, str]:
    """(short, long) labels for the header: CST / CST，北京时间 for China, the zone's abbreviation elsewhere."""
    if timezone in ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC", "Asia/Beijing"):
        return "CST", "CST，北京时间"
    abbr = moment.astimezone(ZoneInfo(timezone)).tzname() or timezone
    return abbr, f"{abbr}，{timezone}"


def failure_text(result: TaskResult) -> str:
    return DEEP_READ_FAILED.format(reason=clean_inline(result.error or "原因未知" + RETRY_NOTE))


def _abstract_and_note(entry: Entry) -> tuple[str, str]:
    t = entry.translation
    if t is not None and t.status == "done" and t.text.strip():
        return clean_block(t.text), ""
    english = clean_block(entry.abstract)
    if t is not None and t.status == "failed":
        reason = clean_inline(t.error or "原因未知").rstrip("。.，,；;")
        reason = reason.removesuffix("下次运行将重试").rstrip("。.，,；;")
        return english, TRANSLATION_MISSING.format(reason=reason)
    return english, ""


def _deep_read(entry: Entry) -> str | None:
    d = entry.deep_read
    if d is None or d.status == "skipped":
        return None
    if d.status == "done" and d.text.strip():
        return clean_block(d.text)
    return failure_text(d)


def paper_view(entry: Entry) -> dict[str, object]:
    """The sanitized strings the post template lays out for one paper."""
    abstract, note = _abstract_and_note(entry)
    return {
        "id": entry.id,
        "title": clean_inline(entry.title),
        "authors": clean_inline(", ".join(entry.authors)),
        "categories": clean_inline(", ".join(entry.categories)),
        "abs_url": clean_inline(entry.abs_url),
        "pdf_url": clean_inline(entry.pdf_url),
        "abstract": abstract,
        "note": note,
        "deep_read": _deep_read(entry),
    }


def _fmt(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")


def render_post(
    record: DayRecord,
    *,
    title_template: str = "arXiv Daily – {date}",
    tags: list[str] | None = None,
    env: jinja2.Environment | None = None,
) -> str:
    """Render the whole post for a day record."""
    env = env or template_env()
    start = datetime.fromisoformat(record.window.start)
    short, long = tz_labels(record.window.timezone, start)
    context: dict[str, object] = {
        "title_yaml": yaml_scalar(title_template.replace("{date}", record.date)),
        "tags_yaml": yaml_flow_list(tags if tags is not None else ["arxiv", "cs.SD", "eess.AS"]),
        "date": record.date,
        "tz_short": short,
        "tz_long": long,
        "anchor": record.window.anchor,
        "start": _fmt(record.window.start),
        "end": _fmt(record.window.end),
        "fetched": record.counts.fetched,
        "shown": record.counts.shown,
        "left_out": [{"title": clean_inline(p.title), "url": clean_inline(p.abs_url)} for p in record.left_out],
        "papers": [paper_view(e) for e in record.papers],
    }
    text = env.get_template("post.md.j2").render(context)
    return wrap_liquid(text)


def wrap_liquid(text: str) -> str:
    """Wrap the body in a raw block when Liquid would otherwise read `{{` or `{%` in it."""
    front, sep, body = text.partition("\n---\n") if text.startswith("---\n") else ("", "", text)
    if not needs_raw(body):
        return text
    head = front + sep if sep else ""
    return head + _RAW_OPEN + guard_endraw(body) + _RAW_CLOSE + "\n"


def unwrap_liquid(body: str) -> str:
    """The inverse of wrap_liquid on a post body: drop the raw block, guarded endraw tags become text again."""
    if body.startswith(_RAW_OPEN) and body.rstrip().endswith(_RAW_CLOSE):
        body = body[len(_RAW_OPEN) :]
        body = unguard_endraw(body[: body.rstrip().rfind(_RAW_CLOSE)])
    return body


def post_path(posts_dir: Path, day: str) -> Path:
    return posts_dir / f"{day}-arxiv.md"


def render_section(entry: Entry, env: jinja2.Environment | None = None) -> str:
    """One paper's section exactly as the post shows it (without the Liquid wrapper)."""
    env = env or template_env()
    return env.get_template("paper.md.j2").render(p=paper_view(entry)).lstrip("\n")
