"""Anchor and arXiv announcement-schedule arithmetic: which submissions each day's post covers.

arXiv's schedule (New York time, daylight saving applies): a mailing goes out at 20:00 Sunday to
Thursday. Submission cutoffs are 14:00 Monday to Friday; a mailing covers the submissions from the
previous actual mailing's cutoff up to its own cutoff, which is 14:00 the same day, except Sunday's,
whose cutoff is the Friday before (submissions after Friday 14:00 wait for Monday's mailing). A
configured holiday is a New-York date without a mailing; its submissions roll into the next one.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.core.config import WindowConfig
from digest.core.record import Mailing, Paper, Window

NEW_YORK = ZoneInfo("America/New_York")
MAILING_TIME = time(20, 0)
CUTOFF_TIME = time(14, 0)
# Monday=0 ... Sunday=6: mailings go out Sunday to Thursday.
_MAILING_WEEKDAYS = {6, 0, 1, 2, 3}
# Holidays can chain (Christmas week); a month without mailings would be a schedule bug, not a calendar.
_MAX_GAP_DAYS = 31


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz)


def is_mailing_day(day: date, holidays: Container[date] = frozenset()) -> bool:
    """True when arXiv sends a mailing at 20:00 New-York time on this New-York date."""
    return day.weekday() in _MAILING_WEEKDAYS and day not in holidays


def cutoff_of(mailing_day: date) -> datetime:
    """The 14:00 New-York cutoff that closes the batch of the mailing sent on this date."""
    # Sunday's mailing carries Thursday-to-Friday submissions; its cutoff is Friday 14:00.
    cut_day = mailing_day - timedelta(days=2) if mailing_day.weekday() == 6 else mailing_day
    return _at(cut_day, CUTOFF_TIME, NEW_YORK)


def previous_mailing_day(mailing_day: date, holidays: Iterable[date] = ()) -> date:
    """The New-York date of the last actual mailing before this date."""
    hol = set(holidays)
    d = mailing_day - timedelta(days=1)
    for _ in range(_MAX_GAP_DAYS):
        if is_mailing_day(d, hol):
            return d
        d -= timedelta(days=1)
    raise ValueError(f"no arXiv mailing in the {_MAX_GAP_DAYS} days before {mailing_day} (check window.holidays)")


def mailing_on(mailing_day: date, holidays: Iterable[date] = ()) -> Mailing:
    """The Mailing sent at 20:00 New-York time on this date, with the submission range it covers."""
    hol = set(holidays)
    prev = previous_mailing_day(mailing_day, hol)
    return Mailing(
        announced_at=_at(mailing_day, MAILING_TIME, NEW_YORK),
        covers_from=cutoff_of(prev),
        covers_to=cutoff_of(mailing_day),
    )


def mailings_between(start: datetime, end: datetime, holidays: Iterable[date] = ()) -> list[Mailing]:
    """All mailings whose 20:00 New-York release falls in [start, end), oldest first."""
    hol = set(holidays)
    first = start.astimezone(NEW_YORK).date() - timedelta(days=1)
    last = end.astimezone(NEW_YORK).date() + timedelta(days=1)
    out: list[Mailing] = []
    d = first
    while d <= last:
        if is_mailing_day(d, hol):
            released = _at(d, MAILING_TIME, NEW_YORK)
            if start <= released < end:
                out.append(mailing_on(d, hol))
        d += timedelta(days=1)
    return out


def anchor_at(day: date, cfg: WindowConfig) -> datetime:
    """The anchor moment (aware, configured time zone) on a date."""
    h, m = cfg.anchor_hour_minute
    return _at(day, time(h, m), ZoneInfo(cfg.timezone))


def window_for(day: date, cfg: WindowConfig) -> Window:
    """The post window of a date: [previous day's anchor, this day's anchor), with its mailings."""
    start = anchor_at(day - timedelta(days=1), cfg)
    end = anchor_at(day, cfg)
    mailings: tuple[Mailing, ...] = ()
    if cfg.basis == "announced":
        mailings = tuple(mailings_between(start, end, cfg.holidays))
    return Window(date=day, start=start, end=end, basis=cfg.basis, mailings=mailings)


def latest_anchor_date(now: datetime, cfg: WindowConfig) -> date:
    """The date of the latest anchor at or before now (the default post date of `digest run`)."""
    if now.tzinfo is None:
        raise ValueError("latest_anchor_date needs an aware datetime")
    local = now.astimezone(ZoneInfo(cfg.timezone))
    today = local.date()
    return today if anchor_at(today, cfg) <= now else today - timedelta(days=1)


def submission_span(windows: Sequence[Window]) -> tuple[datetime, datetime]:
    """The union of submission-time ranges these windows need; empty (start == end) when none."""
    if not windows:
        raise ValueError("submission_span needs at least one window")
    ranges: list[tuple[datetime, datetime]] = []
    for w in windows:
        if w.basis == "submitted":
            ranges.append((w.start, w.end))
        else:
            ranges.extend((m.covers_from, m.covers_to) for m in w.mailings)
    if not ranges:
        first = min(w.start for w in windows)
        return first, first
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


def papers_in_window(window: Window, papers: Sequence[Paper]) -> list[Paper]:
    """The papers whose first-version time puts them in this window (half-open ranges)."""
    if window.basis == "submitted":
        return [p for p in papers if window.contains(p.published)]
    return [p for p in papers if any(m.covers_from <= p.published < m.covers_to for m in window.mailings)]
