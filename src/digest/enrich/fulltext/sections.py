"""A paper's full text for the deep read: download the PDF (or arXiv's HTML), extract and trim it to a budget."""

from __future__ import annotations

import asyncio
import functools
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx

from digest.core.config import Config
from digest.core.files import atomic_write_bytes, safe_file_name
from digest.core.http import USER_AGENT
from digest.core.record import RETRY_NOTE
from digest.core.retry import LONG_WAIT_SECONDS, RetryPolicy, retry_after_seconds
from digest.enrich.textworker import TextWorker, WorkerCrashed, WorkerTimedOut

if TYPE_CHECKING:
    import pymupdf

MAX_REDIRECTS = 5
RETRY_WAIT_CAP_SECONDS = 60.0  # a host asking for a longer pause gets this much, then the next attempt
# A text layer thinner than this is a scan with at most a stray caption or page number.
MIN_TEXT_CHARS = 200
# arXiv's HTML page of a paper that failed to convert is short boilerplate, not the paper.
MIN_HTML_CHARS = 1000


@functools.cache
def _pdf_library() -> ModuleType:
    """PyMuPDF, imported on first use: in the text worker process, never in the one that sends model calls."""
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)  # our own messages say what went wrong; keep stderr clean
    return pymupdf


class FullTextError(Exception):
    """The full text could not be had; `.reason` is plain Chinese for the post."""

    def __init__(self, problem: str, *, retryable: bool = True) -> None:
        self.problem = problem
        self.retryable = retryable
        self.reason = problem + RETRY_NOTE if retryable else problem
        super().__init__(self.reason)

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in the worker process: keep `retryable` across the pickle (the default keeps only args).
        return (_fulltext_error, (self.problem, self.retryable))


def _fulltext_error(problem: str, retryable: bool) -> FullTextError:
    return FullTextError(problem, retryable=retryable)


@dataclass
class FullText:
    """Prepared paper text and where it came from."""

    text: str
    extracted_chars: int
    source: str  # "pdf" | "html"
    downloaded: bool  # False when served from the cache
    sections_dropped: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- PDF text extraction

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
# A heading's number when PyMuPDF puts it on a line of its own: "2", "3.1", "A", "IV.", "A.2".
_HEADING_NUMBER = re.compile(r"^(\d{1,2}(\.\d{1,2}){0,3}\.?|[A-Z](\.\d{1,2}){0,2}\.?|[IVX]{1,5}\.)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ufeff]")


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
    for block in page.get_text("dict", flags=_TEXT_FLAGS)["blocks"]:
        for line in block.get("lines", []):
            text = _CONTROL.sub("", "".join(span["text"] for span in line["spans"])).strip()
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
        if not _HEADING_NUMBER.match(num.text):
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


# ---------------------------------------------------------------- HTML text extraction

_SKIP_TAGS = {"script", "style", "nav", "noscript", "template", "svg", "head", "button", "annotation-xml"}
_BLOCK_TAGS = {
    "p", "div", "section", "article", "br", "li", "ul", "ol", "tr", "table", "figure", "figcaption",
    "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "header", "footer", "dd", "dt",
}  # fmt: skip


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "math":
            # MathML spells formulas token by token; its TeX alttext reads far better in a prompt.
            alt = dict(attrs).get("alttext")
            if alt and not self.skip_depth:
                self.parts.append(f" ${alt}$ ")
            self.skip_depth += 1
        elif tag in _SKIP_TAGS:
            self.skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS or tag == "math":
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.parts.append(data)


def extract_html_text(html: str) -> str:
    """Visible text of an HTML page (script, style and navigation skipped), one block per paragraph."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    blocks = ("".join(parser.parts)).split("\n\n")
    cleaned = [" ".join(_CONTROL.sub("", b).split()) for b in blocks]
    return "\n\n".join(b for b in cleaned if b)


# ---------------------------------------------------------------- preparing the text for the prompt
#
# Headings are found by their shape and checked against the paper's own numbering, since a line like
# "3 Conv Layers" (a figure's label) has the same shape as "3 Experiments":
# - Numbered: "2 WaveNet", "2. MODEL ARCHITECTURE", "IV. EXPERIMENTS", subsections "3.1 ...", IEEE "A. ...".
#   The first top-level heading (number 1 or 2, or I/II) fixes the paper's style: Arabic or Roman, with or
#   without a dot, capitals or not. Later top-level headings must share that style and count upwards (one may
#   be missed); a subsection must carry the current section's number (Arabic) or the next letter (Roman papers).
# - Lettered top-level headings in an Arabic-numbered paper ("A Text-to-Speech Background", "B. Proofs") are
#   appendices wherever they sit: they must run A, B, C... and read like a title.
# - Unnumbered standard names ("Abstract", "INTRODUCTION", "Related work", "References", "Appendix A: ...").
# - IEEE's inline "Abstract—..." opens the abstract section.
# A heading number on a line of its own ("2" then "WAVENET") is read together with the next line.
#
# Kinds (first match of a word-start in the heading wins; subsections of related work or appendices inherit
# their parent's kind, others take their own or else the parent's): abstract, references, ack, appendix, intro,
# related (related/prior/previous work, literature, background), conclusion (conclusion, summary, concluding,
# future work, limitations), results (results, analysis, ablation, discussion, comparison), experiments
# (experiment, evaluation, setup, data, implementation, training, corpus, benchmark), method (method, approach,
# model, architecture, framework, proposed, system, formulation, algorithm, network, design). Any other name is
# "other": body text like method, never dropped whole. Only appendix and related sections are dropped whole.

_NUMBERED_LINE = re.compile(
    r"^(?P<num>(?:\d{1,2}(?:\.\d{1,2}){0,3}|[A-Z](?:\.\d{1,2}){0,3}|[IVX]{1,5})\.?)\s+(?P<name>\S.{0,90})$"
)
_NAMED = re.compile(
    r"^(abstract|introduction|related works?|background|conclusions?|concluding remarks|summary|discussion|"
    r"limitations|references|bibliography|acknowledge?ments?|supplementary materials?|appendix|appendices|"
    r"methods?|methodology|experiments|results|"
    # Further names that open a section in papers without numbers (only trusted while no numbering is seen).
    r"(proposed |our )?(approach|model|method|system|framework|architecture)|experimental (setup|results)|"
    r"evaluation|results and discussion|datasets?|implementation details|experimental evaluation)\s*:?$",
    re.I,
)
_APPENDIX_HEAD = re.compile(r"^appendix\s+(?P<letter>[A-Z]|\d{1,2})(?:\s*[.:—–-]\s*|\s+)(?P<name>\S.*)?$", re.I)
_INLINE_ABSTRACT = re.compile(r"^(Abstract|ABSTRACT)\s*[—–:.\-]\s*(?P<rest>\S.*)$")
# Names that stay unnumbered in numbered papers.
_UNNUMBERED_KINDS = frozenset({"abstract", "references", "ack", "appendix"})
_SMALL_WORDS = frozenset(
    "a an the of for and or in on with to via by at from as vs is are its into using under".split()
)

_KINDS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(r"\b(" + words + ")", re.I))
    for kind, words in [
        ("abstract", "abstract"),
        ("references", "references|bibliography"),
        ("ack", "acknowledg"),
        ("appendix", "appendi|supplementary"),
        ("intro", "introduction"),
        ("related", "related work|prior work|previous work|literature|background"),
        ("conclusion", "conclu|summary|future work|limitation"),
        ("results", "result|analys|ablation|discussion|comparison"),
        ("experiments", "experiment|evaluation|setup|set-up|data|implementation|training|corp|benchmark"),
        ("method", "method|approach|model|architecture|framework|proposed|system|formulation|algorithm|network|design"),
    ]
]


@dataclass
class _Section:
    heading: str  # "" for the text before the first heading (title, authors)
    kind: str
    body: str
    label: str = ""  # an appendix's letter ("A"), for the dropped-sections report

    def render(self) -> str:
        return f"{self.heading}\n\n{self.body}".strip() if self.heading else self.body.strip()


def _kind(heading: str) -> str:
    for kind, pattern in _KINDS:
        if pattern.search(heading):
            return kind
    return "other"


def _roman(s: str) -> int:
    values = {"I": 1, "V": 5, "X": 10}
    total = 0
    for a, b in zip(s, s[1:] + " ", strict=True):
        v = values[a]
        total += -v if b != " " and values[b] > v else v
    return total


def _title_like(name: str) -> bool:
    """Every word but small ones starts with a capital, a digit or a symbol: 'Text-to-Speech Background'."""
    words = [w for w in re.split(r"\s+", name) if w]
    return bool(words) and all(not w[0].islower() or w.lower() in _SMALL_WORDS for w in words)


def _plausible_name(name: str) -> bool:
    """Could be a heading's title: mostly letters, short, not the end of a sentence."""
    letters = sum(c.isalpha() for c in name)
    if letters < 2 or letters < 0.6 * len(name.replace(" ", "")) or name.endswith((".", ",", ";")):
        return False
    if not (name[0].isupper() or name[0].isdigit()) or "=" in name:
        return False
    words = name.split()
    return len(words) <= 10 and (name.isupper() or _title_like(name) or len(words) <= 6)


@dataclass
class _Numbering:
    """What the paper's numbered headings have looked like so far."""

    style: tuple[str, bool, bool] | None = None  # ("arabic"|"roman", dot, capitals)
    top: int = 0
    sub_letter: str = ""  # last "A."-style subsection of a Roman-numbered paper
    appendix_letter: str = ""  # last lettered appendix of an Arabic-numbered paper
    late: bool = False  # the conclusion or the references have been seen


def _same_style(st: _Numbering, system: str, dot: bool, caps: bool, m: re.Match[str]) -> bool:
    """Same numbering and punctuation as the paper's first heading; capitals too, except a short all-capitals
    name in a paper of title-case headings ("4 CTC" among "3 Model" and "5 Results")."""
    if st.style is None or st.style[:2] != (system, dot):
        return False
    return st.style[2] == caps or (caps and len(m.group("name").split()) <= 3)


def _numbered_heading(line: str, st: _Numbering) -> tuple[str, str] | None:
    """('top'|'sub'|'appendix'|'appendix-sub', letter) when `line` continues the paper's numbering, else None."""
    m = _NUMBERED_LINE.match(line)
    if not m or not _plausible_name(m.group("name").strip()):
        return None
    raw = m.group("num")
    dot = raw.endswith(".")
    num = raw.rstrip(".")
    caps = m.group("name").isupper()
    parts = num.split(".")
    if parts[0].isdigit():
        value = int(parts[0])
        if len(parts) > 1:
            return ("sub", "") if st.style and st.style[0] == "arabic" and value == st.top else None
        if st.style is None and value <= 2 or _same_style(st, "arabic", dot, caps, m) and st.top < value <= st.top + 2:
            st.style, st.top = st.style or ("arabic", dot, caps), value
            return "top", ""
        return None
    roman_style = st.style is not None and st.style[0] == "roman"
    if re.fullmatch(r"[IVX]+", num) and dot and len(parts) == 1:
        value = _roman(num)
        if st.style is None and value <= 2 or _same_style(st, "roman", dot, caps, m) and st.top < value <= st.top + 2:
            st.style, st.top, st.sub_letter = st.style or ("roman", dot, caps), value, ""
            return "top", ""
    letter = parts[0]
    if len(letter) != 1:
        return None
    if roman_style and len(parts) == 1:
        # IEEE subsections: A., B., C. within each Roman section.
        expected = chr(ord(st.sub_letter) + 1) if st.sub_letter else "A"
        if dot and letter in (expected, chr(ord(expected) + 1)):
            st.sub_letter = letter
            return "sub", ""
        return None
    if len(parts) > 1:
        return ("appendix-sub", letter) if letter == st.appendix_letter else None
    expected = chr(ord(st.appendix_letter) + 1) if st.appendix_letter else "A"
    # A title line ("A Braided Encoder for...") is no appendix: those come after numbered sections or the end.
    numbered_before = st.style is not None and st.top >= 2
    if letter == expected and (numbered_before or st.late) and (_title_like(m.group("name")) or caps):
        st.appendix_letter = letter
        return "appendix", letter
    return None


def _reflow(lines: list[str]) -> str:
    paras: list[str] = []
    cur: list[str] = []
    for ln in lines:
        if ln.strip():
            cur.append(ln.strip())
        elif cur:
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    return "\n\n".join(paras)


def _joined_numbers(lines: list[str]) -> list[str]:
    """A heading number alone on its line ('2', 'A', 'IV.') joined to the title on the next one."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if _HEADING_NUMBER.match(s):
            j = i + 1
            if j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and _plausible_name(lines[j].strip()):
                out.append(f"{s} {lines[j].strip()}")
                i = j + 1
                continue
        out.append(lines[i])
        i += 1
    return out


def _split_sections(text: str) -> list[_Section]:
    """The text cut at its headings, each section with a kind (see the rules above)."""
    lines = _joined_numbers(text.splitlines())
    sections: list[_Section] = []
    st = _Numbering()
    heading, kind, label, buf = "", "front", "", []
    parent = "front"  # kind of the current top-level section
    after_refs = in_appendix = False
    i = 0
    while i < len(lines):
        s = " ".join(lines[i].split())
        i += 1
        inline_abstract = _INLINE_ABSTRACT.match(s) if not sections and kind == "front" else None
        if not s or (len(s) > 100 and not inline_abstract):
            buf.append(s)
            continue
        new_kind = new_label = ""
        level = "top"
        numbered = None if inline_abstract else _numbered_heading(s, st)
        appendix_head = _APPENDIX_HEAD.match(s)
        if inline_abstract:
            new_kind = "abstract"
        elif numbered:
            level, new_label = numbered
            name = _NUMBERED_LINE.match(s)
            own = _kind(name.group("name")) if name else "other"
            if level.startswith("appendix"):
                new_kind, in_appendix = "appendix", True
            elif level == "sub":
                new_kind = parent if parent in ("related", "appendix", "references", "ack") or own == "other" else own
            else:
                new_kind = own
        elif (named := _NUMBERED_LINE.match(s)) and _kind(named.group("name")) in _UNNUMBERED_KINDS and _NAMED.match(
            named.group("name")
        ):
            # "7. References" counts even where the numbering check fails (a skipped number, another style).
            new_kind = _kind(named.group("name"))
        elif _NAMED.match(s) and s[0].isupper() and (st.style is None or _kind(s) in _UNNUMBERED_KINDS):
            # In a numbered paper a bare "Method" or "Results" is a table's header, not a heading.
            new_kind = _kind(s)
        elif appendix_head and (
            _title_like(appendix_head.group("name") or "") if appendix_head.group("name") else s[-1].isalnum()
        ):
            new_kind, new_label = "appendix", appendix_head.group("letter").upper()
        if not new_kind:
            buf.append(s)
            continue
        sections.append(_Section(heading, kind, _reflow(buf), label))
        if inline_abstract:
            heading, buf = "Abstract", [inline_abstract.group("rest")]
        else:
            heading, buf = s, []
            # An all-capitals title that wraps ("V. IMPLEMENTATION OF THE" / "AGGREGATION MODULE") continues.
            j = i + 1 if i < len(lines) and not lines[i].strip() else i
            if s.isupper() and j < len(lines):
                nxt = " ".join(lines[j].split())
                if nxt and nxt.isupper() and len(nxt.split()) <= 6 and not nxt.endswith(".") and not _NAMED.match(nxt):
                    heading = f"{s} {nxt}"
                    i = j + 1
        if numbered and level == "top" and not after_refs:
            in_appendix = False  # the main numbering goes on: an appendix placed mid-paper has ended
        if new_kind in ("references", "conclusion"):
            st.late = True
        if new_kind == "references":
            after_refs = True
        elif new_kind == "appendix":
            in_appendix = True
        elif (after_refs or in_appendix) and new_kind != "ack":
            new_kind = "appendix"  # whatever follows the references or an appendix heading is supplementary
        kind, label = new_kind, new_label
        if level == "top" or level == "appendix":
            parent = kind
    sections.append(_Section(heading, kind, _reflow(buf), label))
    return [s for s in sections if s.heading or s.body]


def _truncate(body: str, limit: int) -> str:
    if len(body) <= limit:
        return body
    if limit < 20:
        return ""
    cut = body[: limit - 1]
    # End on a sentence or word boundary when one is close.
    for sep in ("。", ". ", " "):
        pos = cut.rfind(sep)
        if pos > limit * 0.7:
            cut = cut[: pos + len(sep)].rstrip()
            break
    return cut + "…"


def _joined(sections: list[_Section]) -> str:
    return "\n\n".join(s.render() for s in sections if s.render())


def _appendix_note(dropped: list[_Section]) -> str:
    """One line for the appendices left out: 'Appendix A–E (12,345 chars)'."""
    size = sum(len(s.render()) for s in dropped)
    labels = list(dict.fromkeys(s.label for s in dropped if s.label))
    steps = [(a, b) for a, b in zip(labels, labels[1:], strict=False)]
    if len(labels) >= 2 and all(len(a) == len(b) == 1 and ord(b) - ord(a) == 1 for a, b in steps):
        which = f" {labels[0]}–{labels[-1]}"
    elif labels:
        which = " " + ", ".join(labels)
    else:
        which = ""
    return f"Appendix{which} ({size:,} chars)"


def prepare_text(text: str, max_chars: int) -> tuple[str, list[str]]:
    """Split into sections, drop references/acknowledgements, then what matters least until it fits max_chars."""
    sections = _split_sections(text)
    dropped: list[str] = []
    kept: list[_Section] = []
    for s in sections:
        if s.kind in ("references", "ack"):
            dropped.append(s.heading)
        else:
            kept.append(s)
    # The title/author block only needs its first lines.
    for s in kept:
        if s.kind == "front":
            s.body = _truncate(s.body, 1500)

    # Drop whole sections, least useful first: appendices (wherever they sit), then related work/background.
    # A "related work" section holding over a third of the paper's text has swallowed sections whose heading was
    # not recognised (the method, the experiments): it is trimmed like body text instead of dropped.
    dropped_appendix: list[_Section] = []
    body_chars = sum(len(s.body) for s in kept if s.kind not in ("appendix", "front"))
    for kind in ("appendix", "related"):
        if len(_joined(kept)) <= max_chars:
            break
        for s in [s for s in kept if s.kind == kind and not (kind == "related" and len(s.body) * 3 > body_chars)][::-1]:
            if len(_joined(kept)) <= max_chars:
                break
            kept.remove(s)
            if kind == "appendix":
                dropped_appendix.insert(0, s)
            else:
                dropped.append(s.heading)
        if kind == "appendix" and dropped_appendix:
            dropped.append(_appendix_note(dropped_appendix))

    # Still too long: trim the longest bodies to a common cap, so short sections (abstract, conclusion) stay whole.
    total = len(_joined(kept))
    if total > max_chars and kept:
        overhead = total - sum(len(s.body) for s in kept)
        room = max(0, max_chars - overhead)
        lengths = sorted(len(s.body) for s in kept)
        cap, used, n = 0, 0, len(lengths)
        for i, length in enumerate(lengths):
            remaining = n - i
            if used + length * remaining > room:
                cap = (room - used) // remaining
                break
            used += length
        else:
            cap = lengths[-1]
        for s in kept:
            s.body = _truncate(s.body, cap)

    out = _joined(kept)
    if len(out) > max_chars:  # headings alone overflow a tiny budget: cut hard, it is a hard limit
        out = out[: max_chars - 1].rstrip() + "…"
    return out, [d for d in dropped if d]


def pdf_to_text(data: bytes, max_chars: int) -> tuple[str, int, list[str]]:
    """The worker's PDF job: prepared text, characters extracted, sections dropped for the budget."""
    raw = extract_pdf_text(data)
    text, dropped = prepare_text(raw, max_chars)
    return text, len(raw), dropped


def html_to_text(data: bytes, max_chars: int) -> tuple[str, int, list[str]]:
    """The worker's HTML job, same shape as pdf_to_text."""
    raw = extract_html_text(data.decode("utf-8", errors="replace"))
    text, dropped = prepare_text(raw, max_chars)
    return text, len(raw), dropped


# ---------------------------------------------------------------- downloading


class _Fail(Exception):
    """One download attempt failed; `retry` says whether another attempt may help."""

    def __init__(
        self, problem: str, *, retry: bool, retryable: bool = True, retry_after: float | None = None, label: str = ""
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.label = label  # what a wait line says the host did: "503", "timeout", "connection failed (…)"
        self.retry = retry
        self.retryable = retryable
        self.retry_after = retry_after  # the host's Retry-After, read by the retry policy


class FullTextFetcher:
    """Gets a paper's prepared full text: cached PDF, else download, else arXiv's HTML rendering."""

    def __init__(
        self,
        cfg: Config,
        http: httpx.AsyncClient,
        cache_dir: Path,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff_seconds: float = 1.0,
        worker: TextWorker | None = None,
        on_wait: Callable[[str], None] | None = None,
        on_long_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.on_wait = on_wait  # told "PDF <url>: 503, retrying in 2 s (1/3)" before each backoff
        self.on_long_wait = on_long_wait  # told the same for waits of LONG_WAIT_SECONDS or more
        self.http = http
        # httpx follows redirects; a loop must end after MAX_REDIRECTS hops whoever built the client.
        http.max_redirects = min(http.max_redirects, MAX_REDIRECTS)
        self._own_worker = worker is None
        self.worker = worker or TextWorker()
        self.cache_dir = Path(cache_dir)
        self.sleep = sleep
        self.backoff_seconds = backoff_seconds
        self.downloads = 0  # completed network downloads
        self.bytes_received = 0  # body bytes read from the network, all attempts
        self._sem = asyncio.Semaphore(cfg.fulltext.download_concurrency)
        self._cap = int(cfg.fulltext.max_pdf_mb * 1024 * 1024)

    def pdf_path(self, paper_id: str) -> Path:
        return self.cache_dir / "pdf" / f"{safe_file_name(paper_id)}.pdf"

    def html_path(self, paper_id: str) -> Path:
        return self.cache_dir / "html" / f"{safe_file_name(paper_id)}.html"

    async def get(self, paper_id: str) -> FullText:
        """Prepared text of one paper (versioned id); raises FullTextError with a reason for the post."""
        max_chars = self.cfg.fulltext.max_chars
        try:
            data, downloaded = await self._pdf_bytes(paper_id)
            try:
                text, extracted, dropped = await self._work(pdf_to_text, data, max_chars)
            except FullTextError as exc:
                if exc.retryable:
                    # The post promises a retry: a cached broken copy would fail the next run the same way.
                    self.pdf_path(paper_id).unlink(missing_ok=True)
                raise
            return FullText(text, extracted, "pdf", downloaded, dropped)
        except FullTextError as pdf_error:
            primary = pdf_error
        try:
            data, downloaded = await self._html_bytes(paper_id)
        except FullTextError:
            raise FullTextError(primary.problem + "，HTML 版本也不可用", retryable=primary.retryable) from None
        text, extracted, dropped = await self._work(html_to_text, data, max_chars)
        if extracted < MIN_HTML_CHARS:
            raise FullTextError(primary.problem + "，HTML 版本也没有正文", retryable=True)
        if downloaded:
            await asyncio.to_thread(atomic_write_bytes, self.html_path(paper_id), data)
        return FullText(text, extracted, "html", downloaded, dropped)

    async def _work(self, fn: Callable[..., tuple[str, int, list[str]]], data: bytes, max_chars: int
                    ) -> tuple[str, int, list[str]]:
        try:
            return await self.worker.run(fn, data, max_chars)
        except WorkerTimedOut:
            raise FullTextError(f"提取文字超过 {self.worker.timeout:g} 秒仍未完成，已中止") from None
        except WorkerCrashed:
            raise FullTextError("解析 PDF 的进程意外退出，无法提取文字") from None

    def close(self) -> None:
        """Stop the text worker process if this fetcher started it."""
        if self._own_worker:
            self.worker.close()

    async def _pdf_bytes(self, paper_id: str) -> tuple[bytes, bool]:
        path = self.pdf_path(paper_id)
        if path.is_file():
            return await asyncio.to_thread(path.read_bytes), False
        url = self.cfg.arxiv.pdf_download_url.format(id=paper_id)
        data = await self._download(url, "PDF")
        if not data:
            raise FullTextError("PDF 文件为空（0 字节）")
        if data.lstrip()[:5] != b"%PDF-":
            raise FullTextError("下载的 PDF 链接返回的不是 PDF（可能是错误页面）")
        await asyncio.to_thread(atomic_write_bytes, path, data)  # fsync off the event loop
        return data, True

    async def _html_bytes(self, paper_id: str) -> tuple[bytes, bool]:
        path = self.html_path(paper_id)
        if path.is_file():
            return await asyncio.to_thread(path.read_bytes), False
        url = self.cfg.arxiv.html_download_url.format(id=paper_id)
        return await self._download(url, "HTML"), True

    async def _download(self, url: str, what: str) -> bytes:
        """GET with retries and backoff on 5xx/timeouts/connection errors; no retry on 4xx."""
        retries = self.cfg.fulltext.max_retries
        policy = RetryPolicy(retries + 1, self.backoff_seconds, max_wait_seconds=RETRY_WAIT_CAP_SECONDS)
        tries = [0]

        def waited(exc: BaseException, seconds: float) -> None:
            tries[0] += 1
            tell = self.on_long_wait if seconds >= LONG_WAIT_SECONDS and self.on_long_wait else self.on_wait
            if tell is not None:
                label = exc.label if isinstance(exc, _Fail) and exc.label else str(exc)
                tell(f"{what} {url}: {label}, retrying in {seconds:.3g} s ({tries[0]}/{retries})")

        async with self._sem:
            try:
                data = await policy.acall(
                    lambda: self._attempt(url, what),
                    retry_if=lambda exc: isinstance(exc, _Fail) and exc.retry,
                    sleep=self.sleep,
                    on_retry=waited,
                )
            except _Fail as last:
                note = f"，已重试 {retries} 次" if last.retry and retries else ""
                raise FullTextError(last.problem + note, retryable=last.retryable) from None
        self.downloads += 1
        return data

    async def _attempt(self, url: str, what: str) -> bytes:
        timeout = self.cfg.fulltext.timeout_seconds
        headers = {"User-Agent": USER_AGENT}
        try:
            async with self.http.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as resp:
                return await self._body(resp, what)
        except httpx.TooManyRedirects:
            raise _Fail(f"{what} 链接重定向超过 {MAX_REDIRECTS} 次（可能是重定向循环）", retry=False) from None
        except httpx.TimeoutException:
            raise _Fail(f"{what} 下载超时（{timeout:g} 秒）", retry=True, label="timeout") from None
        except httpx.TransportError as exc:
            raise _Fail(f"{what} 下载连接失败（{type(exc).__name__}）", retry=True,
                        label=f"connection failed ({type(exc).__name__})") from None

    async def _body(self, resp: httpx.Response, what: str) -> bytes:
        status = resp.status_code
        if status in (404, 410):
            raise _Fail(f"{what} 尚未提供（HTTP {status}）", retry=False)
        if status in (401, 403):
            raise _Fail(f"{what} 下载被拒绝（HTTP {status}）", retry=False)
        if status == 429 or status >= 500:
            wait = retry_after_seconds(resp.headers.get("retry-after"))
            raise _Fail(f"{what} 下载失败（HTTP {status}）", retry=True, retry_after=wait, label=str(status))
        if status != 200:
            raise _Fail(f"{what} 下载失败（HTTP {status}）", retry=False)
        mb = f"{self.cfg.fulltext.max_pdf_mb:g}"
        length = resp.headers.get("content-length", "")
        if length.isdigit() and int(length) > self._cap:
            raise _Fail(f"{what} 超过 {mb} MB 上限", retry=False, retryable=False)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            self.bytes_received += len(chunk)
            if size > self._cap:
                raise _Fail(f"{what} 超过 {mb} MB 上限", retry=False, retryable=False)
            chunks.append(chunk)
        return b"".join(chunks)
