"""TeX to MathML at build time, so pages show math offline with no script and no third-party host.

Delimiters, as the posts write them:

- `\\(…\\)` and `$…$` are inline; `\\[…\\]` is display.
- `$$…$$` is display when it stands alone on its line (a paragraph of its own, or a line of its own
  inside a list item); inside a sentence it stays inline, so the sentence is not broken in three.
- Single dollars follow Pandoc's rule, so prices are left alone: the opening `$` must be followed by a
  non-space, the closing `$` preceded by a non-space and not followed by a digit (`$5 and $6` is text).
  `\\$` is a literal dollar.

A formula latex2mathml cannot convert is shown as its TeX in `<code class="math-error">`, never an error.
latex2mathml passes `\\text{…}` through unescaped and turns `\\href` into an attribute, so its output is
rebuilt here from a whitelist of MathML elements and attributes.
"""

from __future__ import annotations

import functools
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from latex2mathml.converter import convert_to_element
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

MATHML_NS = "http://www.w3.org/1998/Math/MathML"

_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup mfrac msqrt mroot mstyle merror mpadded mphantom "
    "mfenced menclose munder mover munderover mtable mtr mtd mlabeledtr mmultiscripts mprescripts none "
    "semantics annotation".split()
)
_ATTRIBUTES = frozenset(
    "display mathvariant mathsize mathcolor mathbackground stretchy fence separator lspace rspace accent "
    "accentunder movablelimits largeop symmetric minsize maxsize linethickness columnalign rowalign "
    "columnspacing rowspacing columnlines rowlines frame displaystyle scriptlevel width height depth "
    "notation open close separators form align".split()
)
# Attribute values are words, numbers, lengths and colours; anything else (a URL, a script) is dropped.
_SAFE_VALUE = re.compile(r"^[#\w .%+-]*$")


@dataclass(frozen=True)
class MathSpan:
    """One formula found in a text: where it ends, its TeX (without delimiters), whether it is display."""

    end: int
    tex: str
    display: bool
    source: str  # the formula with its delimiters, as written


# ---------------------------------------------------------------- conversion


def _clean(element: ET.Element) -> ET.Element:
    tag = element.tag if element.tag in _ELEMENTS else "mtext"
    attrs = {
        k: v for k, v in element.attrib.items() if k in _ATTRIBUTES and _SAFE_VALUE.match(v)
    }
    if tag == "math":
        attrs = {"xmlns": MATHML_NS, **attrs}
    out = ET.Element(tag, attrs)
    # latex2mathml stores symbols as entity text (&#x0003D;) next to raw user text: decode both to characters
    # and let the serializer escape them once.
    out.text = html.unescape(element.text) if element.text else None
    for child in element:
        out.append(_clean(child))
    out.tail = html.unescape(element.tail) if element.tail else None
    return out


def tex_to_mathml(tex: str, *, display: bool = False) -> str:
    """MathML for one formula; TeX that cannot be converted comes back as `<code class="math-error">`."""
    return _tex_to_mathml(tex, display)


@functools.lru_cache(maxsize=4096)
def _tex_to_mathml(tex: str, display: bool) -> str:
    # An archive repeats many formulas (L_k, x_t …); conversion is the slow part of rendering math.
    try:
        element = convert_to_element(tex, display="block" if display else "inline")
        return ET.tostring(_clean(element), encoding="unicode", short_empty_elements=True)
    except Exception:  # latex2mathml raises many kinds (and sometimes IndexError) on malformed TeX
        return math_error(tex, display=display)


def math_error(source: str, *, display: bool = False) -> str:
    """The fallback for a formula that cannot be converted: its TeX, escaped, marked for styling."""
    kind = "math-error display" if display else "math-error"
    return f'<code class="{kind}">{html.escape(source, quote=False)}</code>'


def _convert(span: MathSpan) -> str:
    out = tex_to_mathml(span.tex, display=span.display)
    if out.startswith("<code"):
        return math_error(span.source, display=span.display)
    return out


# ---------------------------------------------------------------- finding math


def _alone_on_line(src: str, start: int, end: int) -> bool:
    before = src.rfind("\n", 0, start) + 1
    after = src.find("\n", end)
    after = len(src) if after < 0 else after
    return not src[before:start].strip() and not src[end:after].strip()


def _find_unescaped(src: str, needle: str, pos: int, limit: int) -> int:
    while True:
        at = src.find(needle, pos, limit)
        if at < 0:
            return -1
        slashes = len(src[:at]) - len(src[:at].rstrip("\\"))
        if slashes % 2 == 0:
            return at
        pos = at + 1


def find_math(src: str, pos: int, limit: int | None = None) -> MathSpan | None:
    """The formula starting exactly at `pos` in src (looking no further than `limit`), or None."""
    limit = len(src) if limit is None else limit
    if src.startswith("\\(", pos) or src.startswith("\\[", pos):
        closer = "\\)" if src[pos + 1] == "(" else "\\]"
        end = src.find(closer, pos + 2, limit)
        if end < 0 or not src[pos + 2 : end].strip():
            return None
        return MathSpan(end + 2, src[pos + 2 : end].strip(), closer == "\\]", src[pos : end + 2])
    if src.startswith("$$", pos):
        end = _find_unescaped(src, "$$", pos + 2, limit)
        if end < 0 or not src[pos + 2 : end].strip():
            return None
        display = _alone_on_line(src, pos, end + 2)
        return MathSpan(end + 2, src[pos + 2 : end].strip(), display, src[pos : end + 2])
    if src.startswith("$", pos):
        if pos + 1 >= limit or src[pos + 1].isspace() or src[pos + 1] == "$":
            return None
        search = pos + 1
        while True:
            end = _find_unescaped(src, "$", search, limit)
            if end < 0:
                return None
            if src[end - 1].isspace() or "\n\n" in src[pos:end]:
                return None  # `$5 and $6`: the candidate closer has a space before it
            if end + 1 < limit and src[end + 1].isdigit():
                search = end + 1
                continue
            return MathSpan(end + 1, src[pos + 1 : end], False, src[pos : end + 1])
    return None


def render_text(text: str) -> str:
    """Plain text (a title, an abstract) as HTML: escaped, with its formulas as MathML."""
    out: list[str] = []
    pos = last = 0
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and text.startswith(("\\(", "\\["), pos) or ch == "$":
            span = find_math(text, pos)
            if span is not None:
                out.append(html.escape(text[last:pos], quote=False))
                out.append(_convert(span))
                pos = last = span.end
                continue
        if ch == "\\" and pos + 1 < len(text) and text[pos + 1] == "$":
            out.append(html.escape(text[last:pos], quote=False))
            last = pos + 1  # `\$` shows as `$`
            pos += 2
            continue
        pos += 1
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


# ---------------------------------------------------------------- markdown-it


def _math_rule(state: StateInline, silent: bool) -> bool:
    """Take a whole formula before escapes, emphasis or code spans can touch the TeX."""
    if state.src[state.pos] not in "$\\":
        return False
    span = find_math(state.src, state.pos, state.posMax)
    if span is None:
        return False
    if not silent:
        token = state.push("mathml", "math", 0)
        token.content = span.tex
        token.markup = span.source
        token.meta = {"display": span.display}
    state.pos = span.end
    return True


def _render_math(self: object, tokens: Sequence[Token], idx: int, options: object, env: object) -> str:
    token = tokens[idx]
    display = bool(token.meta.get("display"))
    return _convert(MathSpan(0, token.content, display, token.markup))


def math_plugin(md: MarkdownIt) -> None:
    """markdown-it-py plugin: `md.use(math_plugin)` renders TeX in Markdown as MathML (see module doc)."""
    md.inline.ruler.before("escape", "mathml", _math_rule)
    md.add_render_rule("mathml", _render_math)
