"""When the next email is due: the course's send hour in the reader's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from emails.course import is_time_zone


def zone_for(name: str | None, fallback: str) -> ZoneInfo:
    return ZoneInfo(name if name and is_time_zone(name) else fallback)


def next_due(
    *,
    now: datetime,
    delay_days: int,
    send_hour: int,
    zone: ZoneInfo,
    scale: float = 1.0,
) -> datetime:
    """The moment a step ``delay_days`` after ``now`` is due.

    A delay of 0 means now. Otherwise the step lands on the local calendar day ``delay_days``
    ahead at ``send_hour`` (so 8:00 stays 8:00 across a daylight-saving change). ``scale``
    compresses only this wait, never the clock: ``now + (aligned - now) / scale``.
    """
    # arithmetic on an aware datetime is wall-clock arithmetic in its own zone: in UTC, a
    # day is always 24 hours, so the sum below is exact whatever zone ``now`` came in
    now = now.astimezone(UTC)
    if delay_days <= 0:
        return now
    local_day = now.astimezone(zone).date() + timedelta(days=delay_days)
    # fold=0 and astimezone() settle the rare local time that does not exist or exists twice
    aligned = datetime.combine(local_day, time(send_hour), tzinfo=zone).astimezone(UTC)
    return now + (aligned - now) / scale
