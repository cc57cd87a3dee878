"""Provenance of a deep read as the site shows it: what the model read, which version, which model, when, and
what the figure check found. Built from the record (TaskResult and Entry fields); the Markdown post is unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from digest.core.record import Entry, version_of

_SOURCES = {"pdf": "全文（PDF v{v}）", "html": "全文（HTML v{v}）", "abstract": "仅摘要（v{v}）"}


def _check_words(check: str, unverified: int) -> str:
    if check == "clean":
        return "数字已核对"
    if check == "reasked":
        return "数字已核对（重问一次后）"
    if check == "marked":
        return f"含 {unverified} 处未核实数字"
    return "数字未核对"


def _local_date(at: str, zone: str) -> str:
    """The date of an ISO time in the blog's zone (a read made at 23:30 UTC belongs to the next day in CST)."""
    try:
        return datetime.fromisoformat(at).astimezone(ZoneInfo(zone)).date().isoformat()
    except (ValueError, KeyError):  # an unreadable time or zone: its own date, as written
        return at[:10]


def provenance_line(entry: Entry, zone: str = "UTC") -> str:
    """`解读依据：全文（PDF v1）· deepseek-chat · 2026-12-01 · 数字已核对`; "" without a deep read to vouch for.

    The date is the day the read was made, in `zone` (the post's time zone)."""
    d = entry.deep_read
    if d is None or d.status != "done":
        return ""
    version = d.version or version_of(entry.id)
    if d.model == "imported":  # read by the old blog: what it read and which model are not known
        source = f"从旧文章导入（v{version}）"
    else:
        source = _SOURCES[d.source].format(v=version) if d.source in _SOURCES else f"来源未记录（v{version}）"
    parts = [f"解读依据：{source}"]
    if d.model and d.model != "imported":
        parts.append(d.model)
    if d.at:
        parts.append(_local_date(d.at, zone))
    parts.append(_check_words(d.check, len(d.unverified)))
    # A full-width bracket carries its own space: 全文（PDF v1）· deepseek-chat · ...
    return "".join(p if not i else ("· " if parts[i - 1].endswith("）") else " · ") + p for i, p in enumerate(parts))


@dataclass(frozen=True)
class NewVersion:
    """A replacement announced after the paper was posted: the label and the link the day's page shows."""

    label: str  # 有新版本 v2, or 解读已按新版本 v2 更新 once it was read again
    url: str


def new_version_note(entry: Entry) -> NewVersion | None:
    """What the page says about a newer version of a posted paper; None when none was announced."""
    if not entry.new_version:
        return None
    v = version_of(entry.new_version)
    url = entry.abs_url.replace(entry.id, entry.new_version) if entry.id in entry.abs_url else entry.abs_url
    d = entry.deep_read
    if d is not None and d.status == "done" and d.version >= v:
        return NewVersion(f"解读已按新版本 v{v} 更新", url)
    return NewVersion(f"有新版本 v{v}", url)
