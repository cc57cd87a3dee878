"""The paper's text cut at its headings, each section given a kind, then trimmed to the prompt's budget."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A heading's number when PyMuPDF puts it on a line of its own: "2", "3.1", "A", "IV.", "A.2".
HEADING_NUMBER = re.compile(r"^(\d{1,2}(\.\d{1,2}){0,3}\.?|[A-Z](\.\d{1,2}){0,2}\.?|[IVX]{1,5}\.)$")
# Control characters and replacement marks: never part of what a reader sees, in a PDF or an HTML page.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ufeff]")


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
        if HEADING_NUMBER.match(s):
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


def _heading_of(s: str, st: _Numbering, parent: str, inline_abstract: bool) -> tuple[str, str, str, bool]:
    """(kind, appendix letter, level, numbered?) of line `s`; kind is "" when the line is body text."""
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
            new_kind = "appendix"
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
    return new_kind, new_label, level, numbered is not None


def _wrapped_heading(s: str, lines: list[str], i: int) -> tuple[str, int]:
    """An all-capitals title that wraps ("V. IMPLEMENTATION OF THE" / "AGGREGATION MODULE") continues: the
    whole heading and the index of the line after it (`i` is the line after `s`)."""
    j = i + 1 if i < len(lines) and not lines[i].strip() else i
    if s.isupper() and j < len(lines):
        nxt = " ".join(lines[j].split())
        if nxt and nxt.isupper() and len(nxt.split()) <= 6 and not nxt.endswith(".") and not _NAMED.match(nxt):
            return f"{s} {nxt}", j + 1
    return s, i


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
        new_kind, new_label, level, numbered = _heading_of(s, st, parent, inline_abstract is not None)
        if not new_kind:
            buf.append(s)
            continue
        sections.append(_Section(heading, kind, _reflow(buf), label))
        if inline_abstract:
            heading, buf = "Abstract", [inline_abstract.group("rest")]
        else:
            (heading, i), buf = _wrapped_heading(s, lines, i), []
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

