"""A local arXiv: the API at /api/query (search and id_list, arXiv-style Atom) and the listing feed at /atom/<cats>."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from xml.sax.saxutils import escape, quoteattr

from ..models import Paper, split_id
from ..window import NEW_YORK
from .base import Reply, Request, StandIn

ATOM = "application/atom+xml; charset=utf-8"
_CAT = re.compile(r"cat:([A-Za-z.-]+)")
_DATES = re.compile(r"submittedDate:\[(\d{12}) TO (\d{12})\]")


def make_paper(
    arxiv_id: str,
    published: datetime,
    *,
    categories: tuple[str, ...] | list[str] = ("cs.SD",),
    title: str | None = None,
    abstract: str | None = None,
    authors: tuple[str, ...] | list[str] = ("Ada Example", "Bo Sample"),
    updated: datetime | None = None,
    comment: str = "",
) -> Paper:
    """A Paper with invented text, for tests and the demo; times are turned into aware UTC."""
    pub = published.astimezone(UTC)
    return Paper(
        id=arxiv_id,
        title=title if title is not None else f"Invented study number {arxiv_id}",
        authors=tuple(authors),
        categories=tuple(categories),
        abstract=abstract if abstract is not None else f"We describe invented experiment {arxiv_id} on audio.",
        published=pub,
        updated=(updated or published).astimezone(UTC),
        comment=comment,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_xml(p: Paper, *, abs_base: str = "http://arxiv.org/abs/") -> str:
    """One API entry in arXiv's Atom shape (primary category, category terms, comment, links)."""
    parts = [
        "  <entry>",
        f"    <id>{escape(abs_base + p.id)}</id>",
        f"    <updated>{_iso(p.updated)}</updated>",
        f"    <published>{_iso(p.published)}</published>",
        f"    <title>{escape(p.title)}</title>",
        f"    <summary>{escape(p.abstract)}</summary>",
    ]
    parts += [f"    <author>\n      <name>{escape(a)}</name>\n    </author>" for a in p.authors]
    if p.comment:
        parts.append(f"    <arxiv:comment>{escape(p.comment)}</arxiv:comment>")
    parts.append(f'    <link href={quoteattr(abs_base + p.id)} rel="alternate" type="text/html"/>')
    pdf = abs_base.replace("/abs/", "/pdf/") + p.id
    parts.append(f'    <link title="pdf" href={quoteattr(pdf)} rel="related" type="application/pdf"/>')
    if p.categories:
        parts.append(
            f'    <arxiv:primary_category term={quoteattr(p.categories[0])} scheme="http://arxiv.org/schemas/atom"/>'
        )
    parts += [f'    <category term={quoteattr(c)} scheme="http://arxiv.org/schemas/atom"/>' for c in p.categories]
    parts.append("  </entry>")
    return "\n".join(parts)


def api_feed(entries: list[str], *, total: int, start: int, per_page: int, title: str = "arXiv Query") -> bytes:
    """A whole API answer from pre-rendered entries."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
        f"  <id>https://arxiv.org/api/standin</id>\n  <title>{escape(title)}</title>\n"
        f"  <updated>{_iso(datetime.now(UTC))}</updated>\n"
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>\n"
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
        f"  <opensearch:itemsPerPage>{per_page}</opensearch:itemsPerPage>\n"
    )
    body = "\n".join(entries)
    return (head + body + ("\n" if body else "") + "</feed>\n").encode("utf-8")


def listing_stamp(mailing_date: date) -> datetime:
    """How arXiv dates a listing: New-York midnight after the 20:00 mailing."""
    return datetime.combine(mailing_date + timedelta(days=1), time(0, 0), tzinfo=NEW_YORK)


@dataclass
class ListingSpec:
    mailing_date: date | None
    entries: list[tuple[str, str]] = field(default_factory=list)


class ArxivStandIn(StandIn):
    """Serves invented papers like export.arxiv.org and rss.arxiv.org would; faults via the helpers below."""

    def __init__(
        self,
        papers: list[Paper] | None = None,
        listing: tuple[date | None, list[tuple[str, str]]] | None = None,
    ) -> None:
        super().__init__()
        self.papers: list[Paper] = list(papers or [])
        self._listing = ListingSpec(*listing) if listing else ListingSpec(None, [])

    # -- configuration helpers
    @property
    def api_url(self) -> str:
        return self.url + "/api/query"

    @property
    def listing_url(self) -> str:
        return self.url + "/atom/{categories}"

    def set_listing(self, mailing_date: date | None, entries: list[tuple[str, str]]) -> None:
        """What the listing feed shows next: the mailing's New-York date and (id, announce_type) pairs."""
        self._listing = ListingSpec(mailing_date, list(entries))

    def empty_page_next(self, total: int = 0) -> None:
        """The next request gets a well-formed feed with no entries (arXiv's known glitch)."""
        self.fail_next(Reply(body=api_feed([], total=total, start=0, per_page=0), content_type=ATOM))

    def error_next(self, status: int = 503, retry_after: str | None = None, times: int = 1) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.fail_next(*[Reply(status=status, body=b"busy", headers=dict(headers)) for _ in range(times)])

    def html_next(self, times: int = 1) -> None:
        page = b"<!DOCTYPE html>\n<html><head><title>Maintenance</title></head><body>Back soon.</body></html>\n"
        self.fail_next(*[Reply(body=page, content_type="text/html; charset=utf-8") for _ in range(times)])

    def truncated_next(self, times: int = 1) -> None:
        """The next answers are cut off mid-document (a well-formed start, no end)."""
        entries = [entry_xml(p) for p in self.papers[:2]] or ["  <entry><id>http://arxiv.org/abs/2601.0"]
        whole = api_feed(entries, total=len(self.papers), start=0, per_page=2)
        cut = whole[: max(60, len(whole) * 2 // 3)]
        self.fail_next(*[Reply(body=cut, content_type=ATOM) for _ in range(times)])

    # -- request log views
    @property
    def search_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/api/query" and "search_query" in r.query]

    @property
    def id_list_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/api/query" and "id_list" in r.query]

    @property
    def listing_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.startswith("/atom/")]

    # -- serving
    def handle(self, request: Request) -> Reply:
        if request.path == "/api/query":
            return self._api(request)
        if request.path.startswith("/atom/"):
            return self._listing_feed(request)
        return Reply(status=404, body=b"not found")

    def _api(self, request: Request) -> Reply:
        q = {k: v[0] for k, v in request.query.items()}
        start = int(q.get("start", "0") or 0)
        per_page = int(q.get("max_results", "10") or 10)
        if "id_list" in q:
            wanted = [i for i in q["id_list"].split(",") if i]
            chosen = [p for w in wanted for p in self.papers if w in (p.id, p.base_id)]
        else:
            query = q.get("search_query", "")
            cats = set(_CAT.findall(query))
            span = _DATES.search(query)
            chosen = [p for p in self.papers if not cats or cats & set(p.categories)]
            if span:
                lo, hi = span.group(1), span.group(2)
                # arXiv's range is inclusive and minute grained.
                chosen = [p for p in chosen if lo <= p.published.strftime("%Y%m%d%H%M") <= hi]
            descending = q.get("sortOrder", "descending") != "ascending"
            chosen.sort(key=lambda p: (p.published, p.id), reverse=descending)
        page = chosen[start : start + per_page]
        body = api_feed([entry_xml(p) for p in page], total=len(chosen), start=start, per_page=per_page)
        return Reply(body=body, content_type=ATOM)

    def _listing_feed(self, request: Request) -> Reply:
        cats = request.path[len("/atom/") :]
        spec = self._listing
        by_id = {p.id: p for p in self.papers} | {p.base_id: p for p in self.papers}
        stamp = listing_stamp(spec.mailing_date) if spec.mailing_date else datetime.now(NEW_YORK)
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xml:lang="en-us">',
            f"  <id>http://rss.arxiv.org/atom/{escape(cats)}</id>",
            f"  <title>{escape(cats)} updates on arXiv.org</title>",
            f"  <updated>{stamp.isoformat()}</updated>",
            f'  <link href="http://rss.arxiv.org/atom/{escape(cats)}" rel="self" type="application/atom+xml"/>',
            f"  <subtitle>{escape(cats)} updates on the arXiv.org e-print archive.</subtitle>",
        ]
        for arxiv_id, kind in spec.entries:
            p = by_id.get(arxiv_id)
            title = p.title if p else f"Listed paper {arxiv_id}"
            abstract = p.abstract if p else "An invented abstract."
            authors = ", ".join(p.authors) if p else "Ada Example"
            base = p.base_id if p else split_id(arxiv_id)[0]
            versioned = p.id if p else arxiv_id
            lines += [
                "  <entry>",
                f"    <id>oai:arXiv.org:{escape(versioned)}</id>",
                f"    <title>{escape(title)}</title>",
                f"    <updated>{stamp.isoformat()}</updated>",
                f'    <link href="https://arxiv.org/abs/{escape(base)}" rel="alternate" type="text/html"/>',
                f"    <summary>arXiv:{escape(versioned)} Announce Type: {escape(kind)}\nAbstract: {escape(abstract)}"
                "</summary>",
            ]
            lines += [f"    <category term={quoteattr(c)}/>" for c in (p.categories if p else ("cs.SD",))]
            lines += [
                f"    <published>{stamp.isoformat()}</published>",
                f"    <arxiv:announce_type>{escape(kind)}</arxiv:announce_type>",
                "    <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>",
                f"    <dc:creator>{escape(authors)}</dc:creator>",
                "  </entry>",
            ]
        lines.append("</feed>")
        return Reply(body=("\n".join(lines) + "\n").encode("utf-8"), content_type=ATOM)
