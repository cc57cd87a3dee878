"""Generate paper-like PDFs with PyMuPDF: invented text, two columns, running header, page numbers.

Tests, benchmarks and the demo use these instead of real papers (no third-party text is committed).
The marker sentences below let a test find out which sections survived extraction and preparation.
"""

from __future__ import annotations

import functools
import re

import pymupdf

RUNNING_HEADER = "Proceedings of the Imaginary Workshop on Listening Machines"
METHOD_MARKER = "The braided resonance encoder folds every spectral band into a shared lattice of phase tokens."
RESULTS_MARKER = "On the marsh chorus benchmark the braided encoder lowers the error rate from nine to four percent."
RELATED_MARKER = "Earlier lattice coders from the pond listening community relied on fixed filter banks."
INTRO_MARKER = "Listening machines still stumble when many voices overlap in reverberant rooms."
CONCLUSION_MARKER = "We conclude that braided resonance is a simple and robust path for overlapped speech."
ACK_MARKER = "We thank the night shift of the imaginary compute cluster for their patience."
REFERENCE_MARKER = "Quill and Ember, A treatise on reed pipes, Journal of Unlikely Acoustics, 1901."
APPENDIX_MARKER = "The appendix lists every hyperparameter of the braided encoder in a single table."
ARXIV_STAMP = "arXiv:2611.04242v1  [eess.AS]  3 Nov 2026"
COPYRIGHT_LINE = "1070-9908 © 2026 IEEE. Personal use is permitted, but republication requires IEEE permission."
MANUSCRIPT_NOTE = (
    "Manuscript received 2 March 2026; revised 9 April 2026; accepted 1 May 2026. This work was supported by "
    "the Imaginary Foundation for Quiet Rooms. Ada Reed is with the Department of Listening, Marsh University."
)
# A heading number that LaTeX sets apart from its title: "2", "3.1", "A", "IV." (PyMuPDF splits them).
_HEADING_NUMBER = re.compile(r"^(\d+(\.\d+)*\.?|[A-Z]\.?|[IVX]+\.)\s+(\S.*)$")

# A4 in points; 9 pt Helvetica at 11 pt leading, like a dense conference template.
_W, _H = 595.0, 842.0
_MARGIN = 50.0
_GUTTER = 20.0
_TOP, _BOTTOM = 60.0, 790.0
_SIZE, _LEAD = 9.0, 11.0
_HEAD_SIZE = 10.0

_FILLER = (
    "The separation head listens to each frame of the mixture and predicts a soft mask for every "
    "talker, while the auxiliary branch keeps track of the room response over the whole utterance. "
    "All models are trained for forty epochs with a cosine learning rate schedule and small batches."
)


def _default_sections() -> list[tuple[str, str]]:
    return [
        (
            "Abstract",
            "We present a braided resonance encoder for separating overlapped speech in reverberant rooms. "
            "It replaces fixed filter banks with learned phase tokens and improves recognition of every talker.",
        ),
        (
            "1 Introduction",
            f"{INTRO_MARKER} Conventional front ends treat every band independently and discard phase. "
            "This paper argues that a shared representation across bands is the missing ingredient.\n\n"
            "Our contributions are a new encoder, a training recipe and a careful evaluation.",
        ),
        (
            "2 Related Work",
            f"{RELATED_MARKER} Later systems learned the filters but kept them separate per band. "
            "Mask estimation networks have improved steadily, yet their inputs remained magnitude spectra.",
        ),
        (
            "3 Method",
            f"{METHOD_MARKER} Each token carries a magnitude and a phase offset relative to its neighbours. "
            "A light transformer mixes tokens across bands before the separation head predicts the masks.\n\n"
            "The loss combines a scale invariant signal measure with a penalty on phase discontinuity.",
        ),
        (
            "4 Experiments",
            "We train on simulated mixtures of two and three talkers with measured room impulse responses. "
            "Evaluation uses held out rooms and speakers, and recognition is scored with a frozen recognizer.",
        ),
        (
            "5 Results",
            f"{RESULTS_MARKER} Gains are largest in the most reverberant rooms and for three talkers. "
            "Removing the phase penalty costs about one point, which shows that continuity matters.",
        ),
        ("6 Conclusion", f"{CONCLUSION_MARKER} Future work will study music and environmental sound."),
        ("Acknowledgements", ACK_MARKER),
    ]


@functools.lru_cache(maxsize=256)  # filler paragraphs repeat; wrapping them once keeps big PDFs quick
def _wrap(text: str, width: float, fontname: str, size: float) -> tuple[str, ...]:
    """Greedy word wrap; long lowercase words are hyphenated at the line end, as TeX would."""

    def fits(s: str) -> bool:
        return pymupdf.get_text_length(s, fontname=fontname, fontsize=size) <= width

    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if fits(candidate):
            line = candidate
            continue
        if word.isalpha() and word.islower() and len(word) >= 8 and line:
            # Split so both parts keep at least three letters; the hyphen goes on this line.
            for cut in range(len(word) - 3, 2, -1):
                if fits(f"{line} {word[:cut]}-"):
                    lines.append(f"{line} {word[:cut]}-")
                    word = word[cut:]
                    break
            else:
                lines.append(line)
        elif line:
            lines.append(line)
        line = word
    if line:
        lines.append(line)
    return tuple(lines)


class _Layout:
    """Flows lines down columns and pages, adding the running header and page number to each page."""

    def __init__(
        self,
        doc: pymupdf.Document,
        two_column: bool,
        header: str | tuple[str, str] | None,
        top: float,
        *,
        split_numbers: bool = False,
        first_bottom: float = _BOTTOM,
    ) -> None:
        self.doc = doc
        self.two_column = two_column
        self.header = header
        self.split_numbers = split_numbers
        self.first_bottom = first_bottom  # the left column of page one ends higher when a footnote sits below it
        full = _W - 2 * _MARGIN
        self.col_width = (full - _GUTTER) / 2 if two_column else full
        self.col = 0
        self.pending: list[tuple[float, float, str, str, float]] = []
        self.page: pymupdf.Page | None = None
        self.y = top
        self._new_page(first_top=top)

    def _new_page(self, first_top: float | None = None) -> None:
        if self.page is not None:
            self.flush()
        self.page = self.doc.new_page(width=_W, height=_H)
        number = self.doc.page_count
        if self.header:
            # A pair of heads alternates between odd and even pages, as in IEEE journals.
            head = self.header if isinstance(self.header, str) else self.header[(number - 1) % 2]
            self.page.insert_text((_MARGIN, 34), head, fontsize=8, fontname="helv")
        self.page.insert_text((_W / 2 - 4, 818), str(number), fontsize=8, fontname="helv")
        self.col = 0
        self.y = first_top if first_top is not None else _TOP

    def _x(self) -> float:
        return _MARGIN + self.col * (self.col_width + _GUTTER)

    def _advance(self) -> None:
        if self.two_column and self.col == 0:
            self.col = 1
            self.y = self.col_top
        else:
            self._new_page()
            self.col_top = _TOP

    col_top = _TOP

    def _bottom(self) -> float:
        return self.first_bottom if self.doc.page_count == 1 and self.col == 0 else _BOTTOM

    def line(self, text: str, *, fontname: str = "helv", size: float = _SIZE) -> None:
        if self.y + _LEAD > self._bottom():
            self._advance()
        m = _HEADING_NUMBER.match(text) if self.split_numbers and fontname == "hebo" else None
        if m:
            # Number and title as two pieces with a wide gap, the way LaTeX sets a section heading.
            self.pending.append((self.y + size, self._x(), m.group(1), fontname, size))
            self.pending.append((self.y + size, self._x() + 22, m.group(3), fontname, size))
        else:
            self.pending.append((self.y + size, self._x(), text, fontname, size))
        self.y += _LEAD if size <= _SIZE else _LEAD + 2

    def flush(self) -> None:
        """Write the page's lines row by row across both columns, as some PDF producers do.

        The file order then interleaves the columns, so only a layout-aware reader gets the text right.
        """
        assert self.page is not None
        for y, x, text, fontname, size in sorted(self.pending):
            self.page.insert_text((x, y), text, fontsize=size, fontname=fontname)
        self.pending = []

    def gap(self, points: float) -> None:
        self.y += points

    def paragraph(self, text: str) -> None:
        for ln in _wrap(text, self.col_width, "helv", _SIZE):
            self.line(ln)
        self.gap(5)

    def heading(self, text: str) -> None:
        if not text:  # a paragraph that carries its own label, like IEEE's "Abstract—..."
            return
        if self.y + 3 * _LEAD > self._bottom():  # keep a heading with its first lines
            self._advance()
        self.gap(4)
        self.line(text, fontname="hebo", size=_HEAD_SIZE)
        self.gap(2)


def _layout(
    title: str,
    sections: list[tuple[str, str]],
    two_column: bool,
    header: str | tuple[str, str] | None,
    references: bool,
    *,
    split_numbers: bool = False,
    ieee_notices: bool = False,
    arxiv_stamp: bool = False,
) -> pymupdf.Document:
    doc = pymupdf.open()
    # Title block spans the full width of page one; the columns start below it.
    title_lines = _wrap(title, _W - 2 * _MARGIN, "hebo", 14)
    top = 70 + 18 * len(title_lines) + 30
    layout = _Layout(doc, two_column, header, top, split_numbers=split_numbers,
                     first_bottom=700.0 if ieee_notices else _BOTTOM)
    page = layout.page
    assert page is not None
    if arxiv_stamp:
        page.insert_text((30, 600), ARXIV_STAMP, fontsize=20, fontname="tiro", rotate=90, color=(0.5, 0.5, 0.5))
    if ieee_notices:
        # The first-page footnote under the left column (smaller type), and the copyright line under the page.
        y = 712.0
        for ln in _wrap(MANUSCRIPT_NOTE, layout.col_width, "helv", 7):
            page.insert_text((_MARGIN, y), ln, fontsize=7, fontname="helv")
            y += 8.5
        page.insert_text((_MARGIN, 806), COPYRIGHT_LINE, fontsize=7, fontname="helv")
    y = 70.0
    for ln in title_lines:
        page.insert_text((_MARGIN, y + 14), ln, fontsize=14, fontname="hebo")
        y += 18
    page.insert_text((_MARGIN, y + 12), "Ada Reed, Basil Marsh, Cora Finch", fontsize=10, fontname="helv")
    layout.col_top = top
    for heading, body in sections:
        layout.heading(heading)
        for para in body.split("\n\n"):
            if para.strip():
                layout.paragraph(para.strip())
    if references:
        layout.heading("References")
        layout.paragraph(f"[1] {REFERENCE_MARKER}")
        layout.paragraph("[2] Moss and Heron, Listening through fog, Notes on Quiet Signals, 1923.")
        layout.heading("Appendix A Hyperparameters")
        layout.paragraph(APPENDIX_MARKER)
    layout.flush()
    return doc


def make_paper_pdf(
    title: str,
    sections: list[tuple[str, str]] | None = None,
    *,
    pages: int | None = None,
    two_column: bool = True,
    running_header: str | tuple[str, str] | None = RUNNING_HEADER,
    references: bool = True,
    encrypt: bool = False,
    image_only: bool = False,
    split_numbers: bool = False,
    ieee_notices: bool = False,
    arxiv_stamp: bool = False,
) -> bytes:
    """Build a paper-like PDF from invented text; `pages` pads the Experiments section with filler.

    `running_header` may be a pair (odd, even pages); `split_numbers` sets heading numbers apart from their
    titles as LaTeX does; `ieee_notices` adds a "Manuscript received" footnote and a copyright line to page one;
    `arxiv_stamp` adds arXiv's vertical margin stamp.
    """
    secs = list(sections) if sections is not None else _default_sections()
    extras = {"split_numbers": split_numbers, "ieee_notices": ieee_notices, "arxiv_stamp": arxiv_stamp}
    doc = _layout(title, secs, two_column, running_header, references, **extras)
    if pages is not None and doc.page_count < pages:
        # Roughly 120 filler lines fill one two-column page; grow until the count is reached.
        extra = 0
        while doc.page_count < pages:
            extra += max(4, (pages - doc.page_count) * 24)
            padded = [(h, b + ("\n\n" + _FILLER) * extra if h.endswith("Experiments") else b) for h, b in secs]
            if not any(h.endswith("Experiments") for h, _ in secs):
                padded.append(("4 Experiments", "\n\n".join([_FILLER] * extra)))
            doc.close()
            doc = _layout(title, padded, two_column, running_header, references, **extras)
    if image_only:
        scanned = pymupdf.open()
        for page in doc.pages():
            pix = page.get_pixmap(dpi=40)
            new = scanned.new_page(width=page.rect.width, height=page.rect.height)
            new.insert_image(new.rect, pixmap=pix)
        doc.close()
        doc = scanned
    if encrypt:
        aes_256 = pymupdf.PDF_ENCRYPT_AES_256  # type: ignore[attr-defined]  # set at import, unseen by the stubs
        data = doc.tobytes(encryption=aes_256, owner_pw="owner-secret", user_pw="user-secret")
    else:
        data = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data


def make_paper_pdf_stating(title: str, figures: list[str], *, pages: int | None = 2) -> bytes:
    """A paper whose results state each figure given (as a results table would), so a read citing them checks out.

    Seed replays use it: their reads cite figures, and a stand-in paper without them would fail the figure check.
    """
    stated = ", ".join(dict.fromkeys(figures)) or "none"
    table = f"The results table reports these measured values, in order: {stated}."
    sections = [(h, f"{b}\n\n{table}" if h.endswith("Results") else b) for h, b in _default_sections()]
    return make_paper_pdf(title, sections, pages=pages)
