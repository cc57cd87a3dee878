"""The fetch stage: one paged search for all windows, split by window; the listing feed decides the newest mailing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from digest.core.record import Mailing, Paper, Window, newest_versions, split_id
from digest.core.window import NEW_YORK, papers_in_window, submission_span
from digest.fetch.arxiv import ArxivClient, sort_newest_first

# The listing feed only ever shows the latest mailing. The longest gap between two mailings is
# Thursday night to Sunday night plus a holiday or two, so a mailing older than this cannot be the
# one the feed shows: backfills of older dates never ask for it.
LISTING_HORIZON = timedelta(days=5)


def wants_listing(windows: list[Window], now: datetime) -> bool:
    """True when some window holds a mailing already out (at or before now) within LISTING_HORIZON."""
    return any(
        w.basis == "announced" and now - LISTING_HORIZON <= m.announced_at <= now for w in windows for m in w.mailings
    )


def fetch_windows(
    windows: list[Window],
    client: ArxivClient,
    categories: list[str],
    announce_types: list[str],
    now: datetime | None = None,
) -> dict[date, list[Paper]]:
    """Papers of each window's post, newest first, keyed by post date.

    One search covers the union of all windows' submission ranges, split locally. For basis
    announced, when a window holds a recent mailing (see wants_listing) the listing feed is read.
    Its mailing is the evening before its entries' listing date (never its build time), and it is
    used only when that mailing is inside one of the windows and passes content_mismatch; then its
    entries (announce_type in announce_types) replace that mailing's derived batch, with metadata
    looked up by id for papers the search did not return (held back and announced late, or
    cross-listed later). Otherwise the feed is ignored with a warning.
    """
    if not windows:
        return {}
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("fetch_windows needs an aware `now`")
    start, end = submission_span(windows)
    found = client.search(start, end, categories) if start < end else []
    result = {w.date: papers_in_window(w, found) for w in windows}
    if wants_listing(windows, now):
        _apply_listing(windows, client, categories, announce_types, found, result)
    return result


def _apply_listing(
    windows: list[Window],
    client: ArxivClient,
    categories: list[str],
    announce_types: list[str],
    found: list[Paper],
    result: dict[date, list[Paper]],
) -> None:
    listing = client.listing(categories)
    if listing.mailing_date is None:
        return
    target = None
    for w in windows:
        for m in w.mailings:
            if m.announced_at.astimezone(NEW_YORK).date() == listing.mailing_date:
                target = (w, m)
    if target is None:
        client.warnings.append(
            f"listing feed shows the mailing of {listing.mailing_date}, which is in none of the requested windows; "
            "papers were chosen by submission time"
        )
        return
    window, mailing = target
    # The feed has no submission times and its ids are handed out at announcement (their yymm is
    # the mailing's month), so the check reads the API's first-version times: those of the search
    # (which covers this mailing's range) plus one id lookup for the listed papers it missed, the
    # same lookup that fetches the metadata of papers held back.
    wanted: dict[str, str] = {}
    fresh: list[str] = []  # the `new` entries, whatever announce_types asks for: the check reads them
    for arxiv_id, kind in listing.entries:
        if kind in announce_types:
            wanted.setdefault(_base(arxiv_id), kind)
        if kind == "new":
            fresh.append(_base(arxiv_id))
    known = newest_versions(found)
    missing = [b for b in dict.fromkeys([*wanted, *fresh]) if b not in known]
    if missing:
        newest_versions(client.by_ids(missing), known)
    problem = content_mismatch(mailing, [known[b] for b in dict.fromkeys(fresh) if b in known])
    if problem:
        client.warnings.append(
            f"listing feed (listed {listing.listing_date}) ignored: {problem}; papers were chosen by submission time"
        )
        return
    lost = [b for b in wanted if b not in known]
    if lost:
        client.warnings.append(f"listing feed: no metadata for {', '.join(lost)}; left out")
    listed = [replace(known[b], announce_type=kind) for b, kind in wanted.items() if b in known]
    others = [m for m in window.mailings if m is not mailing]
    derived = papers_in_window(replace(window, mailings=tuple(others)), found) if others else []
    listed_ids = {p.base_id for p in listed}
    result[window.date] = sort_newest_first(listed + [p for p in derived if p.base_id not in listed_ids])


def content_mismatch(mailing: Mailing, fresh: list[Paper]) -> str:
    """Why a listing's `new` papers do not look like this mailing's batch; "" when they do.

    At least half of them (and at least one) must have been first submitted inside the mailing's
    submission range: papers held back for moderation are announced late, so a few outside it are
    normal, but the batch of another mailing lies wholly outside (mailings' ranges do not overlap).
    """
    if not fresh:
        return "it lists no new paper whose submission time is known, so its mailing cannot be checked"
    inside = sum(1 for p in fresh if mailing.covers_from <= p.published < mailing.covers_to)
    if inside and inside * 2 >= len(fresh):
        return ""
    lo = mailing.covers_from.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M")
    hi = mailing.covers_to.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M")
    return (
        f"only {inside} of its {len(fresh)} new papers were submitted in the range of the mailing of "
        f"{mailing.announced_at.astimezone(NEW_YORK).date()} ({lo} to {hi} New York)"
    )


def _base(arxiv_id: str) -> str:
    try:
        return split_id(arxiv_id)[0]
    except ValueError:
        return arxiv_id
