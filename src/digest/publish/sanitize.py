"""Make text from the model or from arXiv safe to put inside a post, changing well-formed text not at all.

The rules (DESIGN section 1): only paper titles are headings; no script, style, iframe (or other
elements that run code or swallow the page), no event-handler attributes, no javascript: URLs,
and nothing that closes the details block early. Everything else passes byte for byte.
"""

from __future__ import annotations

import html
import re

# Elements that run code, load things, or swallow the rest of the page as raw text; and the
# ones our own post structure uses, which model output must not open or close.
_BLOCKED_TAGS = frozenset(
    """script style iframe frame frameset object embed applet form input button textarea select option
    meta link base svg math noscript noembed noframes template xmp plaintext listing title head body html
    img image video audio source track picture canvas dialog portal
    details summary div""".split()
)
_DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:", "livescript:")

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:_-]*)([^<>]*)(>?)")
_MARKUP_DECL = re.compile(r"<(?=[!?])")  # comments, CDATA, doctype, processing instructions
_EVENT_ATTR = re.compile(r"(^|[\s\"'/])on[a-z]+\s*=", re.IGNORECASE)
_ATTR_URL = re.compile(r"(?:href|src|action|formaction|xlink:href|srcdoc|style)\s*=", re.IGNORECASE)
_LINK_TARGET = re.compile(r"(\]\(\s*<?)([^)\s>]*)")
_REF_DEF = re.compile(r"^(\s{0,3}\[[^\]]+\]:\s*<?)(\S+)", re.MULTILINE)
_AUTOLINK = re.compile(r"<(?=\s*[A-Za-z][A-Za-z0-9+.-]*\s*:)")
_JS_TEXT = re.compile(r"(javascript|vbscript|livescript)(\s*):", re.IGNORECASE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_THEMATIC = re.compile(r"^ {0,3}((\*[ \t]*){3,}|(-[ \t]*){3,}|(_[ \t]*){3,})$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_WS = re.compile(r"\s+")


def _is_dangerous_url(url: str) -> bool:
    plain = html.unescape(url)
    plain = re.sub(r"[\x00-\x20\x7f]+", "", plain).lower()
    return plain.startswith(_DANGEROUS_SCHEMES)


def _escape_tag(m: re.Match[str]) -> str:
    name, attrs = m.group(2).lower(), m.group(3)
    if name in _BLOCKED_TAGS:
        return "&lt;" + m.group(0)[1:]
    if attrs and (_EVENT_ATTR.search(attrs) or _ATTR_URL.search(attrs)):
        return "&lt;" + m.group(0)[1:]
    return m.group(0)


def _fix_links(text: str) -> str:
    def target(m: re.Match[str]) -> str:
        return m.group(1) + ("#" if _is_dangerous_url(m.group(2)) else m.group(2))

    text = _LINK_TARGET.sub(target, text)
    text = _REF_DEF.sub(target, text)

    def autolink(m: re.Match[str]) -> str:
        rest = text[m.end() : m.end() + 40]
        return "&lt;" if _is_dangerous_url(rest) else "<"

    text = _AUTOLINK.sub(autolink, text)
    # Whatever is left is plain text, but a URL-looking "javascript:" has no business in a post.
    return _JS_TEXT.sub(lambda m: m.group(1) + m.group(2) + "：", text)


def escape_html(text: str) -> str:
    """Neutralise dangerous HTML and URLs in one piece of text; leave everything else as is."""
    if "<" in text:
        text = _MARKUP_DECL.sub("&lt;", text)
        text = _TAG.sub(_escape_tag, text)
    if ":" in text or "&" in text:
        text = _fix_links(text)
    return text


def _bold_heading(content: str | None) -> str:
    content = (content or "").strip()
    if not content:
        return ""
    # Strip bold markers the model already put in, so we do not emit ****text****.
    if content.startswith("**") and content.endswith("**") and len(content) > 4:
        content = content[2:-2].strip()
    return f"**{content}**"


def _clean_lines(text: str) -> tuple[str, list[tuple[int, str]]]:
    """clean_block's work, plus (line index, what changed) for every line it altered (indices of the stripped text)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
    out: list[str] = []
    origin: list[int] = []  # the source line of each output line
    notes: list[tuple[int, str]] = []
    fence: str | None = None
    for n, line in enumerate(text.split("\n")):
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
        elif fm := _FENCE.match(line):
            fence = fm.group(1)[0] * 3
        elif h := _ATX.match(line):
            line = _bold_heading(h.group(1))
            notes.append((n, "a heading inside the text becomes bold text (only paper titles are headings)"))
        elif _THEMATIC.match(line):
            # A rule inside a deep read reads as the end of a paper section; a blank line loses nothing.
            line = ""
            notes.append((n, "a '---' rule inside the text is dropped (it would end the paper's section)"))
        elif _SETEXT.match(line) and out and out[-1].strip():
            # "text\n===" or "text\n-" would make the text a heading.
            out.append("")
            origin.append(n)
            notes.append((n, "a blank line is put before an underline (it would make a heading)"))
        out.append(line)
        origin.append(n)
    joined = "\n".join(out)
    escaped = escape_html(joined)
    if escaped != joined:
        # escape_html never adds or removes a line break, so output lines still pair with their sources.
        for n, before, after in zip(origin, out, escaped.split("\n"), strict=True):
            if before != after:
                notes.append((n, "markup that could run code or break the page is escaped"))
    return escaped.strip(), sorted(set(notes))


def clean_block(text: str) -> str:
    """Model output or an abstract, for a Markdown block: safe, no headings, whitespace-trimmed."""
    return _clean_lines(text)[0]


def why_changed(text: str) -> list[tuple[int, str]]:
    """(line index in text.strip(), reason) for each line clean_block would change; empty when it keeps the text."""
    cleaned, notes = _clean_lines(text)
    if cleaned == text.strip() or notes:
        return notes
    return [(0, "whitespace or control characters are normalised")]


def clean_inline(text: str) -> str:
    """Metadata for one line (title, author list): whitespace collapsed, no markup that can break out."""
    text = _WS.sub(" ", text.replace("\x00", "")).strip()
    return escape_html(text)


_ENDRAW = re.compile(r"\{%(-?\s*endraw\s*-?)%\}")
_GUARDED_ENDRAW = re.compile(r"\{&#37;(-?\s*endraw\s*-?)&#37;\}")


def needs_raw(text: str) -> bool:
    """Whether Liquid would read something in this text as its own syntax."""
    return "{{" in text or "{%" in text


def guard_endraw(text: str) -> str:
    """Inside a raw block only an endraw tag is live: show it with an entity so it stays text."""
    return _ENDRAW.sub(lambda m: "{&#37;" + m.group(1) + "&#37;}", text)


def unguard_endraw(text: str) -> str:
    """The inverse of guard_endraw, for reading a raw block back."""
    return _GUARDED_ENDRAW.sub(lambda m: "{%" + m.group(1) + "%}", text)
