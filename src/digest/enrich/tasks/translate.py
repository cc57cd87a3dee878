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


_SENTENCE_END = re.compile(r"[。！？；.!?;]")
_TITLE_LABEL = re.compile(r"^(标题|题目|论文标题|title)\s*[:：]", re.I)
# A line that only names what follows: 【中文摘要】, 摘要：, **译文**
_TEXT_LABEL = re.compile(r"^[【\[(（]?\s*(中文摘要|摘要|译文|中文译文|摘要译文|abstract)\s*[】\])）]?\s*[:：]?$", re.I)


def _bare(line: str) -> str:
    """A line without Markdown heading, emphasis and quote marks around it."""
    return line.strip().lstrip("#>").strip().strip("*_").strip()


def is_title_line(line: str, title: str, *, alone: bool = True) -> bool:
    """Whether an answer's first line is a title (the paper's or a translation of it) or a label, not text.

    A heading, or a short line set apart by a blank line (`alone`) without sentence punctuation that does not
    introduce what follows (no closing colon), is a title: an abstract's translation opens with a sentence.
    A short line run on into the next could be a hard-wrapped sentence, so it is not dropped.
    """
    first = line.strip()
    bare = _bare(first)
    if not bare:
        return False
    if _TEXT_LABEL.match(bare) or _TITLE_LABEL.match(bare):
        return True
    if norm(title) and norm(title) in norm(bare) and len(norm(bare)) <= len(norm(title)) + 10:
        return True
    if bare.endswith((":", "：")) or _SENTENCE_END.search(bare):
        return False
    return (first.startswith("#") or alone) and len(bare) <= max(60, len(title))


def strip_title_lines(text: str, title: str) -> str:
    """The answer without the title or label lines it opens with (at most two), when text follows them.

    Dropping them is certain to lose nothing of the abstract, so the answer is kept instead of asked again.
    """
    for _ in range(2):
        lines = text.splitlines()
        rest = "\n".join(lines[1:]).strip()
        if len(lines) < 2 or not rest or not is_title_line(lines[0], title, alone=not lines[1].strip()):
            break
        text = rest
    return text


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

    def repair(self, text: str, entry: Entry) -> str:
        """The cleaned answer without a leading title line (see strip_title_lines); checked after this."""
        return strip_title_lines(text, entry.title)

    def check(self, text: str, entry: Entry) -> str | None:
        """See check_translation."""
        return check_translation(text, entry.title, entry.abstract)


TASK = Translate()
