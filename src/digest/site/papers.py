"""One page per paper: who links to it, the Highwire `citation_*` meta reference managers read, and BibTeX.

Zotero's and Mendeley's browser connectors save a paper from the `citation_*` meta tags in a page's head, as
on arXiv's own abstract pages; the BibTeX follows arXiv's `@misc` form (eprint, archivePrefix, primaryClass).
A paper posted on several days (a new version, a re-post) has one page, shown from its newest day, that links
every day it was posted on.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from digest.site.pages import DayPage, PaperCard, base_id

_ID_YYMM = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")
_WORD = re.compile(r"[A-Za-z0-9]+")
_SMALL_WORDS = frozenset({"a", "an", "the", "on", "of", "in", "for", "and", "to", "with", "towards", "toward", "via"})


@dataclass
class PaperPage:
    """A paper's own page: the card from the newest day it was posted on, and every such day (newest first)."""

    card: PaperCard
    posted: list[tuple[DayPage, PaperCard]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.card.paper_url

    @property
    def file(self) -> str:
        return self.card.paper_url + "index.html"

    @property
    def day(self) -> DayPage:
        """The newest day the paper was posted on."""
        return self.posted[0][0]

    @property
    def base_id(self) -> str:
        return base_id(self.card.entry) if self.card.entry else self.card.id


def paper_pages(posts: list[DayPage]) -> list[PaperPage]:
    """Every paper once, in the order of the days (newest first) and of each day's papers."""
    by_url: dict[str, PaperPage] = {}
    for post in posts:
        for card in post.papers:
            page = by_url.setdefault(card.paper_url, PaperPage(card))
            page.posted.append((post, card))
    return list(by_url.values())


def first_version_date(paper: PaperPage) -> dt.date | None:
    """When the paper's first version appeared, from the record (imported posts do not say)."""
    entry = paper.card.entry
    if entry is None or not entry.published:
        return None
    try:
        return dt.datetime.fromisoformat(entry.published).date()
    except ValueError:
        return None


def _year(paper: PaperPage) -> str:
    first = first_version_date(paper)
    if first is not None:
        return str(first.year)
    m = _ID_YYMM.match(paper.base_id)  # 2601.03227: submitted in 2026
    return f"20{m.group(1)}" if m else paper.day.date[:4]


def citation_meta(paper: PaperPage) -> list[tuple[str, str]]:
    """The Highwire meta tags (name, content) of a paper page, in the order arXiv writes them."""
    card = paper.card
    tags = [("citation_title", card.title)]
    tags += [("citation_author", author) for author in card.authors]
    first = first_version_date(paper)
    if first is not None:
        tags.append(("citation_publication_date", first.strftime("%Y/%m/%d")))
    else:  # only the day it was posted here is known
        tags.append(("citation_date", paper.day.date.replace("-", "/")))
    if card.pdf_url.startswith(("https://", "http://")):
        tags.append(("citation_pdf_url", card.pdf_url))
    tags.append(("citation_arxiv_id", paper.base_id))
    abstract = " ".join(card.entry.abstract.split()) if card.entry else ""
    if abstract:
        tags.append(("citation_abstract", abstract))
    return tags


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def bibtex_key(paper: PaperPage) -> str:
    """arXiv's kind of key: first author's family name, year, first word of the title that is not a small one."""
    family = _WORD.findall(_ascii(paper.card.authors[0]).split()[-1]) if paper.card.authors else []
    words = [w for w in _WORD.findall(_ascii(paper.card.title)) if w.lower() not in _SMALL_WORDS]
    key = ("".join(family) + _year(paper) + (words[0] if words else "")).lower()
    return key if family else "arxiv" + re.sub(r"[^0-9a-z]", "", paper.base_id.lower())


def _braced(text: str) -> str:
    # A BibTeX value lives between braces: an unbalanced one in a title would swallow the rest of the entry.
    depth = 0
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            break
    return text if depth == 0 else text.replace("{", "").replace("}", "")


def bibtex(paper: PaperPage) -> str:
    """The paper's BibTeX entry in arXiv's own `@misc` form."""
    card = paper.card
    fields = [
        ("title", _braced(card.title)),
        ("author", _braced(" and ".join(card.authors))),
        ("year", _year(paper)),
        ("eprint", paper.base_id),
        ("archivePrefix", "arXiv"),
    ]
    if card.categories:
        fields.append(("primaryClass", card.categories[0]))
    fields.append(("url", f"https://arxiv.org/abs/{paper.base_id}"))
    body = ",\n".join(f"      {name}={{{value}}}" for name, value in fields)
    return f"@misc{{{bibtex_key(paper)},\n{body},\n}}"
