"""The figure check for deep reads: every figure a read states must be found in the text the model was given.

A figure is a number written with a decimal point, a percentage, or a count of 10 or more. In the read,
these are not figures: years (1900-2099 standing alone or before 年), dates, arXiv ids, version numbers
(v2, 2.0.1, "version 3"), citations ([12], [3, 12-15]), numbers naming a table, figure, equation, section,
appendix or ordinal (Table 3, Eq. (12), Sec. 4.2, 图 3, 第 12 层, 3.2 节), numbers glued into a name (AGL1K,
Llama-3.1-70B, F1, R@10, top-5, 1e-4), HTTP status codes, times of day (08:50), numbers in URLs, and numbers
inside LaTeX math (\\( \\), \\[ \\], $ $): formulas hold indices, exponents and constants that are notation,
not findings. In the source every number counts, so a figure the paper does state is never reported missing.

Comparison is by value: 4.30 = 4.3, 15 % = 15% = 0.15, full-width digits and signs are read as ASCII,
1,444 = 1444, 3.5k = 3500, 1.2M = 1.2 million, 16 kHz = 16000 Hz, 200 ms = 0.2 s. A read may round: 4.3
is supported by 4.31. A figure derived from two figures of the source (difference, ratio, relative change,
within rounding) is supported when the read states it as a change or ratio (提升, 相对降低, 倍, ...) and the
two stand near each other in the source (a table row, a sentence).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["decimal", "percent", "count"]

UNVERIFIED = "（未核实）"

# Full-width ASCII (U+FF01-U+FF5E), the ideographic space, the minus sign and the en dash map one-to-one onto
# ASCII, so spans found in the translated text are spans of the original.
_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0x2212: 0x2D, 0x2013: 0x2D}

_SCALES = {
    "k": 1e3, "K": 1e3, "thousand": 1e3, "千": 1e3, "万": 1e4, "M": 1e6, "million": 1e6, "百万": 1e6,
    "千万": 1e7, "亿": 1e8, "B": 1e9, "billion": 1e9, "G": 1e9, "T": 1e12, "trillion": 1e12,
}
# Units whose prefixed forms compare by value in a base unit.
_UNITS = {
    "Hz": 1.0, "kHz": 1e3, "KHz": 1e3, "MHz": 1e6, "GHz": 1e9,
    "s": 1.0, "sec": 1.0, "ms": 1e-3, "μs": 1e-6, "us": 1e-6, "秒": 1.0, "毫秒": 1e-3, "min": 60.0, "分钟": 60.0,
    "h": 3600.0, "hours": 3600.0, "hour": 3600.0, "hrs": 3600.0, "小时": 3600.0,
    "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "dB": 1.0, "x": 1.0, "×": 1.0, "倍": 1.0,
}
_PERCENT = ("%", "percent", "个百分点", "百分点", "pp", "p.p.")

_suffixes = sorted([*_SCALES, *_UNITS, *_PERCENT], key=len, reverse=True)
_NUMBER = re.compile(
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?P<space> ?)(?P<suffix>" + "|".join(re.escape(s) for s in _suffixes) + r")?"
)
_LETTER = re.compile(r"[A-Za-z_]")
_TOKEN_BEFORE = re.compile(r"[A-Za-z0-9.\-]*$")

# Regions whose numbers are never figures.
_EXCLUDED = re.compile(
    r"\\\(.*?\\\)|\\\[.*?\\\]|\$\$.*?\$\$|\$[^$\n]+\$"  # LaTeX math
    r"|https?://\S+|\]\([^)]*\)"  # URLs and Markdown link targets
    r"|\[\s*\d+(?:\s*[,，\-–]\s*\d+)*\s*\]"  # citations [12], [3, 12-15]
    r"|\b\d{4}\.\d{4,5}(?:v\d+)?\b"  # arXiv ids
    r"|\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{4}\b"  # dates
    r"|\d{4}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?|\d{1,2}\s*月\s*\d{1,2}\s*日"
    r"|\b[vV]\d+(?:\.\d+)*\b|\b\d+(?:\.\d+){2,}\b"  # versions v2, 2.0.1
    r"|\b(?:version|Version|版本)\s*\d+(?:\.\d+)*"
    r"|\b\d{1,2}:\d{2}(?::\d{2})?\b",  # times of day, ratios like 3:2
    re.S,
)
# A number right after one of these names a part of the paper or an ordinal, not a finding.
_REFERENCE_BEFORE = re.compile(
    r"(?:\b(?:Table|Tab|Tables|Figure|Fig|Figs|Figures|Eq|Eqs|Equation|Equations|Section|Sec|Sections|Secs"
    r"|Appendix|App|Algorithm|Alg|Theorem|Lemma|Definition|Chapter|Step|Stage|Line|Layer|Page|Row|Column"
    r"|HTTP|Error|Errno)\.?"
    r"|[§#]|表|图|公式|第|章节|附录|算法|定理|引理|步骤)\s*\(?\s*$",
)
_REFERENCE_AFTER = re.compile(r"^\s*\)?\s*(?:节|章|式|部分)")
_COUNTED = re.compile(r"\s*(?:个|条|篇|名|次|组|段|句|种|维|张|位|项|人|例|小时|hours?|samples?|utterances?)")
_APPROX_BEFORE = re.compile(
    r"(?:约|大约|近|将近|接近|约为|大概|~|～|≈|\babout|\baround|\bapproximately|\bnearly|\broughly)\s*$"
)
_AT_LEAST_BEFORE = re.compile(r"(?:超过|逾|多达|高达|不少于|至少|\bover|\bmore than|\bat least)\s*$")


@dataclass(frozen=True)
class Figure:
    """One figure in a text: the exact span, its kind and its value (as written, and in base units)."""

    text: str
    start: int
    end: int
    kind: Kind
    value: float  # the number as written, sign dropped (1,444 -> 1444; 15% -> 15; 16 kHz -> 16)
    normalized: float  # scale and unit applied (3.5k -> 3500; 16 kHz -> 16000; 200 ms -> 0.2)
    decimals: int  # digits after the point as written: the precision a match is allowed
    approx: Literal["", "about", "at least"] = ""

    @property
    def span(self) -> tuple[int, int]:
        """(start, end) offsets in the text it was found in."""
        return self.start, self.end


@dataclass(frozen=True)
class FigureCheck:
    """The outcome of checking one read: its figures split into supported and unsupported, and the subject."""

    figures: list[Figure]
    supported: list[Figure]
    unsupported: list[Figure]
    derived: list[Figure] = field(default_factory=list)  # supported as a difference, ratio or relative change
    wrong_subject: bool = False
    other_title: str | None = None  # the other paper's title the read carries, when wrong_subject

    @property
    def clean(self) -> bool:
        """True when every figure is supported and the read is about its own paper."""
        return not self.unsupported and not self.wrong_subject


def _ascii(text: str) -> str:
    return text.translate(_FULL_WIDTH)


def _excluded_mask(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _EXCLUDED.finditer(text)]


def _inside(spans: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def _glued_into_a_name(text: str, start: int, end: int) -> bool:
    """AGL1K, Llama-3.1-70B, GPT-4, F1, top-5, 1e-4, x86: a number that is part of a word, not a quantity."""
    before = text[start - 1:start] if start else ""
    if before and (_LETTER.match(before) or before in ".^_@"):
        return True
    token = _TOKEN_BEFORE.search(text, max(0, start - 40), start)
    if token and token.group().endswith("-") and _LETTER.search(token.group()):
        return True  # the tail of a hyphenated name; a plain range like 10-20 has no letter
    after = text[end:end + 2]
    if after[:1] and (_LETTER.match(after[0]) or after[0] in "^_"):
        return True
    if after[:1] == "-" and _LETTER.match(after[1:2] or " "):
        return True  # 5-fold, 3-shot, 70B-Instruct: the hyphenated word is a name
    if after[:1] == "." and after[1:2].isdigit():
        return True  # a dotted version the exclusions missed
    return False


def extract_figures(text: str, *, all_numbers: bool = False) -> list[Figure]:
    """The figures stated in text, in order.

    all_numbers (for the source side) keeps every number, names and references included: more support
    there can only spare a true figure, never invent a false alarm.
    """
    plain = _ascii(text)
    excluded = [] if all_numbers else _excluded_mask(plain)
    out: list[Figure] = []
    for m in _NUMBER.finditer(plain):
        num, suffix = m.group("num"), m.group("suffix") or ""
        start = m.start()
        end = m.end() if suffix else m.end("num")
        if suffix and suffix.isalpha() and suffix.isascii() and _LETTER.match(plain[end:end + 1] or " "):
            # "16 kHzs"? no: "5 Mbps" / "3 hours" etc. with a longer word: keep the number, drop the suffix.
            suffix, end = "", m.end("num")
        if suffix and m.group("space") and suffix in {"k", "K", "M", "B", "G", "T", "s", "h", "x"}:
            suffix, end = "", m.end("num")  # "5 M" / "10 s" alone are too ambiguous to scale
        head = plain[max(0, start - 14):start]
        if not all_numbers and (
            _inside(excluded, start, m.end("num"))
            or _glued_into_a_name(plain, start, end)
            or _REFERENCE_BEFORE.search(head)
            or _REFERENCE_AFTER.match(plain[end:end + 4])
        ):
            continue
        value = abs(float(num.replace(",", "")))
        decimals = len(num.split(".")[1]) if "." in num else 0
        percent = suffix in _PERCENT
        scale = _SCALES.get(suffix, 1.0) * _UNITS.get(suffix, 1.0)
        normalized = value * scale
        if percent:
            kind: Kind = "percent"
        elif "." in num:
            kind = "decimal"
        else:
            kind = "count"
            if not all_numbers and max(value, normalized) < 10:
                continue
            if (
                not all_numbers
                and not suffix
                and re.fullmatch(r"(19|20)\d\d", num)
                and not _COUNTED.match(plain, end)
            ):
                continue  # a year, unless it counts something
        approx: Literal["", "about", "at least"] = ""
        if _APPROX_BEFORE.search(head):
            approx = "about"
        elif _AT_LEAST_BEFORE.search(head):
            approx = "at least"
        out.append(Figure(text[start:end], start, end, kind, value, normalized, decimals, approx))
    return out


def _tolerance(fig: Figure) -> float:
    return 0.5 * 10.0 ** (-fig.decimals)


def _candidates(fig: Figure) -> list[tuple[float, float]]:
    """(number, tolerance) pairs the read figure may be matched as."""
    tol = _tolerance(fig)
    scale = fig.normalized / fig.value if fig.value else 1.0
    out = [(fig.value, tol), (fig.normalized, tol * scale)]
    if fig.kind == "percent":
        out.append((fig.value / 100, tol / 100))  # 15% stated where the paper writes 0.15
    elif fig.value <= 1:
        out.append((fig.value * 100, tol * 100))  # 0.15 stated where the paper writes 15%
    return out


def _close(x: float, y: float, tol: float) -> bool:
    return abs(x - y) <= tol + 1e-9 * max(1.0, abs(x))


def _matches(fig: Figure, values: Iterable[float]) -> bool:
    cands = _candidates(fig)
    for y in values:
        for x, tol in cands:
            if fig.approx == "about":
                tol = max(tol, 0.1 * x)
            if fig.approx == "at least":
                if x - tol <= y <= 1.5 * x + tol:
                    return True
            elif _close(x, y, tol):
                return True
    return False


def _derived(fig: Figure, pairs: Iterable[tuple[Figure, Figure]], *, ratio: bool) -> bool:
    """Whether fig is a difference, ratio or relative change of one of the pairs, within rounding.

    Differences need operands of fig's kind (percentage points from two percentages); a relative change
    is a percentage; a ratio is a decimal stated as one (3.5 倍, 2x). The allowance is fig's own rounding plus what the
    operands' rounding can move the result, no more: a loose one would excuse almost any invented figure.
    """
    scale = fig.normalized / fig.value if fig.value else 1.0
    own = _tolerance(fig) * scale
    for f, g in pairs:
        a, b = f.normalized, g.normalized
        if a == b or not a or not b:
            continue
        # Whole counts are exact (72 countries, 60 minutes); decimals and percentages were rounded.
        ta = 0.0 if f.kind == "count" else _tolerance(f) * (a / f.value if f.value else 1.0)
        tb = 0.0 if g.kind == "count" else _tolerance(g) * (b / g.value if g.value else 1.0)
        results: list[tuple[float, float]] = []
        if f.kind == g.kind == fig.kind:
            results.append((abs(a - b), ta + tb))
        if f.kind == g.kind and fig.kind == "percent":
            for x, y, tx, ty in ((a, b, ta, tb), (b, a, tb, ta)):  # change relative to either
                results.append((abs(x - y) / abs(y) * 100, (tx + ty + abs(x - y) / abs(y) * ty) / abs(y) * 100))
        if ratio and fig.kind == "decimal":
            for x, y, tx, ty in ((a, b, ta, tb), (b, a, tb, ta)):
                results.append((abs(x / y), (tx + abs(x / y) * ty) / abs(y)))
        if any(_close(fig.normalized, r, own + t) for r, t in results):
            return True
    return False


# Words that state a figure as a change or a ratio; only such a figure may be derived.
_CHANGE_BEFORE = re.compile(
    r"(?:比|相对|提升|提高|降低|下降|减少|增加|改善|缩小|高出|低于|高于|差距|领先|超出|优于|减小|增长|加快|快|慢|节省"
    r"|improv\w*|reduc\w*|decreas\w*|increas\w*|gain|drop|lower|higher|better|faster|slower|by)[^。；;\n]{0,12}$",
    re.I,
)
_RATIO_AFTER = re.compile(r"\s*(?:倍|times|x\b|×)", re.I)


def _stated_as_ratio(read: str, fig: Figure) -> bool:
    return fig.text.endswith(("倍", "x", "×")) or bool(_RATIO_AFTER.match(read, fig.end))


def _stated_as_change(read: str, fig: Figure) -> bool:
    if fig.text.endswith(("百分点", "pp", "p.p.")) or _stated_as_ratio(read, fig):
        return True
    return bool(_CHANGE_BEFORE.search(_ascii(read[max(0, fig.start - 20):fig.start])))


# Operands of a derived figure must stand this close in the source (a table row, a sentence).
NEAR_CHARS = 200


def _source_pairs(source: Sequence[Figure]) -> Iterable[tuple[Figure, Figure]]:
    for i, f in enumerate(source):
        for g in source[i + 1:]:
            if g.start - f.end > NEAR_CHARS:
                break
            yield f, g


def _norm_title(title: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z\u4e00-\u9fff]+", " ", _ascii(title).casefold()).split())


def check_read(
    read: str, source_text: str, *, title: str | None = None, other_titles: Iterable[str] = ()
) -> FigureCheck:
    """Split the read's figures into supported and unsupported by the source; flag another paper's title."""
    source = source_text if title is None else f"{title}\n{source_text}"
    figures = extract_figures(read)
    # A read without figures needs no pass over a paper of 60 000 characters.
    source_figs = extract_figures(source, all_numbers=True) if figures else []
    values = {f.value for f in source_figs} | {f.normalized for f in source_figs}
    # A ratio (3.5 倍) is not the paper's 3.5%: a percentage of the source supports no ratio of the read.
    ratios = {f.value for f in source_figs if f.kind != "percent"} | {
        f.normalized for f in source_figs if f.kind != "percent"}
    supported: list[Figure] = []
    missing: list[Figure] = []
    for fig in figures:
        ok = _matches(fig, ratios if _stated_as_ratio(read, fig) else values)
        (supported if ok else missing).append(fig)
    unsupported: list[Figure] = []
    derived: list[Figure] = []
    if missing:
        operands = extract_figures(source)  # figures proper: no years, citations or table numbers
        for fig in missing:
            ok = _stated_as_change(read, fig) and _derived(
                fig, _source_pairs(operands), ratio=_stated_as_ratio(read, fig)
            )
            (derived if ok else unsupported).append(fig)
    supported += derived
    supported.sort(key=lambda f: f.start)
    other = _other_title(read, source, title, other_titles)
    return FigureCheck(figures, supported, unsupported, derived, wrong_subject=other is not None, other_title=other)


def _other_title(read: str, source: str, title: str | None, other_titles: Iterable[str]) -> str | None:
    """Another paper's title the read carries that its own paper's text does not mention (so is not a citation)."""
    read_n = f" {_norm_title(read)} "
    own = _norm_title(title or "")
    source_n = ""  # normalised only when the read names another title
    for other in other_titles:
        o = _norm_title(other)
        if len(o) < 12 or o == own or (own and o in own):
            continue  # a very short title matches ordinary words
        if f" {o} " in read_n:
            source_n = source_n or f" {_norm_title(source)} "
            if f" {o} " not in source_n:
                return other
    return None


def mark_unverified(read: str, unsupported: Iterable[Figure]) -> str:
    """The read with （未核实） right after each unsupported figure; spans are those of check_read(read, ...).

    A figure already followed by the mark is left alone, so re-checking a marked read and marking again
    adds nothing.
    """
    out = read
    for start, end, text in sorted({(f.start, f.end, f.text) for f in unsupported}, reverse=True):
        if read[start:end] != text:
            raise ValueError(f"figure {text!r} is not at {start}:{end} of this read (spans from another text?)")
        if out.startswith(UNVERIFIED, end):
            continue
        out = out[:end] + UNVERIFIED + out[end:]
    return out


def reask_note(unsupported: Iterable[Figure]) -> str:
    """The instruction for the second ask, naming the figures the paper's text does not contain."""
    names: list[str] = []
    for fig in unsupported:
        if fig.text not in names:
            names.append(fig.text)
    listed = "、".join(names)
    return (
        f"上一版解读中的这些数字在论文的摘要和正文里都找不到：{listed}。"
        "请重写这份解读：每个数字都必须能在论文原文中找到，或由原文中的两个数字直接算出（差值、比值或相对变化）；"
        "无法核实的数字请删去，不要估算或引用其他论文的数字。"
    )


def unsupported_texts(check: FigureCheck) -> list[str]:
    """The unsupported figures as written, for the record."""
    return [f.text for f in check.unsupported]



def stated_numbers(read: str) -> list[str]:
    """The read's figures as bare ASCII numbers (4.3, 15, 1,444): what a paper's results table would print.

    Stand-in papers state these so that reads citing them check out, as real papers do.
    """
    out = []
    for fig in extract_figures(read):
        m = re.match(r"[\d.,]+", _ascii(fig.text))
        if m:
            out.append(m.group().rstrip(".,"))
    return out
