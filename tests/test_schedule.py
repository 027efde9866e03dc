"""Send-hour arithmetic: local days, daylight saving, and the demo time scale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from service.schedule import next_due, zone_for

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
