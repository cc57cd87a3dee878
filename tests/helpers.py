"""Small helpers shared by the tests: crafted records, seed lookup, readable golden diffs."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from digest.models import Counts, DayRecord, Entry, TaskResult, WindowInfo

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEEDS = SHARED / "seeds"


def seed_files() -> list[Path]:
    """The sample posts in ../shared/seeds, or a skip with the reason when they are absent."""
    files = sorted(SEEDS.glob("*.md")) if SEEDS.is_dir() else []
    if not files:
        pytest.skip(f"no seed posts at {SEEDS} (../shared is not beside the checkout)")
    return files


def assert_same_text(expected: str, actual: str, name: str = "post") -> None:
    """Golden comparison that fails with a unified diff instead of two walls of text."""
    if expected == actual:
        return
    diff = "\n".join(
        difflib.unified_diff(expected.splitlines(), actual.splitlines(), f"expected {name}", f"actual {name}",
                             lineterm="", n=2)
    )
    if not diff:
        diff = f"texts differ only in line endings or the final newline ({len(expected)} vs {len(actual)} chars)"
    pytest.fail(f"{name} differs:\n{diff[:6000]}", pytrace=False)


def make_entry(
    pid: str = "2601.00001v1",
    *,
    title: str = "A Test Paper on Speech",
    abstract: str = "We study speech.",
    translation: str | None = "我们研究语音。",
    deep_read: str | None = "1)  \n- 背景\n\n2)  \n- 方法\n\n3)  \n- 结果",
    deep_error: str | None = None,
    authors: list[str] | None = None,
) -> Entry:
    t = TaskResult(status="done", text=translation, model="m") if translation is not None else None
    if deep_error is not None:
        d: TaskResult | None = TaskResult(status="failed", error=deep_error)
    elif deep_read is not None:
        d = TaskResult(status="done", text=deep_read, model="m")
    else:
        d = None
    return Entry(
        id=pid,
        title=title,
        authors=authors or ["Ada Lovelace", "Alan Turing"],
        categories=["cs.SD", "eess.AS"],
        abstract=abstract,
        abs_url=f"https://arxiv.org/abs/{pid}",
        pdf_url=f"https://arxiv.org/pdf/{pid}",
        translation=t,
        deep_read=d,
    )


def make_record(entries: list[Entry], day: str = "2026-01-07") -> DayRecord:
    return DayRecord(
        date=day,
        window=WindowInfo(start="2026-01-06T08:50:00+08:00", end=f"{day}T08:50:00+08:00"),
        counts=Counts(fetched=len(entries), shown=len(entries)),
        papers=entries,
    )
