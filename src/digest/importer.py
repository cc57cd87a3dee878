"""`digest import`: read posts written by the old blog (or by us) back into day records."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from .models import ARXIV_ID, RETRY_NOTE, Counts, DayRecord, Entry, TaskResult, WindowInfo
from .records import entry_status
from .render import unwrap_liquid

_FILE_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})-")
_HEADER_DATE = re.compile(r"^以下为 (\d{4}-\d{2}-\d{2})（(.+?)）窗口内更新的论文中文译文：$")
_HEADER_WINDOW = re.compile(
    r"^- 时间窗口（锚点 (\d{2}:\d{2}) ?(.*?)）：(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) — (\d{4}-\d{2}-\d{2} \d{2}:\d{2})$"
)
_HEADER_COUNTS = re.compile(r"^- 抓取总数：(\d+) 篇 \| 本页显示：(\d+) 篇")
_META = re.compile(r"^- \*\*(Authors|Categories|arXiv|PDF)\*\*: ?(.*)$")
_LINK = re.compile(r"^\[([^\]]*)\]\(([^)]*)\)$")
_FAILED = re.compile(r"^（全文解读失败：(.*)）$", re.DOTALL)
_MISSING = re.compile(r"^（译文暂缺：(.*)" + re.escape(RETRY_NOTE) + "）$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_DETAILS_OPEN = "<details>\n<summary>详细解读</summary>\n\n<div markdown=\"1\">\n\n"
_DETAILS_CLOSE = "\n</div>\n\n</details>"
_LABEL_ZONES = {"CST": "Asia/Shanghai"}


@dataclass
class ImportResult:
    record: DayRecord | None
    problems: list[str] = field(default_factory=list)  # "file:line: what" for each thing not understood


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


def _parse_paper(lines: list[str], first_line: int, where: str, problems: list[str]) -> Entry:
    """lines[0] is the '## title' line; the section runs up to the next paper title."""
    title = lines[0][3:]
    meta: dict[str, str] = {}
    i = 1
    while i < len(lines) and (m := _META.match(lines[i])):
        meta[m.group(1)] = m.group(2)
        i += 1
    for key in ("Authors", "Categories", "arXiv", "PDF"):
        if key not in meta:
            problems.append(f"{where}:{first_line}: paper '{title[:60]}' has no '- **{key}**:' line")
    abs_url = _link_url(meta.get("arXiv", ""))
    pdf_url = _link_url(meta.get("PDF", ""))
    arxiv_id = _id_from_url(abs_url) or _id_from_url(pdf_url)
    if arxiv_id is None:
        problems.append(f"{where}:{first_line}: cannot read an arXiv id from the links of '{title[:60]}'")
        arxiv_id = "unknown"
    rest = "\n".join(lines[i:])
    rest = rest.rstrip("\n")
    if rest.endswith("\n---"):
        rest = rest[: -len("\n---")]
    elif rest.strip():
        problems.append(f"{where}:{first_line}: the section of '{title[:60]}' does not end with a '---' line")
    deep: TaskResult | None = None
    start = rest.find(_DETAILS_OPEN)
    if start >= 0:
        end = rest.rfind(_DETAILS_CLOSE)
        if end < start:
            problems.append(f"{where}:{first_line}: the details block of '{title[:60]}' is not closed")
            end = len(rest)
        inner = rest[start + len(_DETAILS_OPEN) : end].strip()
        failed = _FAILED.match(inner)
        if failed:
            deep = TaskResult(status="failed", error=failed.group(1), model="imported")
        else:
            deep = TaskResult(status="done", text=inner, model="imported")
        abstract_text = rest[:start].strip()
    else:
        abstract_text = rest.strip()
    translation: TaskResult | None
    english = ""
    note, _, after = abstract_text.partition("\n\n")
    missing = _MISSING.match(note)
    if missing:
        translation = TaskResult(status="failed", error=missing.group(1), model="imported")
        english = after.strip()
    elif _is_chinese(abstract_text):
        translation = TaskResult(status="done", text=abstract_text, model="imported")
    else:
        translation, english = None, abstract_text
    entry = Entry(
        id=arxiv_id,
        title=title,
        authors=[a for a in meta.get("Authors", "").split(", ") if a],
        categories=[c for c in meta.get("Categories", "").split(", ") if c],
        abstract=english,
        abs_url=abs_url,
        pdf_url=pdf_url,
        translation=translation,
        deep_read=deep,
    )
    entry.status = entry_status(entry)  # type: ignore[assignment]  # records.entry_status is typed str
    return entry


def parse_post(text: str, name: str) -> ImportResult:
    """Parse one post's text into a DayRecord, listing every line it could not make sense of."""
    problems: list[str] = []
    text = text.replace("\r\n", "\n")
    offset = 0
    if text.startswith("---\n"):
        end = text.find("\n---\n", 3)
        if end < 0:
            return ImportResult(None, [f"{name}:1: front matter is not closed by a '---' line"])
        offset = text[: end + 5].count("\n")
        body = text[end + 5 :]
    else:
        body = text
    body = unwrap_liquid(body)
    lines = body.split("\n")

    day = tz_label = anchor = start = end_s = None
    fetched = shown = None
    for line in lines[:40]:
        if (m := _HEADER_DATE.match(line)) and day is None:
            day, tz_label = m.group(1), m.group(2)
        elif (m := _HEADER_WINDOW.match(line)) and start is None:
            anchor, start, end_s = m.group(1), m.group(3), m.group(4)
            tz_label = m.group(2) or tz_label
        elif (m := _HEADER_COUNTS.match(line)) and fetched is None:
            fetched, shown = int(m.group(1)), int(m.group(2))
        if line.startswith("## "):
            break
    fm = _FILE_DATE.match(Path(name).name)
    if day is None:
        if fm is None:
            return ImportResult(None, [f"{name}:{offset + 1}: no date in the header or the file name"])
        day = fm.group(1)
        problems.append(f"{name}:{offset + 1}: no '以下为 <date>…' header line; took the date from the file name")

    titles = [
        n for n in range(len(lines) - 1) if lines[n].startswith("## ") and lines[n + 1].startswith("- **Authors**:")
    ]
    papers: list[Entry] = []
    for k, n in enumerate(titles):
        stop = titles[k + 1] if k + 1 < len(titles) else len(lines)
        papers.append(_parse_paper(lines[n:stop], offset + n + 1, name, problems))

    label = (tz_label or "CST").split("，")[0].strip()
    zone = ZoneInfo(_LABEL_ZONES.get(label, "Asia/Shanghai"))
    if label not in _LABEL_ZONES:
        problems.append(f"{name}:{offset + 1}: unknown time-zone label '{label}'; assumed Asia/Shanghai")
    if start is None or end_s is None:
        problems.append(f"{name}:{offset + 1}: no '- 时间窗口…' line; assumed the 08:50 window")
        anchor = "08:50"
        end_dt = datetime.fromisoformat(f"{day}T08:50").replace(tzinfo=zone)
        start_dt = end_dt - timedelta(days=1)
    else:
        start_dt = datetime.fromisoformat(start.replace(" ", "T")).replace(tzinfo=zone)
        end_dt = datetime.fromisoformat(end_s.replace(" ", "T")).replace(tzinfo=zone)
    if fetched is None or shown is None:
        problems.append(f"{name}:{offset + 1}: no '- 抓取总数…' line; counted the papers instead")
        fetched = shown = len(papers)
    if shown != len(papers):
        problems.append(f"{name}: the header says {shown} papers are shown but {len(papers)} were found")

    record = DayRecord(
        date=day,
        window=WindowInfo(
            start=start_dt.isoformat(),
            end=end_dt.isoformat(),
            timezone=zone.key,
            anchor=anchor or "08:50",
            basis="submitted",
        ),
        counts=Counts(fetched=fetched, shown=shown),
        papers=papers,
        source=f"import:{Path(name).name}",
    )
    return ImportResult(record, problems)


def find_posts(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Expand files and folders into post files (*.md, *.markdown), sorted; list what does not exist."""
    found: list[Path] = []
    missing: list[str] = []
    for p in paths:
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*") if q.suffix in (".md", ".markdown") and q.is_file()))
        elif p.is_file():
            found.append(p)
        else:
            missing.append(f"{p}: no such file or folder")
    return found, missing
