"""A local arXiv: the API at /api/query (search and id_list, arXiv-style Atom), listing feeds at /atom/ and /rss/."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

from digest.core.record import Paper, split_id
from digest.core.window import NEW_YORK
from digest.standins.base import Reply, Request, StandIn

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
    doi: str = "",
    journal_ref: str = "",
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
        doi=doi,
        journal_ref=journal_ref,
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
    if p.journal_ref:
        parts.append(f"    <arxiv:journal_ref>{escape(p.journal_ref)}</arxiv:journal_ref>")
    if p.doi:
        parts.append(f"    <arxiv:doi>{escape(p.doi)}</arxiv:doi>")
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
    """How arXiv dates a listing's entries: New-York midnight after the 20:00 mailing."""
    return datetime.combine(mailing_date + timedelta(days=1), time(0, 0), tzinfo=NEW_YORK)


_ATOM_HEAD_UPDATED = re.compile(rb"(<feed\b.*?<updated>)[^<]*(</updated>)", re.DOTALL)
_ENTRY_UPDATED = re.compile(rb"(<entry>.*?<updated>)[^<]*(</updated>)", re.DOTALL)
_RSS_BUILD = re.compile(rb"(<lastBuildDate>)[^<]*(</lastBuildDate>)")


def restamp(feed: bytes, built: datetime) -> bytes:
    """A listing feed (Atom or RSS 2.0) with its build time set to `built`; listing dates untouched."""
    atom = built.astimezone(UTC).isoformat().encode()
    rss = format_datetime(built.astimezone(UTC)).encode()
    feed = _ATOM_HEAD_UPDATED.sub(lambda m: m.group(1) + atom + m.group(2), feed, count=1)
    feed = _ENTRY_UPDATED.sub(lambda m: m.group(1) + atom + m.group(2), feed)
    return _RSS_BUILD.sub(lambda m: m.group(1) + rss + m.group(2), feed)


@dataclass
class ListingSpec:
    mailing_date: date | None
    entries: list[tuple[str, str]] = field(default_factory=list)
    built: datetime | None = None  # the feed's build time; None: the listing's own midnight
    raw: Reply | None = None  # a whole feed served as is (a real one, say) instead of the above


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

    @property
    def rss_listing_url(self) -> str:
        return self.url + "/rss/{categories}"

    def set_listing(
        self, mailing_date: date | None, entries: list[tuple[str, str]], *, built: datetime | None = None
    ) -> None:
        """What the listing feed shows next: the mailing's New-York date, (id, announce_type) pairs, build time."""
        self._listing = ListingSpec(mailing_date, list(entries), built)

    def serve_listing(self, body: bytes, *, status: int = 200, content_type: str = ATOM) -> None:
        """Serve these feed bytes (e.g. a real feed, see restamp) on both listing paths until set_listing."""
        self._listing = ListingSpec(None, [], raw=Reply(status=status, body=body, content_type=content_type))

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
        return [r for r in self.requests if r.path.startswith(("/atom/", "/rss/"))]

    # -- serving
    def handle(self, request: Request) -> Reply:
        if request.path == "/api/query":
            return self._api(request)
        if request.path.startswith(("/atom/", "/rss/")):
            if self._listing.raw is not None:
                return self._listing.raw
            if request.path.startswith("/rss/"):
                return self._rss_listing(request.path[len("/rss/") :])
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

    def _listed(self) -> tuple[datetime, datetime, list[tuple[str, str, Paper | None]]]:
        spec = self._listing
        by_id = {p.id: p for p in self.papers} | {p.base_id: p for p in self.papers}
        listed = listing_stamp(spec.mailing_date) if spec.mailing_date else datetime.now(NEW_YORK)
        built = spec.built or listed
        return listed, built, [(arxiv_id, kind, by_id.get(arxiv_id)) for arxiv_id, kind in spec.entries]

    @staticmethod
    def _shown(arxiv_id: str, p: Paper | None) -> tuple[str, str, str, str, str, tuple[str, ...]]:
        return (
            p.title if p else f"Listed paper {arxiv_id}",
            p.abstract if p else "An invented abstract.",
            ", ".join(p.authors) if p else "Ada Example",
            p.base_id if p else split_id(arxiv_id)[0],
            p.id if p else arxiv_id,
            p.categories if p else ("cs.SD",),
        )

    def _listing_feed(self, request: Request) -> Reply:
        # Like rss.arxiv.org's Atom form: `updated` is the build time, entries' `published` the listing date.
        cats = request.path[len("/atom/") :]
        listed, built, items = self._listed()
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xml:lang="en-us">',
            f"  <id>http://rss.arxiv.org/atom/{escape(cats)}</id>",
            f"  <title>{escape(cats)} updates on arXiv.org</title>",
            f"  <updated>{built.isoformat()}</updated>",
            f'  <link href="http://rss.arxiv.org/atom/{escape(cats)}" rel="self" type="application/atom+xml"/>',
            f"  <subtitle>{escape(cats)} updates on the arXiv.org e-print archive.</subtitle>",
        ]
        for arxiv_id, kind, p in items:
            title, abstract, authors, base, versioned, categories = self._shown(arxiv_id, p)
            lines += [
                "  <entry>",
                f"    <id>oai:arXiv.org:{escape(versioned)}</id>",
                f"    <title>{escape(title)}</title>",
                f"    <updated>{built.isoformat()}</updated>",
                f'    <link href="https://arxiv.org/abs/{escape(base)}" rel="alternate" type="text/html"/>',
                f"    <summary>arXiv:{escape(versioned)} Announce Type: {escape(kind)}\nAbstract: {escape(abstract)}"
                "</summary>",
            ]
            lines += [f"    <category term={quoteattr(c)}/>" for c in categories]
            lines += [
                f"    <published>{listed.isoformat()}</published>",
                f"    <arxiv:announce_type>{escape(kind)}</arxiv:announce_type>",
                "    <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>",
                f"    <dc:creator>{escape(authors)}</dc:creator>",
                "  </entry>",
            ]
        lines.append("</feed>")
        return Reply(body=("\n".join(lines) + "\n").encode("utf-8"), content_type=ATOM)

    def _rss_listing(self, cats: str) -> Reply:
        # Like rss.arxiv.org's RSS 2.0 form: lastBuildDate is the build time, pubDate the listing date.
        listed, built, items = self._listed()
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:atom="http://www.w3.org/2005/Atom" version="2.0">',
            "  <channel>",
            f"    <title>{escape(cats)} updates on arXiv.org</title>",
            f"    <link>http://rss.arxiv.org/rss/{escape(cats)}</link>",
            f"    <description>{escape(cats)} updates on the arXiv.org e-print archive.</description>",
            f"    <lastBuildDate>{format_datetime(built.astimezone(UTC))}</lastBuildDate>",
            f"    <pubDate>{format_datetime(listed)}</pubDate>",
        ]
        for arxiv_id, kind, p in items:
            title, abstract, authors, base, versioned, categories = self._shown(arxiv_id, p)
            lines += [
                "    <item>",
                f"      <title>{escape(title)}</title>",
                f"      <link>https://arxiv.org/abs/{escape(base)}</link>",
                f"      <description>arXiv:{escape(versioned)} Announce Type: {escape(kind)}\n"
                f"Abstract: {escape(abstract)}</description>",
                f'      <guid isPermaLink="false">oai:arXiv.org:{escape(versioned)}</guid>',
            ]
            lines += [f"      <category>{escape(c)}</category>" for c in categories]
            lines += [
                f"      <pubDate>{format_datetime(listed)}</pubDate>",
                f"      <arxiv:announce_type>{escape(kind)}</arxiv:announce_type>",
                f"      <dc:creator>{escape(authors)}</dc:creator>",
                "    </item>",
            ]
        lines += ["  </channel>", "</rss>"]
        return Reply(body=("\n".join(lines) + "\n").encode("utf-8"), content_type="application/rss+xml")
