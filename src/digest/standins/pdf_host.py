"""Stand-in for arXiv's PDF and HTML hosts: serves /pdf/<id> and /html/<id> from memory."""

from __future__ import annotations

from collections import Counter

from digest.standins.base import Reply, Request, StandIn


class StreamReply(Reply):
    """A body sent in `chunks` without a Content-Length header, so only the size cap can stop it."""


class PdfHost(StandIn):
    """Serves PDFs and HTML pages by versioned id; 404 for unknown ids. Counts requests per id."""

    def __init__(self, pdfs: dict[str, bytes] | None = None, html: dict[str, str] | None = None) -> None:
        super().__init__()
        self.pdfs: dict[str, bytes] = dict(pdfs or {})
        self.html: dict[str, str] = dict(html or {})
        self.special: dict[str, Reply] = {}  # path -> fixed reply (redirects, oversize streams, ...)
        self.downloads: Counter[str] = Counter()  # id -> PDF requests answered 200

    def put(self, paper_id: str, data: bytes) -> None:
        """Make a PDF available (e.g. one that was 404 on the first run)."""
        with self._lock:
            self.pdfs[paper_id] = data

    def put_html(self, paper_id: str, html: str) -> None:
        with self._lock:
            self.html[paper_id] = html

    def route(self, path: str, reply: Reply) -> None:
        """Answer every request for `path` (e.g. "/pdf/2601.00001v1") with a fixed reply."""
        with self._lock:
            self.special[path] = reply

    @property
    def pdf_url(self) -> str:
        return self.url + "/pdf/{id}"

    @property
    def html_url(self) -> str:
        return self.url + "/html/{id}"

    def pdf_requests(self, paper_id: str) -> int:
        """How many requests (any outcome) asked for this id's PDF."""
        return sum(1 for r in self.requests if r.path == f"/pdf/{paper_id}")

    def handle(self, request: Request) -> Reply:
        with self._lock:
            special = self.special.get(request.path)
        if special is not None:
            return special
        kind, _, paper_id = request.path.lstrip("/").partition("/")
        if kind == "pdf" and paper_id in self.pdfs:
            with self._lock:
                self.downloads[paper_id] += 1
            return Reply(200, self.pdfs[paper_id], "application/pdf")
        if kind == "html" and paper_id in self.html:
            return Reply(200, self.html[paper_id].encode("utf-8"), "text/html; charset=utf-8")
        return Reply(404, b"<html><body><h1>Not Found</h1></body></html>", "text/html; charset=utf-8")
