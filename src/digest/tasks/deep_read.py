"""The deep read: a three-part Chinese reading of the paper's full text (untrusted data, fenced in the prompt)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..text_checks import MIN_CJK_SHARE, cjk_share

if TYPE_CHECKING:
    from ..models import Entry

DEEP_READ_MAX_CHARS = 6000
_PART = re.compile(r"^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?[ \t]*([123])[ \t]*(?:\)|）|\.|、)", re.M)


def check_deep_read(text: str) -> str | None:
    """Why a deep-read answer is unusable, or None when it has its three numbered parts in order."""
    if not text:
        return "回答为空"
    if len(text) > DEEP_READ_MAX_CHARS:
        return f"回答过长（{len(text)} 字符）"
    if cjk_share(text) < MIN_CJK_SHARE:
        return "解读不是中文"
    want = 1
    for m in _PART.finditer(text):
        if int(m.group(1)) == want:
            want += 1
            if want == 4:
                return None
    return "解读缺少 1) 2) 3) 三个部分"


class DeepRead:
    """Task `deep_read`: optional (a post without it is complete), needs the paper's text."""

    name = "deep_read"
    template = "prompts/deep_read.j2"
    needs_fulltext = True
    required = False

    def prompt_values(self, entry: Entry, fulltext: str | None) -> dict[str, str] | None:
        """Title, abstract and the fenced paper text; None without a text."""
        if fulltext is None:
            return None
        # The paper cannot close its own fence and speak as the user.
        fenced = re.sub(r"</?\s*paper\s*>", "[paper]", fulltext, flags=re.I)
        return {"title": entry.title, "abstract": entry.abstract, "fulltext": fenced}

    def check(self, text: str, entry: Entry) -> str | None:
        """See check_deep_read."""
        return check_deep_read(text)


TASK = DeepRead()
