"""arXiv API and listing-feed client on httpx + feedparser: throttled, retried, paged.

We do not use the `arxiv` package: it talks through `requests` with no request timeout, cannot be
handed an injectable transport, and does not honour Retry-After, so neither its timing nor its
failures can be controlled or tested against a local stand-in.
"""

from __future__ import annotations

import re
import time
import xml.sax
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser
import httpx

from digest.core.config import ArxivConfig
from digest.core.errors import FetchError
from digest.core.http import USER_AGENT
from digest.core.record import ARXIV_ID, Paper
from digest.core.retry import RetryPolicy, retry_after_seconds
from digest.core.window import NEW_YORK

BACKOFF_CAP_SECONDS = 60.0
RETRY_AFTER_CAP_SECONDS = 300.0  # longer than this and we give up instead of hanging a cron job
MAX_REACHABLE = 10_000  # how deep we are willing to page one query
ID_CHUNK = 100

_WS = re.compile(r"\s+")
_ID_IN = re.compile(ARXIV_ID.pattern.removeprefix("^"))  # the same id, found at the end of a URL


class _Retryable(Exception):
    """A failure worth another attempt; `wait` is a server-requested pause (Retry-After)."""

    def __init__(self, what: str, wait: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.wait = wait

    @property
    def retry_after(self) -> float | None:
        return self.wait


@dataclass
class Listing:
    """The listing feed: which mailing it describes and its (id, announce_type) entries.

    `listing_date` is the New-York date the feed's entries are listed under (`published`, RSS
    `pubDate`); the mailing went out at 20:00 the evening before. `built` is the feed's build time
    (`updated`, RSS `lastBuildDate`), kept for messages only: it says nothing about the content.
    """

    mailing_date: date | None
    entries: list[tuple[str, str]] = field(default_factory=list)
    listing_date: date | None = None
    built: datetime | None = None


def collapse(text: str) -> str:
    """Whitespace runs (newlines included) become one space; ends are stripped."""
    return _WS.sub(" ", text or "").strip()


def _parse_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _id_from(text: str) -> str | None:
    """The arXiv id at the end of an entry id ('http://arxiv.org/abs/2601.00001v1', 'oai:arXiv.org:...')."""
    m = _ID_IN.search((text or "").strip().rstrip("/"))
    return m.group(0) if m else None


def _api_time(moment: datetime, *, round_up: bool) -> str:
    utc = moment.astimezone(UTC)
    floor = utc.replace(second=0, microsecond=0)
    if round_up and floor != utc:
        floor += timedelta(minutes=1)
    return floor.strftime("%Y%m%d%H%M")


def _listing_date_of(stamp: datetime | None) -> date | None:
    # arXiv stamps a listing at New-York midnight of its date; taking the nearest New-York date
    # also survives a stamp written in another zone (UTC midnight is 19:00 the evening before).
    if stamp is None:
        return None
    return (stamp.astimezone(NEW_YORK) + timedelta(hours=12)).date()


def _mailing_date_of(listed: date | None) -> date | None:
    """The New-York date of the 20:00 mailing that a listing dated `listed` shows."""
    # Always the day before, holidays included: a holiday has no mailing that evening, hence no
    # listing the day after.
    return None if listed is None else listed - timedelta(days=1)


def _refusal(resp: httpx.Response) -> str:
    """'HTTP 400: <arXiv's own reason>' from an error answer (API error entry, feed error channel)."""
    reason = ""
    body = resp.content[:20_000]
    if body.lstrip().startswith(b"<"):
        parsed = feedparser.parse(body)
        head = parsed.get("feed", {})
        errors = [e for e in parsed.get("entries", []) if collapse(e.get("title", "")).lower() == "error"]
        if errors:
            reason = collapse(errors[0].get("summary", ""))
        elif collapse(head.get("title", "")).lower().startswith("feed error"):
            reason = collapse(head.get("subtitle", "") or head.get("description", ""))
    elif "text/plain" in resp.headers.get("content-type", "").lower():
        reason = collapse(body.decode("utf-8", "replace"))
    if len(reason) > 300:
        reason = reason[:297] + "..."
    return f"HTTP {resp.status_code}: {reason}" if reason else f"HTTP {resp.status_code}"


@dataclass
class _Paging:
    """Where a paged search stands."""

    found: dict[str, Paper] = field(default_factory=dict)
    total: int | None = None
    offset: int = 0
    empty_retries: int = 0
    stalls: int = 0
    first_empty_asked: bool = False


class ArxivClient:
    """API search, id lookup and listing feed, all through one throttle and one retry policy."""

    def __init__(
        self,
        cfg: ArxivConfig,
        http: httpx.Client,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        page_size: int = 100,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.on_wait = on_wait  # told "arXiv 503, retrying in 4 s (2/5)" before each wait, as it happens
        self.http = http
        self.sleep = sleep
        self.clock = clock
        self.page_size = max(1, page_size)
        self.warnings: list[str] = []
        self.last_listing: Listing | None = None  # the listing feed as last read (its replacements note new versions)
        self._last_start: float | None = None

    # ------------------------------------------------------------------ transport

    def _throttle(self) -> None:
        # arXiv's rule is about the start of consecutive requests, whatever they took to answer.
        if self._last_start is not None:
            wait = self.cfg.delay_seconds - (self.clock() - self._last_start)
            if wait > 0:
                self.sleep(wait)
        self._last_start = self.clock()

    @property
    def _policy(self) -> RetryPolicy:
        return RetryPolicy(
            self.cfg.max_retries + 1, max(self.cfg.delay_seconds, 0.01), backoff_cap_seconds=BACKOFF_CAP_SECONDS
        )

    def _backoff(self, attempt: int) -> float:
        return self._policy.delay(attempt)

    def _get_once(self, url: str, params: dict[str, Any] | None) -> feedparser.FeedParserDict:
        self._throttle()
        try:
            resp = self.http.get(
                url,
                params=params,
                timeout=self.cfg.timeout_seconds,
                headers={"User-Agent": USER_AGENT},
                follow_redirects=True,
            )
        except httpx.TimeoutException:
            raise _Retryable(f"no answer within {self.cfg.timeout_seconds:g} s") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed ({exc.__class__.__name__})") from None
        if resp.status_code == 429:
            raise _Retryable("rate limited (HTTP 429)", retry_after_seconds(resp.headers.get("retry-after")))
        if resp.status_code >= 500:
            raise _Retryable(f"HTTP {resp.status_code}", retry_after_seconds(resp.headers.get("retry-after")))
        if resp.status_code >= 400:
            raise FetchError(_refusal(resp))
        body = resp.content
        head = body[:512].lstrip().lower()
        if "html" in resp.headers.get("content-type", "").lower() or head.startswith((b"<!doctype html", b"<html")):
            raise _Retryable("an HTML page instead of an Atom feed")
        parsed = feedparser.parse(body)
        bozo = parsed.get("bozo_exception")
        if parsed.get("bozo") and isinstance(bozo, xml.sax.SAXException):
            raise _Retryable(f"invalid or truncated XML ({bozo})")
        if not parsed.get("version") and not parsed.get("feed"):
            raise _Retryable("an answer that is not an Atom feed")
        return parsed

    def _get(self, url: str, params: dict[str, Any] | None, kind: str) -> feedparser.FeedParserDict:
        """GET and parse a feed, retrying transient failures; FetchError once the budget is spent."""
        policy = self._policy
        attempts = policy.attempts

        tries = [0]

        def note(exc: BaseException, wait: float) -> None:
            tries[0] += 1
            self.warnings.append(f"arXiv {kind}: {getattr(exc, 'what', exc)}; retrying")
            if self.on_wait is not None:
                what = str(getattr(exc, "what", exc))
                what = what.removeprefix("HTTP ") if what.startswith("HTTP ") else what
                what = "429" if "HTTP 429" in what else what
                secs = f"{wait:.0f}" if wait >= 1 else f"{wait:.1f}"
                self.on_wait(f"arXiv {what}, retrying in {secs} s ({tries[0]}/{attempts - 1})")

        def worth_retrying(exc: BaseException) -> bool:
            # A Retry-After longer than RETRY_AFTER_CAP_SECONDS is not waited out: a cron job must not hang.
            return isinstance(exc, _Retryable) and (exc.wait is None or exc.wait <= RETRY_AFTER_CAP_SECONDS)

        try:
            return policy.call(lambda: self._get_once(url, params), retry_if=worth_retrying, sleep=self.sleep,
                               on_retry=note)
        except FetchError as exc:
            raise FetchError(f"arXiv {kind} failed: {exc} ({url})") from None
        except _Retryable as exc:
            if exc.wait is not None and exc.wait > RETRY_AFTER_CAP_SECONDS:
                raise FetchError(
                    f"arXiv {kind} is rate limited for {exc.wait:.0f} s (Retry-After); try again later"
                ) from None
            raise FetchError(
                f"arXiv {kind} failed after {attempts} attempt{'s' if attempts > 1 else ''}: "
                f"{exc.what}; try again later"
            ) from None

    # ------------------------------------------------------------------ parsing

    def _papers(self, parsed: feedparser.FeedParserDict) -> list[Paper]:
        out: list[Paper] = []
        for entry in parsed.get("entries", []):
            if "/api/errors" in entry.get("id", ""):
                # arXiv's error answer is a feed with one entry; it has come with HTTP 200 too.
                raise FetchError(f"arXiv refused the query: {collapse(entry.get('summary', '')) or 'no reason given'}")
            paper = self._paper(entry)
            if paper is not None:
                out.append(paper)
        return out

    def _paper(self, entry: Any) -> Paper | None:
        raw_id = entry.get("id", "")
        arxiv_id = _id_from(raw_id)
        title = collapse(entry.get("title", ""))
        published = _parse_time(entry.get("published", ""))
        updated = _parse_time(entry.get("updated", "")) or published
        missing = [
            name for name, value in (("id", arxiv_id), ("title", title), ("published date", published)) if not value
        ]
        if missing or published is None or updated is None or arxiv_id is None:
            label = raw_id or title or "an entry"
            self.warnings.append(f"skipped arXiv entry {label}: missing {', '.join(missing)}")
            return None
        primary = (entry.get("arxiv_primary_category") or {}).get("term", "")
        cats: list[str] = [primary] if primary else []
        for tag in entry.get("tags", []):
            term = (tag.get("term") or "").strip()
            if term and term not in cats:
                cats.append(term)
        authors = tuple(collapse(a.get("name", "")) for a in entry.get("authors", []) if a.get("name"))
        return Paper(
            id=arxiv_id,
            title=title,
            authors=authors,
            categories=tuple(cats),
            abstract=collapse(entry.get("summary", "")),
            published=published,
            updated=updated,
            comment=collapse(entry.get("arxiv_comment", "")),
            doi=collapse(entry.get("arxiv_doi", "")),
            journal_ref=collapse(entry.get("arxiv_journal_ref", "")),
        )

    @staticmethod
    def _total(parsed: feedparser.FeedParserDict) -> int | None:
        raw = parsed.get("feed", {}).get("opensearch_totalresults")
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None

    # ------------------------------------------------------------------ public API

    def search(self, start: datetime, end: datetime, categories: list[str]) -> list[Paper]:
        """Papers of these categories first submitted in [start, end), newest first (one paged query)."""
        cats = " OR ".join(f"cat:{c}" for c in categories)
        query = f"({cats}) AND submittedDate:[{_api_time(start, round_up=False)} TO {_api_time(end, round_up=True)}]"
        paging = _Paging()
        while True:
            params = {
                "search_query": query,
                "start": paging.offset,
                "max_results": self.page_size,
                "sortBy": "submittedDate",
                "sortOrder": "descending",
            }
            parsed = self._get(self.cfg.api_url, params, "search")
            page_total = self._total(parsed)
            if page_total is not None:
                # An empty glitch page may report 0; never let it shrink what we already know.
                paging.total = page_total if paging.total is None else max(paging.total, page_total)
            raw_count = len(parsed.get("entries", []))
            go_on = self._after_empty(paging) if raw_count == 0 else self._after_page(paging, parsed, raw_count)
            if not go_on:
                break
        lo, hi = start.astimezone(UTC), end.astimezone(UTC)
        kept = [p for p in paging.found.values() if lo <= p.published < hi]
        return sort_newest_first(kept)

    def _after_empty(self, paging: _Paging) -> bool:
        """An empty page: ask again (True) after a pause, or stop paging (False)."""
        offset, total = paging.offset, paging.total
        if offset == 0 and not total:
            # An empty first page is ambiguous (no papers, or the glitch): ask exactly once more.
            if paging.first_empty_asked:
                return False
            paging.first_empty_asked = True
            return True
        if total is not None and offset >= total:
            return False
        paging.empty_retries += 1
        if paging.empty_retries > self.cfg.max_retries:
            self.warnings.append(
                f"arXiv search: page at {offset} stayed empty after {paging.empty_retries} tries; "
                f"kept {len(paging.found)} of {total} papers"
            )
            return False
        self.warnings.append(f"arXiv search: empty page at {offset} of {total}; asking again")
        self.sleep(self._backoff(paging.empty_retries - 1))
        return True

    def _after_page(self, paging: _Paging, parsed: feedparser.FeedParserDict, raw_count: int) -> bool:
        """Keep a page's papers; whether another page is wanted."""
        paging.empty_retries = 0
        before = len(paging.found)
        for p in self._papers(parsed):
            paging.found.setdefault(p.id, p)
        paging.stalls = paging.stalls + 1 if len(paging.found) == before else 0
        paging.offset += raw_count
        offset, total = paging.offset, paging.total
        if paging.stalls > self.cfg.max_retries:
            self.warnings.append(f"arXiv search: pages stopped bringing new papers at {offset}; stopped there")
            return False
        if total is None or offset >= total:
            return False
        if offset >= MAX_REACHABLE:
            self.warnings.append(
                f"arXiv search: {total} results is more than paging reaches ({MAX_REACHABLE}); "
                f"kept the newest {len(paging.found)}"
            )
            return False
        return True

    def by_ids(self, ids: list[str]) -> list[Paper]:
        """Metadata for these ids (versioned or base), looked up in chunks of 100."""
        out: dict[str, Paper] = {}
        unique = list(dict.fromkeys(i for i in ids if i))
        for n in range(0, len(unique), ID_CHUNK):
            chunk = unique[n : n + ID_CHUNK]
            params = {"id_list": ",".join(chunk), "start": 0, "max_results": len(chunk)}
            parsed = self._get(self.cfg.api_url, params, "id lookup")
            for p in self._papers(parsed):
                out.setdefault(p.id, p)
        return list(out.values())

    def listing(self, categories: list[str] | None = None) -> Listing:
        """The listing feed (Atom or RSS 2.0) of the latest mailing; entries are (id, announce_type).

        The mailing is read off the entries' listing date (`published` / `pubDate`), never off the
        build time: a feed built between 20:00 and midnight New-York time still lists the mailing of
        the evening before.
        """
        cats = categories if categories is not None else self.cfg.categories
        url = self.cfg.listing_url.replace("{categories}", "+".join(cats))
        parsed = self._get(url, None, "listing feed")
        head = parsed.get("feed", {})
        listed: Counter[date] = Counter()
        entries: list[tuple[str, str]] = []
        seen: set[str] = set()
        for entry in parsed.get("entries", []):
            arxiv_id = _id_from(entry.get("id", "")) or _id_from(entry.get("link", ""))
            kind = collapse(entry.get("arxiv_announce_type", "")).lower()
            if not kind:
                m = re.search(r"Announce Type:\s*([a-z-]+)", entry.get("summary", ""), re.IGNORECASE)
                kind = m.group(1).lower() if m else ""
            if arxiv_id is None:
                self.warnings.append(f"listing feed: skipped an entry without an arXiv id ({entry.get('id', '')!r})")
                continue
            day = _listing_date_of(_parse_time(entry.get("published", "")))
            if day is not None:
                listed[day] += 1
            if arxiv_id in seen:
                continue
            seen.add(arxiv_id)
            entries.append((arxiv_id, kind))
        if len(listed) > 1:
            self.warnings.append(
                "listing feed: entries carry different listing dates ("
                + ", ".join(f"{d}: {n}" for d, n in sorted(listed.items()))
                + "); the most common one decides"
            )
        # Ties go to the later date; the content check in the fetch stage has the last word anyway.
        listing_date = max(listed, key=lambda d: (listed[d], d)) if listed else None
        if listing_date is None:
            # An RSS channel carries the listing date as its pubDate; Atom's feed `updated` is the build time.
            listing_date = _listing_date_of(_parse_time(head.get("published", "")))
        if listing_date is None and entries:
            self.warnings.append("listing feed: no listing date on the feed; cannot tell which mailing it lists")
        self.last_listing = Listing(
            mailing_date=_mailing_date_of(listing_date),
            entries=entries,
            listing_date=listing_date,
            built=_parse_time(head.get("updated", "")),
        )
        return self.last_listing


def sort_newest_first(papers: Iterable[Paper]) -> list[Paper]:
    """Newest first-version time first; ids break ties so the order is stable."""
    return sorted(papers, key=lambda p: (p.published, p.id), reverse=True)
