"""The deep read: a three-part Chinese reading of the paper's full text (untrusted data, fenced in the prompt)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from digest.enrich.figures import check_read, mark_unverified, reask_note, unsupported_texts
from digest.enrich.tasks import Verification
from digest.enrich.text_checks import MIN_CJK_SHARE, cjk_share

if TYPE_CHECKING:
    from digest.core.record import Entry

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

    def verify(self, text: str, entry: Entry, fulltext: str | None, others: Sequence[str] = ()) -> Verification:
        """The figure check (digest.enrich.figures) against what the model was given: title, abstract and paper text."""
        source = f"{entry.abstract}\n{fulltext or ''}"
        result = check_read(text, source, title=entry.title, other_titles=others)
        if result.wrong_subject:
            problem = f"解读写的是另一篇论文《{result.other_title}》"
            reask = f"上一版{problem}，而不是本文《{entry.title}》。请只根据上面给出的本文内容重写解读。"
            return Verification(problem=problem, reask=reask)
        if not result.unsupported:
            return Verification()
        return Verification(
            unverified=tuple(unsupported_texts(result)),
            reask=reask_note(result.unsupported),
            marked=mark_unverified(text, result.unsupported),
        )


TASK = DeepRead()
