"""The Markdown post format (DESIGN section 1), owned here alone: rendering a DayRecord, and its inverse.

`render_post` writes a post through the (overridable) templates; `parse_post` reads a post in the
standard format (the built-in templates' output, the old blog's posts) back into a DayRecord and lists
every normalisation a re-render would make. No other module parses posts: the site is built from records.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import yaml

from digest.core.config import SiteConfig
from digest.core.record import ARXIV_ID, RETRY_NOTE, Counts, DayRecord, Entry, LeftOut, TaskResult, WindowInfo
from digest.core.templates import template_env
from digest.enrich.plan import refresh_status
from digest.publish.sanitize import clean_block, clean_inline, guard_endraw, needs_raw, unguard_endraw, why_changed

_PLAIN_YAML = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+/-]*$")
DEEP_READ_FAILED = "（全文解读失败：{reason}）"
# A deep read the run's token budget left for the next run (TaskResult status "deferred").
DEEP_READ_DEFERRED = "（全文解读排队中：本次运行的 token 预算已用完，下次运行继续）"
_RAW_OPEN = "{% raw %}\n"
_RAW_CLOSE = "{% endraw %}"
TRANSLATION_MISSING = "（译文暂缺：{reason}" + RETRY_NOTE + "）"


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
    if d.status == "deferred":
        return DEEP_READ_DEFERRED
    return failure_text(d)


def paper_view(entry: Entry) -> dict[str, object]:
    """The sanitized strings the post template lays out for one paper."""
    abstract, note = _abstract_and_note(entry)
    return {
        "id": entry.id,
        "title": clean_inline(entry.title),
        # Not used by the built-in templates (the posts stay as they were); "" until the paper has one.
        "title_zh": clean_inline(entry.title_zh),
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
    title_template: str | None = None,
    tags: list[str] | None = None,
    env: jinja2.Environment | None = None,
) -> str:
    """Render the whole post for a day record (title and tags default to the config's defaults)."""
    env = env or template_env()
    title_template = title_template if title_template is not None else SiteConfig().title
    start = datetime.fromisoformat(record.window.start)
    short, long = tz_labels(record.window.timezone, start)
    context: dict[str, object] = {
        "title_yaml": yaml_scalar(title_template.replace("{date}", record.date)),
        "tags_yaml": yaml_flow_list(tags if tags is not None else SiteConfig().tags),
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


def render_section(entry: Entry, env: jinja2.Environment | None = None) -> str:
    """One paper's section exactly as the post shows it (without the Liquid wrapper)."""
    env = env or template_env()
    return env.get_template("paper.md.j2").render(p=paper_view(entry)).lstrip("\n")


# ---------------------------------------------------------------- the inverse: reading a post back

# The pieces of the standard format the parser recognises; post.md.j2 and paper.md.j2 write exactly these.
_FILE_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})-")
_HEADER_DATE = re.compile(r"^以下为 (\d{4}-\d{2}-\d{2})（(.+?)）窗口内更新的论文中文译文：$")
_HEADER_WINDOW = re.compile(
    r"^- 时间窗口（锚点 (\d{2}:\d{2}) ?(.*?)）：(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) — (\d{4}-\d{2}-\d{2} \d{2}:\d{2})$"
)
_HEADER_COUNTS = re.compile(r"^- 抓取总数：(\d+) 篇 \| 本页显示：(\d+) 篇")
_HEADER_LEFT_OUT = re.compile(r"^- 另有 \d+ 篇因每日上限")
_LEFT_OUT_ITEM = re.compile(r"^  - \[(.*)\]\((\S*)\)$")
_META_KEYS = ("Authors", "Categories", "arXiv", "PDF")
_META = re.compile(r"^- \*\*(Authors|Categories|arXiv|PDF)\*\*: ?(.*)$")
_LINK = re.compile(r"^\[([^\]]*)\]\(([^)]*)\)$")
_FAILED = re.compile("^" + re.escape(DEEP_READ_FAILED).replace(re.escape("{reason}"), "(.*)") + "$", re.DOTALL)
_MISSING = re.compile("^" + re.escape(TRANSLATION_MISSING).replace(re.escape("{reason}"), "(.*)") + "$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
DETAILS_SUMMARY = "<summary>详细解读</summary>"
# The standard opening is '<div markdown="1">' and a blank line; the old blog sometimes left the blank line out.
_DETAILS_OPEN = re.compile(
    r"^<details>\n" + re.escape(DETAILS_SUMMARY) + r'\n\n<div markdown="1">\n(\n?)', re.MULTILINE
)
_DETAILS_CLOSE = "\n</div>\n\n</details>"
_LABEL_ZONES = {"CST": "Asia/Shanghai"}


@dataclass
class ParsedPost:
    """A post read back: its record (None when unreadable), problems, and the normalisations a re-render makes."""

    record: DayRecord | None
    problems: list[str] = field(default_factory=list)  # "file:line: what" for each thing not understood
    normalisations: list[str] = field(default_factory=list)  # "file:line: what a re-render changes"
    normalised_lines: set[int] = field(default_factory=set)
    title: str = ""  # the front matter's title and tags, for comparing a re-render with the file
    tags: list[str] = field(default_factory=list)


def _is_chinese(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(1 for c in letters if _CJK.match(c)) >= 0.3 * len(letters)


def _link_url(value: str) -> str:
    m = _LINK.match(value.strip())
    return m.group(2) if m else value.strip()


def _id_from_url(url: str) -> str | None:
    tail = url.rstrip("/").split("/abs/")[-1].split("/pdf/")[-1]
    tail = tail.removesuffix(".pdf")
    return tail if ARXIV_ID.match(tail) else None


class _Reader:
    """Collects problems and normalisations with the file name and the post's line numbers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[str] = []
        self.normalisations: list[str] = []
        self.normalised_lines: set[int] = set()

    def problem(self, line: int | None, what: str) -> None:
        self.problems.append(f"{self.name}:{line}: {what}" if line else f"{self.name}: {what}")

    def normalised(self, line: int, what: str) -> None:
        self.normalisations.append(f"{self.name}:{line}: {what}")
        self.normalised_lines.add(line)

    def block(self, text: str, first_line: int, what: str) -> None:
        """Report each line of a block (abstract, deep read) that the sanitizer changes on re-render."""
        lead = len(text) - len(text.lstrip())
        base = first_line + text[:lead].count("\n")
        for n, reason in why_changed(text):
            self.normalised(base + n, f"{what}: {reason}")


def _paper_links(lines: list[str], first_line: int, rd: _Reader) -> tuple[dict[str, str], str, int]:
    """The metadata lines under a title: (key -> value, arXiv id, index of the first line after them)."""
    short = lines[0][3:][:60]
    meta: dict[str, str] = {}
    i = 1
    while i < len(lines) and (m := _META.match(lines[i])):
        meta[m.group(1)] = m.group(2)
        i += 1
    for key in _META_KEYS:
        if key not in meta:
            rd.problem(first_line, f"paper '{short}' has no '- **{key}**:' line")
    arxiv_id = _id_from_url(_link_url(meta.get("arXiv", ""))) or _id_from_url(_link_url(meta.get("PDF", "")))
    if arxiv_id is None:
        rd.problem(first_line, f"cannot read an arXiv id from the links of '{short}'")
        arxiv_id = "unknown"
    return meta, arxiv_id, i


def _deep_read_block(rest: str, body_line: int, short: str, rd: _Reader) -> tuple[TaskResult | None, str]:
    """(the deep read in the details block, or None; the text before the block)."""
    opening = _DETAILS_OPEN.search(rest)
    if not opening:
        return None, rest
    div_line = body_line + rest[: opening.start()].count("\n") + 3
    if not opening.group(1):
        rd.normalised(div_line, "text follows '<div markdown=\"1\">' directly; the re-render adds a blank line")
    end = rest.rfind(_DETAILS_CLOSE)
    if end < opening.end():
        rd.problem(div_line, f"the details block of '{short}' is not closed")
        end = len(rest)
    inner = rest[opening.end() : end]
    failed = _FAILED.match(inner.strip())
    if inner.strip() == DEEP_READ_DEFERRED:
        deep = TaskResult(status="deferred", error="token budget of this run used up", model="imported")
    elif failed:
        deep = TaskResult(status="failed", error=failed.group(1), model="imported")
    else:
        deep = TaskResult(status="done", text=inner.strip(), model="imported")
        rd.block(inner, body_line + rest[: opening.end()].count("\n"), "deep read")
    return deep, rest[: opening.start()]


def _abstract_block(abstract_text: str, body_line: int, short: str, rd: _Reader) -> tuple[TaskResult | None, str]:
    """(the translation, or None when the post shows the English abstract; the English abstract, if shown)."""
    if "<details" in abstract_text or "<div markdown" in abstract_text:
        at = body_line + abstract_text[: abstract_text.find("<")].count("\n")
        rd.problem(at, f"a details block of '{short}' is not in the standard form; it would show as text")
    stripped = abstract_text.strip()
    note, _, after = stripped.partition("\n\n")
    missing = _MISSING.match(note)
    abstract_line = body_line + abstract_text[: len(abstract_text) - len(abstract_text.lstrip())].count("\n")
    if missing:
        rd.block(after, abstract_line + 2, "abstract")
        return TaskResult(status="failed", error=missing.group(1), model="imported"), after.strip()
    rd.block(stripped, abstract_line, "abstract")
    if _is_chinese(stripped):
        return TaskResult(status="done", text=stripped, model="imported"), ""
    return None, stripped


def _parse_paper(lines: list[str], first_line: int, rd: _Reader) -> Entry:
    """lines[0] is the '## title' line; the section runs up to the next paper title."""
    title = lines[0][3:]
    short = title[:60]
    meta, arxiv_id, i = _paper_links(lines, first_line, rd)
    body_line = first_line + i  # the post line of lines[i]
    rest = "\n".join(lines[i:]).rstrip("\n")
    if rest.endswith("\n---"):
        rest = rest[: -len("\n---")]
    elif rest.strip():
        rd.problem(first_line, f"the section of '{short}' does not end with a '---' line")
    deep, abstract_text = _deep_read_block(rest, body_line, short, rd)
    translation, english = _abstract_block(abstract_text, body_line, short, rd)
    entry = Entry(
        id=arxiv_id,
        title=title,
        authors=[a for a in meta.get("Authors", "").split(", ") if a],
        categories=[c for c in meta.get("Categories", "").split(", ") if c],
        abstract=english,
        abs_url=_link_url(meta.get("arXiv", "")),
        pdf_url=_link_url(meta.get("PDF", "")),
    )
    entry.translation, entry.deep_read = translation, deep
    refresh_status(entry)
    return entry


def _front_matter(text: str) -> tuple[dict[str, object], str, int] | None:
    """(front matter, body, lines before the body); None when a front matter is opened but never closed."""
    if not text.startswith("---\n"):
        return {}, text, 0
    end = text.find("\n---\n", 3)
    if end < 0:
        return None
    try:
        data = yaml.safe_load(text[4:end]) or {}
    except yaml.YAMLError:
        data = {}
    return (data if isinstance(data, dict) else {}), text[end + 5 :], text[: end + 5].count("\n")


@dataclass
class _Header:
    """What a post's header lines say, before the papers."""

    day: str | None = None
    tz_label: str | None = None
    anchor: str | None = None
    start: str | None = None
    end: str | None = None
    fetched: int | None = None
    shown: int | None = None
    left_out: list[LeftOut] = field(default_factory=list)


def _read_header(lines: list[str], offset: int, rd: _Reader) -> _Header:
    """The date, window, counts and left-out papers from the lines above the first paper."""
    h = _Header()
    for n, line in enumerate(lines[:200]):
        if (m := _HEADER_DATE.match(line)) and h.day is None:
            h.day, h.tz_label = m.group(1), m.group(2)
        elif (m := _HEADER_WINDOW.match(line)) and h.start is None:
            h.anchor, h.start, h.end = m.group(1), m.group(3), m.group(4)
            h.tz_label = m.group(2) or h.tz_label
        elif (m := _HEADER_COUNTS.match(line)) and h.fetched is None:
            h.fetched, h.shown = int(m.group(1)), int(m.group(2))
        elif (m := _LEFT_OUT_ITEM.match(line)) and any(_HEADER_LEFT_OUT.match(x) for x in lines[:n]):
            lo_id = _id_from_url(m.group(2))
            if lo_id is None:
                rd.problem(offset + n + 1, "cannot read an arXiv id from a left-out paper's link")
            h.left_out.append(LeftOut(id=lo_id or "unknown", title=m.group(1), abs_url=m.group(2)))
        if line.startswith("## "):
            break
    return h


def _window_of(h: _Header, day: str, offset: int, rd: _Reader) -> WindowInfo:
    """The window the header names (the 08:50 window of `day` when it names none)."""
    label = (h.tz_label or "CST").split("，")[0].strip()
    zone = ZoneInfo(_LABEL_ZONES.get(label, "Asia/Shanghai"))
    if label not in _LABEL_ZONES:
        rd.problem(offset + 1, f"unknown time-zone label '{label}'; assumed Asia/Shanghai")
    if h.start is None or h.end is None:
        rd.problem(offset + 1, "no '- 时间窗口…' line; assumed the 08:50 window")
        h.anchor = "08:50"
        end_dt = datetime.fromisoformat(f"{day}T08:50").replace(tzinfo=zone)
        start_dt = end_dt - timedelta(days=1)
    else:
        start_dt = datetime.fromisoformat(h.start.replace(" ", "T")).replace(tzinfo=zone)
        end_dt = datetime.fromisoformat(h.end.replace(" ", "T")).replace(tzinfo=zone)
    return WindowInfo(start=start_dt.isoformat(), end=end_dt.isoformat(), timezone=zone.key,
                      anchor=h.anchor or "08:50", basis="submitted")


def _papers_of(lines: list[str], offset: int, rd: _Reader) -> list[Entry]:
    """Every paper section: a '## title' line followed by its Authors line."""
    titles = [
        n for n in range(len(lines) - 1) if lines[n].startswith("## ") and lines[n + 1].startswith("- **Authors**:")
    ]
    papers: list[Entry] = []
    for k, n in enumerate(titles):
        stop = titles[k + 1] if k + 1 < len(titles) else len(lines)
        papers.append(_parse_paper(lines[n:stop], offset + n + 1, rd))
    return papers


def parse_post(text: str, name: str) -> ParsedPost:
    """Parse one post in the standard format into a DayRecord, listing problems and normalisations by line."""
    rd = _Reader(name)
    split = _front_matter(text.replace("\r\n", "\n"))
    if split is None:
        return ParsedPost(None, [f"{name}:1: front matter is not closed by a '---' line"])
    front, body, offset = split
    unwrapped = unwrap_liquid(body)
    if unwrapped != body:
        offset += 1  # the '{% raw %}' line
    lines = unwrapped.split("\n")
    h = _read_header(lines, offset, rd)
    day = h.day
    if day is None:
        fm = _FILE_DATE.match(Path(name).name)
        if fm is None:
            return ParsedPost(None, [f"{name}:{offset + 1}: no date in the header or the file name"])
        day = fm.group(1)
        rd.problem(offset + 1, "no '以下为 <date>…' header line; took the date from the file name")
    papers = _papers_of(lines, offset, rd)
    window = _window_of(h, day, offset, rd)
    fetched, shown = h.fetched, h.shown
    if fetched is None or shown is None:
        rd.problem(offset + 1, "no '- 抓取总数…' line; counted the papers instead")
        fetched = shown = len(papers)
    if shown != len(papers):
        rd.problem(None, f"the header says {shown} papers are shown but {len(papers)} "
                       f"{'was' if len(papers) == 1 else 'were'} found")
    record = DayRecord(date=day, window=window, counts=Counts(fetched=fetched, shown=shown), papers=papers,
                       left_out=h.left_out, source=f"import:{Path(name).name}")
    tags = front.get("tags")
    tag_list = [str(t) for t in tags] if isinstance(tags, list) else []
    return ParsedPost(record, rd.problems, rd.normalisations, rd.normalised_lines,
                      title=str(front.get("title") or ""), tags=tag_list)


def unexplained_changes(original: str, parsed: ParsedPost, name: str) -> list[str]:
    """Lines where re-rendering the parsed post with the built-in templates differs and no normalisation says why."""
    record = parsed.record
    if record is None:
        return []
    title = parsed.title.replace(record.date, "{date}") if parsed.title else None
    again = render_post(record, title_template=title, tags=parsed.tags or None, env=template_env())
    explained = parsed.normalised_lines
    old, new = original.replace("\r\n", "\n").split("\n"), again.split("\n")
    out: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        # An explained line may shift what follows by a line or two (a blank line added or dropped).
        if any(n in explained for n in range(i1 - 1, i2 + 3)):
            continue
        was = old[i1][:60] if i1 < i2 else "(nothing)"
        now = new[j1][:60] if j1 < j2 else "(nothing)"
        out.append(f"{name}:{i1 + 1}: the re-rendered post differs here: {was!r} becomes {now!r}")
    return out
