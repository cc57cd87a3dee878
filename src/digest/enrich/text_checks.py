"""Small text measures the model tasks' answer checks share."""

from __future__ import annotations

import re

MIN_CJK_SHARE = 0.3
_THINK = re.compile(r"<think(ing)?>.*?</think(ing)?>", re.S | re.I)
_FENCE = re.compile(r"^```[\w-]*[ \t]*\n(.*?)\n?```$", re.S)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def clean_answer(text: str) -> str:
    """Drop <think> blocks and a code fence around the whole answer; strip surrounding whitespace."""
    text = _THINK.sub("", text or "")
    # A reasoning block that never closed leaves no answer at all.
    if re.match(r"\s*<think(ing)?>", text, re.I):
        return ""
    text = text.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    return text


def cjk_share(text: str) -> float:
    """Share of Chinese characters among Chinese characters and Latin letters (0 when there are none)."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    return cjk / (cjk + latin) if cjk + latin else 0.0


def norm(s: str) -> str:
    """Letters and digits only, lower case: for comparing titles."""
    return re.sub(r"[\W_]+", "", s).lower()
