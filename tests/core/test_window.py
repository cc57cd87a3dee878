"""Window and schedule arithmetic: anchors, half-open bounds, DST on both sides, weekends, holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.core.config import WindowConfig
from digest.core.window import (
    NEW_YORK,
    latest_anchor_date,
    mailing_on,
    papers_in_window,
    submission_span,
    window_for,
)
from digest.standins.arxiv_server import make_paper

CST = ZoneInfo("Asia/Shanghai")
ANNOUNCED = WindowConfig()
SUBMITTED = WindowConfig(basis="submitted")


def ny(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=NEW_YORK)


def post_of(published: datetime, days: list[date], cfg: WindowConfig = ANNOUNCED) -> list[date]:
    paper = make_paper("2601.00001v1", published)
    return [d for d in days if papers_in_window(window_for(d, cfg), [paper])]


def test_window_bounds_are_anchors_in_configured_zone() -> None:
    w = window_for(date(2026, 1, 29), SUBMITTED)
    assert w.start == datetime(2026, 1, 28, 8, 50, tzinfo=CST)
    assert w.end == datetime(2026, 1, 29, 8, 50, tzinfo=CST)
    assert w.basis == "submitted" and w.mailings == ()


def test_submitted_basis_is_half_open() -> None:
    w = window_for(date(2026, 1, 29), SUBMITTED)
    at_start = make_paper("2601.00001v1", w.start.astimezone(UTC))
    at_end = make_paper("2601.00002v1", w.end.astimezone(UTC))
    just_before_end = make_paper("2601.00003v1", w.end - timedelta(microseconds=1))
    kept = papers_in_window(w, [at_start, at_end, just_before_end])
    assert [p.id for p in kept] == ["2601.00001v1", "2601.00003v1"]


def test_announced_basis_is_half_open_on_mailing_cutoffs() -> None:
    # Winter: Tuesday 20:00 EST = Wednesday 09:00 CST, so the Thursday post holds Tuesday's mailing.
    w = window_for(date(2026, 1, 29), ANNOUNCED)
    assert len(w.mailings) == 1
    m = w.mailings[0]
    assert m.announced_at == ny(2026, 1, 27, 20)
    assert m.covers_from == ny(2026, 1, 26, 14) and m.covers_to == ny(2026, 1, 27, 14)
    at_from = make_paper("2601.00001v1", m.covers_from)
    at_to = make_paper("2601.00002v1", m.covers_to)
    assert [p.id for p in papers_in_window(w, [at_from, at_to])] == ["2601.00001v1"]


def test_first_version_time_decides_not_update_time() -> None:
    w = window_for(date(2026, 1, 29), SUBMITTED)
    old = make_paper("2512.00001v2", datetime(2025, 12, 1, tzinfo=UTC), updated=w.start + timedelta(hours=1))
    assert papers_in_window(w, [old]) == []


def test_summer_and_winter_put_the_same_weekday_mailing_in_different_posts() -> None:
    # Tuesday mailing: EDT 20:00 = 08:00 CST Wednesday (before the anchor) -> Wednesday post.
    summer = post_of(ny(2026, 6, 16, 10), [date(2026, 6, d) for d in range(15, 20)])
    assert summer == [date(2026, 6, 17)]
    # EST 20:00 = 09:00 CST Wednesday (after the anchor) -> Thursday post.
    winter = post_of(ny(2026, 1, 27, 10), [date(2026, 1, d) for d in range(26, 31)])
    assert winter == [date(2026, 1, 29)]


def test_dst_switch_week_in_march() -> None:
    # Sunday 2026-03-08 New York springs forward. Sunday's 20:00 EDT mailing = Monday 08:00 CST.
    sunday = mailing_on(date(2026, 3, 8))
    assert sunday.announced_at.utcoffset() == timedelta(hours=-4)
    assert sunday.covers_from == ny(2026, 3, 5, 14) and sunday.covers_to == ny(2026, 3, 6, 14)
    days = [date(2026, 3, d) for d in range(5, 14)]
    assert post_of(ny(2026, 3, 6, 9), days) == [date(2026, 3, 9)]  # Friday morning -> Sunday mailing
    # Thursday 03-05 20:00 EST = Friday 09:00 CST -> Saturday post.
    assert post_of(ny(2026, 3, 5, 9), days) == [date(2026, 3, 7)]
    # Monday 03-09 20:00 EDT = Tuesday 08:00 CST -> Tuesday post.
    assert post_of(ny(2026, 3, 7, 12), days) == [date(2026, 3, 10)]
    # No post gets two mailings, and Sunday/Monday posts after the switch are mailing-free or single.
    for d in days:
        assert len(window_for(d, ANNOUNCED).mailings) <= 1


def test_dst_switch_week_in_november() -> None:
    # Sunday 2026-11-01 New York falls back: Sunday 20:00 EST = Monday 09:00 CST -> Tuesday post.
    sunday = mailing_on(date(2026, 11, 1))
    assert sunday.announced_at.utcoffset() == timedelta(hours=-5)
    days = [date(2026, 10, 29) + timedelta(days=i) for i in range(8)]
    assert post_of(ny(2026, 10, 30, 13, 59), days) == [date(2026, 11, 3)]
    # Thursday 10-29 20:00 EDT = Friday 08:00 CST -> Friday post.
    assert post_of(ny(2026, 10, 29, 13, 59), days) == [date(2026, 10, 30)]


@pytest.mark.parametrize("when", [ny(2026, 1, 9, 14), ny(2026, 1, 9, 23), ny(2026, 1, 10, 12), ny(2026, 1, 11, 18)])
def test_weekend_submissions_land_with_monday_night_mailing(when: datetime) -> None:
    # Friday after the cutoff, Saturday, Sunday: Monday 2026-01-12 20:00 EST = Tuesday 09:00 CST -> Wednesday post.
    days = [date(2026, 1, d) for d in range(9, 16)]
    assert post_of(when, days) == [date(2026, 1, 14)]
    assert any(m.announced_at == ny(2026, 1, 12, 20) for m in window_for(date(2026, 1, 14), ANNOUNCED).mailings)


def test_no_mailing_friday_or_saturday() -> None:
    # Friday 20:00 EST = Saturday 09:00 CST -> the Sunday post; Saturday's -> Monday post. Both empty.
    assert window_for(date(2026, 1, 11), ANNOUNCED).mailings == ()
    assert window_for(date(2026, 1, 12), ANNOUNCED).mailings == ()


def test_thanksgiving_holiday_rolls_into_sunday_mailing() -> None:
    days = [date(2026, 11, 24) + timedelta(days=i) for i in range(10)]
    # Thursday 11-26 has no mailing: the Friday (CST) post that would hold it is empty.
    assert window_for(date(2026, 11, 28), ANNOUNCED).mailings == ()
    # Wednesday afternoon and Thursday submissions go out Sunday 11-29 20:00 EST = Monday 09:00 CST -> Tuesday.
    assert post_of(ny(2026, 11, 25, 15), days) == [date(2026, 12, 1)]
    assert post_of(ny(2026, 11, 26, 12), days) == [date(2026, 12, 1)]
    sunday = mailing_on(date(2026, 11, 29), ANNOUNCED.holidays)
    assert sunday.covers_from == ny(2026, 11, 25, 14) and sunday.covers_to == ny(2026, 11, 27, 14)
    # Without the holiday configured, Thursday's mailing would exist.
    no_holiday = WindowConfig(holidays=[])
    assert post_of(ny(2026, 11, 26, 12), days, no_holiday) == [date(2026, 11, 28)]


def test_latest_anchor_date() -> None:
    assert latest_anchor_date(datetime(2026, 1, 29, 8, 50, tzinfo=CST), ANNOUNCED) == date(2026, 1, 29)
    assert latest_anchor_date(datetime(2026, 1, 29, 8, 49, 59, tzinfo=CST), ANNOUNCED) == date(2026, 1, 28)
    # 2026-01-29 00:30 UTC is 08:30 CST: before the anchor.
    assert latest_anchor_date(datetime(2026, 1, 29, 0, 30, tzinfo=UTC), ANNOUNCED) == date(2026, 1, 28)
    assert latest_anchor_date(datetime(2026, 1, 28, 23, 0, tzinfo=NEW_YORK), ANNOUNCED) == date(2026, 1, 29)
    with pytest.raises(ValueError):
        latest_anchor_date(datetime(2026, 1, 29, 9, 0), ANNOUNCED)


def test_submission_span_unions_windows() -> None:
    ws = [window_for(date(2026, 1, d), ANNOUNCED) for d in (27, 28, 29)]
    start, end = submission_span(ws)
    all_m = [m for w in ws for m in w.mailings]
    assert start == min(m.covers_from for m in all_m) and end == max(m.covers_to for m in all_m)
    sub = [window_for(date(2026, 1, d), SUBMITTED) for d in (27, 28)]
    assert submission_span(sub) == (sub[0].start, sub[1].end)
    empty = [window_for(date(2026, 1, 11), ANNOUNCED)]
    s, e = submission_span(empty)
    assert s == e
