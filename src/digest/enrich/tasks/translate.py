"""The abstract translation: title and English abstract in, a Chinese translation of the abstract out."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from digest.enrich.text_checks import MIN_CJK_SHARE, cjk_share, norm

if TYPE_CHECKING:
    from digest.core.record import Entry

_PREAMBLE = re.compile(
    r"^\s*(以下是|以下为|下面是|这是.{0,12}(?:译文|翻译)|好的|当然|译文[:：]|翻译[:：]|中文翻译|摘要翻译|"
    r"here is|here's|sure|translation\s*:|certainly)",
    re.I,
)


def check_translation(text: str, title: str, abstract: str) -> str | None:
    """Why a translation answer is unusable, or None when it is fine."""
    if not text:
        return "回答为空"
    if len(text) > max(4 * len(abstract), 400):
        return f"回答过长（{len(text)} 字符）"
    if cjk_share(text) < MIN_CJK_SHARE:
        return "译文不是中文"
    first = text.splitlines()[0].strip()
    if _PREAMBLE.match(first):
        return "译文前带有多余的前言"
    bare = first.lstrip("#*> ").strip()
    if first.startswith("#") or re.match(r"^(标题|题目|title)\s*[:：]", bare, re.I):
        return "译文重复了论文标题"
    if len(text.splitlines()) > 1:
        # A short first line without sentence punctuation, then more text: a title line, English or translated.
        if norm(title) and norm(title) in norm(bare) and len(norm(bare)) <= len(norm(title)) + 10:
            return "译文重复了论文标题"
        if len(bare) <= 60 and not re.search(r"[。！？；.!?;]", bare):
            return "译文开头多了一行标题"
    return None


class Translate:
    """Task `translation`: every paper shown needs one (pending until it has it)."""

    name = "translation"
    template = "prompts/translate.j2"
    needs_fulltext = False
    required = True

    def prompt_values(self, entry: Entry, fulltext: str | None) -> dict[str, str] | None:
        """Title and abstract; None for an entry imported without its English abstract."""
        if not entry.abstract.strip():
            return None
        return {"title": entry.title, "abstract": entry.abstract}

    def check(self, text: str, entry: Entry) -> str | None:
        """See check_translation."""
        return check_translation(text, entry.title, entry.abstract)


TASK = Translate()
