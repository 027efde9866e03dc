"""Send-hour arithmetic: local days, daylight saving, and the demo time scale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from service.schedule import Timing, next_due, zone_for

LA = ZoneInfo("America/Los_Angeles")


def test_zero_delay_is_now() -> None:
    now = datetime(2026, 3, 7, 23, 59, tzinfo=UTC)
    assert next_due(now=now, delay_days=0, send_hour=8, zone=LA) == now


def test_spring_forward_keeps_eight_local() -> None:
    # 2026-03-08 is the day Los Angeles moves to PDT
    now = datetime(2026, 3, 7, 16, 0, tzinfo=UTC)  # 08:00 PST on the 7th
    due = next_due(now=now, delay_days=1, send_hour=8, zone=LA)
    assert due.astimezone(LA).replace(tzinfo=None) == datetime(2026, 3, 8, 8, 0)
    assert due == datetime(2026, 3, 8, 15, 0, tzinfo=UTC)


def test_late_evening_counts_local_days_not_utc_days() -> None:
    now = datetime(2026, 6, 2, 5, 30, tzinfo=UTC)  # 22:30 on June 1st in Los Angeles
    due = next_due(now=now, delay_days=1, send_hour=8, zone=LA)
    assert due.astimezone(LA).date().isoformat() == "2026-06-02"


def test_scale_compresses_only_the_wait() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    real = next_due(now=now, delay_days=2, send_hour=8, zone=LA)
    fast = next_due(now=now, delay_days=2, send_hour=8, zone=LA, scale=86400)
    assert fast - now == (real - now) / 86400
    assert timedelta(0) < fast - now < timedelta(seconds=3)


def test_an_unknown_zone_falls_back_to_the_course_zone() -> None:
    assert zone_for("Not/AZone", "Asia/Kolkata") == ZoneInfo("Asia/Kolkata")
    assert zone_for(None, "UTC") == ZoneInfo("UTC")


def test_a_moment_given_in_local_time_lands_on_the_same_hour_across_the_change() -> None:
    """Adding a wait to an aware local datetime is wall-clock arithmetic: next_due works in
    UTC, so a step after the March change still lands at the send hour, not an hour early."""
    zone = ZoneInfo("America/Los_Angeles")
    before_change = datetime(2027, 3, 13, 8, 0, tzinfo=zone)  # a Saturday, PST
    due = next_due(now=before_change, delay_days=2, send_hour=8, zone=zone)
    assert due.astimezone(zone).hour == 8 and due.astimezone(zone).tzname() == "PDT"
    assert due == datetime(2027, 3, 15, 15, 0, tzinfo=UTC)


def _timing(zone: ZoneInfo = LA, *, scale: float = 1.0, weekends: bool = True) -> Timing:
    return Timing(zone=zone, send_hour=8, weekends=weekends, scale=scale)


def test_slowing_down_never_brings_an_email_forward_and_moves_one_due_this_morning() -> None:
    now = datetime(2026, 6, 10, 14, 30, tzinfo=UTC)  # 07:30 in Los Angeles
    this_morning = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)  # 08:00 today, half an hour away
    slowed = _timing().slowed(this_morning, now)
    assert slowed.astimezone(LA).replace(tzinfo=None) == datetime(2026, 6, 11, 8, 0)
    overdue = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)  # due at 06:00, still unclaimed
    assert _timing().slowed(overdue, now) > now
    for days_ahead in range(0, 9):
        planned = this_morning + timedelta(days=days_ahead)
        assert _timing().slowed(planned, now) > planned


def test_slowing_down_doubles_the_days_left_across_the_spring_change() -> None:
    now = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)  # 09:00 PST on Friday the 6th
    planned = datetime(2026, 3, 8, 15, 0, tzinfo=UTC)  # 08:00 PDT on the 8th: two days left
    slowed = _timing().slowed(planned, now)
    assert slowed.astimezone(LA).replace(tzinfo=None) == datetime(2026, 3, 10, 8, 0)


def test_slowing_down_keeps_a_course_that_skips_weekends_off_them() -> None:
    now = datetime(2026, 6, 10, 17, 0, tzinfo=UTC)  # Wednesday 10:00 in Los Angeles
    planned = datetime(2026, 6, 11, 15, 0, tzinfo=UTC)  # Thursday 08:00: one day left
    slowed = _timing(weekends=False).slowed(planned, now)
    assert slowed.astimezone(LA).date().isoformat() == "2026-06-12"  # Friday
    planned = datetime(2026, 6, 12, 15, 0, tzinfo=UTC)  # Friday 08:00: two days left
    slowed = _timing(weekends=False).slowed(planned, now)
    assert slowed.astimezone(LA).strftime("%A %H:%M") == "Monday 08:00"


def test_a_demo_slows_down_in_compressed_time_and_keeps_its_hour() -> None:
    now = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    planned = now + timedelta(seconds=2)
    timing = _timing(scale=86400)
    assert timing.slowed(planned, now) == now + timedelta(seconds=4)
    assert timing.at_hour(planned, now) == planned  # a compressed day has no hours


def test_a_chosen_hour_moves_the_next_email_within_its_day_and_never_into_the_past() -> None:
    now = datetime(2026, 6, 10, 17, 0, tzinfo=UTC)  # 10:00 in Los Angeles
    tomorrow_eight = datetime(2026, 6, 11, 15, 0, tzinfo=UTC)
    evening = Timing(zone=LA, send_hour=18).at_hour(tomorrow_eight, now)
    assert evening.astimezone(LA).replace(tzinfo=None) == datetime(2026, 6, 11, 18, 0)
    today_eight = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)  # already passed
    assert Timing(zone=LA, send_hour=9).at_hour(today_eight, now) == now


def test_a_resumed_course_keeps_the_wait_that_was_left() -> None:
    now = datetime(2026, 6, 20, 12, 0, tzinfo=UTC)
    planned = datetime(2026, 6, 12, 15, 0, tzinfo=UTC)
    assert _timing().resumed(planned, timedelta(days=9), now) == planned + timedelta(days=9)
    assert _timing().resumed(planned, timedelta(days=1), now) == now
