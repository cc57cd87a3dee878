"""Text of a PDF in reading order: columns, running heads, notices, margin stamps and line-end hyphens handled."""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from digest.enrich.fulltext.errors import FullTextError
from digest.enrich.fulltext.sections import CONTROL_CHARS, HEADING_NUMBER, prepare_text

if TYPE_CHECKING:
    import pymupdf

# A text layer thinner than this is a scan with at most a stray caption or page number.
MIN_TEXT_CHARS = 200


@functools.cache
def _pdf_library() -> ModuleType:
    """PyMuPDF, imported on first use: in the text worker process, never in the one that sends model calls."""
    import pymupdf

    tools: Any = pymupdf.TOOLS  # PyMuPDF's methods carry no type annotations
    tools.mupdf_display_errors(False)  # our own messages say what went wrong; keep stderr clean
    return pymupdf


_MARGIN_SHARE = 0.08  # top and bottom share of the page where running headers and page numbers live
_BARE_NUMBER = re.compile(r"^\s*(\d{1,4}|[ivxlc]{1,6}|page \d+( of \d+)?|\d+\s*/\s*\d+)\s*$", re.I)
_HYPHEN_END = re.compile(r"[A-Za-z0-9]-$")
# Plain text, ligatures spelled out ("ﬁ" -> "fi"), no images: PyMuPDF's default for "dict" adds both.
_TEXT_FLAGS = 2 | 64  # TEXT_PRESERVE_WHITESPACE | TEXT_MEDIABOX_CLIP
# arXiv's vertical margin stamp: "arXiv:2307.01386v1  [cs.SD]  3 Jul 2023" (old ids: "arXiv:cs/0101001v1").
_ARXIV_STAMP = re.compile(
    r"arXiv:\s*(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})v\d+\s*\[[\w.\-]+\]\s*\d{1,2}\s+[A-Z][a-z]{2}\s+\d{4}"
)
# Publisher lines that are not the paper: copyright and licence notices, download stamps.
_NOTICE = re.compile(
    r"©|\(c\)\s*(19|20)\d\d|\bcopyright\b.{0,20}(19|20)\d\d|personal use (of this material )?is permitted|"
    r"publications/rights|authorized licensed use limited to|downloaded on .{0,40} from ieee xplore",
    re.I,
)
# IEEE's first-page footnote: "Manuscript received ...; revised ...", followed by the authors' affiliations.
_MANUSCRIPT = re.compile(r"^(Manuscript received|Manuscript submitted|Received \w+ \d{1,2}, \d{4})")


@dataclass
class _Line:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    size: float = 0.0  # font size of the line's first span


def _page_lines(page: pymupdf.Page) -> list[_Line]:
    out: list[_Line] = []
    vertical: list[_Line] = []
    layout: dict[str, Any] = cast(Any, page).get_text("dict", flags=_TEXT_FLAGS)  # untyped in PyMuPDF
    for block in layout["blocks"]:
        for line in block.get("lines", []):
            text = CONTROL_CHARS.sub("", "".join(span["text"] for span in line["spans"])).strip()
            if not text or _ARXIV_STAMP.search(text):
                continue
            x0, y0, x1, y1 = line["bbox"]
            item = _Line(x0, y0, x1, y1, text, line["spans"][0]["size"])
            # Rotated text in a page of horizontal text is a margin stamp or a figure's axis label.
            (vertical if abs(line["dir"][0]) < 0.5 else out).append(item)
    if sum(len(ln.text) for ln in vertical) > sum(len(ln.text) for ln in out):
        out = vertical  # a page set sideways (a landscape table): its text is the page
    return _join_heading_numbers(out)


def _join_heading_numbers(lines: list[_Line]) -> list[_Line]:
    """Put a heading's number back on its title's line: PyMuPDF splits '2' from 'WAVENET' across a wide gap."""
    dropped: set[int] = set()
    for i, num in enumerate(lines):
        if not HEADING_NUMBER.match(num.text):
            continue
        height = max(num.y1 - num.y0, 1.0)
        best: _Line | None = None
        for ln in lines:
            gap = ln.x0 - num.x1
            if ln is num or abs(ln.y0 - num.y0) > 0.3 * height or not 0 <= gap <= 4 * height:
                continue
            if best is None or ln.x0 < best.x0:
                best = ln
        if best is not None and best.text[:1].isupper():
            # A drop capital ("S" + "PEECH separation...") is the first letter of the word beside it.
            drop_cap = num.text.isalpha() and num.size > 1.5 * best.size and best.text.split()[0].isupper()
            best.text = f"{num.text}{'' if drop_cap else ' '}{best.text}"
            best.x0 = num.x0
            dropped.add(i)
    return [ln for i, ln in enumerate(lines) if i not in dropped] if dropped else lines


def _reading_order(lines: list[_Line], width: float) -> list[_Line]:
    """Left column before right column, band by band between full-width lines (titles, wide figures)."""
    mid = width / 2
    slack = width * 0.01
    right = [ln for ln in lines if ln.x0 >= mid - slack]
    if len(right) < 3:  # one column: top to bottom
        return sorted(lines, key=lambda ln: (round(ln.y0), ln.x0))
    ordered: list[_Line] = []
    left_band: list[_Line] = []
    right_band: list[_Line] = []

    def flush() -> None:
        ordered.extend(sorted(left_band, key=lambda ln: ln.y0))
        ordered.extend(sorted(right_band, key=lambda ln: ln.y0))
        left_band.clear()
        right_band.clear()

    for ln in sorted(lines, key=lambda ln: (ln.y0, ln.x0)):
        if ln.x1 <= mid + slack:
            left_band.append(ln)
        elif ln.x0 >= mid - slack:
            right_band.append(ln)
        else:
            flush()
            ordered.append(ln)
    flush()
    return ordered


def _margin_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.strip().lower())


def _drop_notices(lines: list[_Line]) -> list[_Line]:
    """Without copyright/licence lines and IEEE's 'Manuscript received' footnote (it runs to a change of font size)."""
    out: list[_Line] = []
    footnote_size = 0.0
    for ln in lines:
        if footnote_size:
            if abs(ln.size - footnote_size) < 0.3:
                continue
            footnote_size = 0.0
        if _MANUSCRIPT.match(ln.text):
            footnote_size = ln.size or 0.01
            continue
        if _NOTICE.search(ln.text):
            continue
        out.append(ln)
    return out


def _with_paragraph_breaks(lines: list[_Line]) -> list[str]:
    """Line texts, with an empty line where the vertical gap or a column jump says a paragraph ended."""
    out: list[str] = []
    prev: _Line | None = None
    for ln in lines:
        if prev is not None:
            height = max(prev.y1 - prev.y0, 1.0)
            gap = ln.y0 - prev.y1
            if gap > 0.2 * height or gap < -height:
                out.append("")
        out.append(ln.text)
        prev = ln
    return out


# Line-end hyphens. TeX breaks a word only between syllables, leaves at least two letters before the break and
# three after it, and never breaks a word that already has a hyphen elsewhere. So "recog-/nition" is one word,
# while "end-/to-end", "GMM-/based" or "i-/vector" keep their hyphen. When the next line starts lower-case:
# 1. the document decides first: whichever of "feed-forward" and "feedforward" the paper uses elsewhere wins;
# 2. else the hyphen is kept when either part already holds a hyphen or a digit, the left part is an acronym or
#    a single letter, or the left part is an adverb in -ly of six letters or more ("widely-/used");
# 3. else when the pair uses a common compound element: a first element below ("self", "time", "multi"...)
#    followed by a word the paper uses on its own ("self-/attention"), or a second element below ("-based",
#    "-level", "-domain"...) after at least four letters;
# 4. else when both halves are words of four or more letters that the paper uses on their own
#    ("post-/processing", "ground-/truth"), unless the right one is a suffix that is also a word ("-fully");
# everything else is a broken word and is joined ("mod-/els" -> "models").
_COMPOUND_FIRST = frozenset(
    "self non end time frequency mel log high low one two three multi single cross semi state sequence text "
    "speech speaker well long short full fine real large small deep far near hand zero few".split()
)
_COMPOUND_SECOND = re.compile(
    r"^(based|level|wise|like|aware|free|domain|dependent|independent|specific|driven|guided|oriented|trained|"
    r"agnostic|only|scale|dimensional|channel|speaker|end|time|term|grained|quality|order|supervised|related|"
    r"invariant|shot|resolution|sized|length)\b"
)
# Closed words that the second-element list would otherwise split: "otherwise", "likewise", "clockwise".
_CLOSED_FIRST = frozenset({"other", "like", "clock"})
_SUFFIX_WORDS = frozenset("fully less ness ment ments able ably ship ward wards hood ever where".split())
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_EDGE_PUNCT = "\"'“”‘’()[]{},.;:!?"


def _vocabulary(lines: list[str]) -> Counter[str]:
    """Lower-case word counts of the text, leaving out the two halves of every line-end hyphen."""
    counts: Counter[str] = Counter()
    follows_hyphen = False
    for text in lines:
        words = _WORD.findall(text.lower())
        ends_hyphen = bool(_HYPHEN_END.search(text))
        if follows_hyphen and words:
            words = words[1:]
        if ends_hyphen and words:
            words = words[:-1]
        counts.update(words)
        for w in words:
            if "-" in w:
                counts.update(w.split("-"))
        follows_hyphen = ends_hyphen
    return counts


def _keep_hyphen(left: str, right: str, vocab: Counter[str]) -> bool:
    """Whether 'left-' at a line end and 'right' at the next line's start are a compound (see the rule above)."""
    left = left.rsplit("/", 1)[-1].lstrip(_EDGE_PUNCT)
    right = right.rstrip(_EDGE_PUNCT)
    lo, ro = left.lower(), right.lower()
    hyphenated, joined = vocab[f"{lo}-{ro}"], vocab[lo + ro]
    if hyphenated or joined:
        return hyphenated >= joined
    if "-" in left or "-" in right or any(c.isdigit() for c in left + right):
        return True
    letters = [c for c in left if c.isalpha()]
    if len(letters) <= 1 or all(c.isupper() for c in letters) or (len(lo) >= 6 and lo.endswith("ly")):
        return True
    if lo in _COMPOUND_FIRST and vocab[ro] > 0:
        return True
    if len(lo) >= 4 and lo not in _CLOSED_FIRST and _COMPOUND_SECOND.match(ro):
        return True
    return len(lo) >= 4 and len(ro) >= 4 and ro not in _SUFFIX_WORDS and vocab[lo] > 0 and vocab[ro] > 0


def _join_hyphens(lines: list[str]) -> list[str]:
    """Undo end-of-line hyphenation ('recog-' + 'nition'), keeping real compounds ('end-' + 'to-end')."""
    vocab = _vocabulary(lines)
    out: list[str] = []
    for text in lines:
        if out and text and (text[0].isalnum()):
            # Look back over paragraph breaks the column or page jump may have inserted.
            j = len(out) - 1
            while j >= 0 and out[j] == "" and j >= len(out) - 2:
                j -= 1
            if j >= 0 and _HYPHEN_END.search(out[j]):
                prev = out[j]
                first = text.split(maxsplit=1)[0]
                if not text[0].islower() or _keep_hyphen(prev[:-1].rsplit(maxsplit=1)[-1], first, vocab):
                    out[j] = prev + text  # "non-" + "Gaussian", "end-" + "to-end": the hyphen is real
                else:
                    out[j] = prev[:-1] + text
                del out[j + 1 :]
                continue
        out.append(text)
    return out


def _edge_lines(lines: list[_Line], h: float) -> list[_Line]:
    """The topmost and the bottommost row of a page, when they lie in its margins."""
    if not lines:
        return []
    top = min(ln.y0 for ln in lines)
    bottom = max(ln.y1 for ln in lines)
    return [
        ln for ln in lines
        if (ln.y0 <= top + 2 and ln.y1 < h * _MARGIN_SHARE) or (ln.y1 >= bottom - 2 and ln.y0 > h * (1 - _MARGIN_SHARE))
    ]  # fmt: skip


def extract_pdf_text(data: bytes) -> str:
    """Text of a PDF in reading order, without running headers, page numbers, notices or line-end hyphens."""
    if not data:
        raise FullTextError("PDF 文件为空（0 字节）")
    if not data.lstrip()[:5] == b"%PDF-":
        raise FullTextError("下载的内容不是 PDF（可能是错误页面）")
    try:
        doc = _pdf_library().open(stream=data, filetype="pdf")
    except Exception:  # PyMuPDF raises several types for broken files; all mean the same here
        raise FullTextError("PDF 文件损坏，无法打开") from None
    try:
        if doc.needs_pass or doc.is_encrypted:
            raise FullTextError("PDF 已加密，无法提取文字", retryable=False)
        if doc.page_count == 0:
            raise FullTextError("PDF 没有页面")
        pages: list[tuple[list[_Line], float, float]] = []
        try:
            for page in doc:
                pages.append((_page_lines(page), page.rect.width, page.rect.height))
        except Exception:
            raise FullTextError("PDF 文件损坏，无法读取页面内容") from None
    finally:
        doc.close()

    # Running headers/footers: the same text (digits ignored) in the page margins on many pages, or, at the
    # very top or bottom of a page, on two or more (odd and even pages of a journal carry different heads).
    margin_counts: Counter[str] = Counter()
    edge_counts: Counter[str] = Counter()
    for lines, _w, h in pages:
        seen = {_margin_key(ln.text) for ln in lines if ln.y1 < h * _MARGIN_SHARE or ln.y0 > h * (1 - _MARGIN_SHARE)}
        margin_counts.update(seen)
        edge_counts.update({_margin_key(ln.text) for ln in _edge_lines(lines, h)})
    repeat_floor = max(2, (len(pages) + 1) // 2)

    text_lines: list[str] = []
    for lines, w, h in pages:
        edges = {id(ln) for ln in _edge_lines(lines, h)}
        kept = []
        for ln in lines:
            in_margin = ln.y1 < h * _MARGIN_SHARE or ln.y0 > h * (1 - _MARGIN_SHARE)
            key = _margin_key(ln.text)
            if in_margin and (
                _BARE_NUMBER.match(ln.text)
                or margin_counts[key] >= repeat_floor
                or (id(ln) in edges and edge_counts[key] >= 2)
            ):
                continue
            kept.append(ln)
        if text_lines:
            text_lines.append("")
        text_lines.extend(_with_paragraph_breaks(_drop_notices(_reading_order(kept, w))))
    text = "\n".join(_join_hyphens(text_lines))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(re.sub(r"\s", "", text)) < MIN_TEXT_CHARS:
        raise FullTextError("PDF 无文字层（扫描件），无法提取文字", retryable=False)
    return text



def pdf_to_text(data: bytes, max_chars: int) -> tuple[str, int, list[str]]:
    """The worker's PDF job: prepared text, characters extracted, sections dropped for the budget."""
    raw = extract_pdf_text(data)
    text, dropped = prepare_text(raw, max_chars)
    return text, len(raw), dropped

