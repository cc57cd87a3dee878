"""Visible text of arXiv's HTML rendering of a paper, for when its PDF cannot be had."""

from __future__ import annotations

from html.parser import HTMLParser

from digest.enrich.fulltext.sections import CONTROL_CHARS, prepare_text

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
    cleaned = [" ".join(CONTROL_CHARS.sub("", b).split()) for b in blocks]
    return "\n\n".join(b for b in cleaned if b)


def html_to_text(data: bytes, max_chars: int) -> tuple[str, int, list[str]]:
    """The worker's HTML job, same shape as pdf_to_text."""
    raw = extract_html_text(data.decode("utf-8", errors="replace"))
    text, dropped = prepare_text(raw, max_chars)
    return text, len(raw), dropped
