"""When the next email is due: the course's send hour (or the one the reader chose) in the
reader's own time zone, never in the quiet hours, and on weekdays only if the course says so.

Every ``next_send_at`` the service computes comes from here: a reader's ``Timing`` (their zone
and hour, the course's days, the demo's time scale) says when the first email is due, when the
next one is after a send, when a paused course goes on, where a chosen hour or a slower pace
moves the next email, and which morning an email held by the night waits for.

The quiet hours (21:00 to 07:00 local) hold for every email but a welcome the reader has just
asked for by confirming: a course email held up by an outage, or due in the night for any
other reason, waits for that reader's next morning (``held_until``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from emails.course import QUIET_FROM, QUIET_UNTIL, Course, is_time_zone

#: Saturday and Sunday (``date.weekday()``).
WEEKEND = (5, 6)


def zone_for(name: str | None, fallback: str) -> ZoneInfo:
    return ZoneInfo(name if name and is_time_zone(name) else fallback)


def reader_hour(course: Course, chosen: int | None) -> int:
    """The hour this reader's emails arrive: the one they chose, else the course's."""
    return chosen if chosen is not None and QUIET_UNTIL <= chosen < QUIET_FROM else course.send_hour


def quiet(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether ``moment`` falls in the reader's quiet hours."""
    hour = moment.astimezone(zone).hour
    return hour >= QUIET_FROM or hour < QUIET_UNTIL


def _on(local_day: date, send_hour: int, zone: ZoneInfo) -> datetime:
    # fold=0 and astimezone() settle the rare local time that does not exist or exists twice
    return datetime.combine(local_day, time(send_hour), tzinfo=zone).astimezone(UTC)


def _weekday(day: date, weekends: bool) -> date:
    """``day``, or the Monday after it when the course does not send at weekends."""
    while not weekends and day.weekday() in WEEKEND:
        day += timedelta(days=1)
    return day


def next_due(
    *,
    now: datetime,
    delay_days: int,
    send_hour: int,
    zone: ZoneInfo,
    scale: float = 1.0,
    weekends: bool = True,
) -> datetime:
    """The moment a step ``delay_days`` after ``now`` is due.

    A delay of 0 means now. Otherwise the step lands on the local calendar day ``delay_days``
    ahead (the Monday after, if that is a weekend day and the course skips weekends) at
    ``send_hour`` (so 8:00 stays 8:00 across a daylight-saving change). ``scale`` compresses
    only this wait, never the clock: ``now + (aligned - now) / scale``.
    """
    # arithmetic on an aware datetime is wall-clock arithmetic in its own zone: in UTC, a
    # day is always 24 hours, so the sum below is exact whatever zone ``now`` came in
    now = now.astimezone(UTC)
    if delay_days <= 0:
        return now
    local_day = _weekday(now.astimezone(zone).date() + timedelta(days=delay_days), weekends)
    aligned = _on(local_day, send_hour, zone)
    return now + (aligned - now) / scale


def held_until(now: datetime, *, send_hour: int, zone: ZoneInfo, weekends: bool = True) -> datetime:
    """The reader's next morning at ``send_hour`` (today's, if it is still ahead), for an
    email that came due in the quiet hours or on a weekend the course skips."""
    local = now.astimezone(zone)
    day = local.date() if local.hour < send_hour else local.date() + timedelta(days=1)
    return _on(_weekday(day, weekends), send_hour, zone)


def may_send(now: datetime, zone: ZoneInfo, *, weekends: bool = True) -> bool:
    """Outside the quiet hours, and on a day the course sends."""
    return not quiet(now, zone) and (weekends or now.astimezone(zone).weekday() not in WEEKEND)


class Whom(Protocol):
    """What the schedule reads of a reader (a row, or a row's columns)."""

    @property
    def timezone(self) -> str: ...

    @property
    def send_hour(self) -> int | None: ...


@dataclass(frozen=True)
class Timing:
    """One reader's timing on one course. ``scale`` is the demo's time scale: it compresses
    the waits, never the clock (so the moves below keep their order, only faster)."""

    zone: ZoneInfo
    send_hour: int
    weekends: bool = True
    scale: float = 1.0

    @classmethod
    def of(cls, course: Course, reader: Whom, *, scale: float = 1.0) -> Timing:
        return cls(
            zone=zone_for(reader.timezone, course.timezone),
            send_hour=reader_hour(course, reader.send_hour),
            weekends=course.weekends,
            scale=scale,
        )

    def due(self, now: datetime, delay_days: int) -> datetime:
        """An email ``delay_days`` after ``now`` (0: now)."""
        return next_due(
            now=now,
            delay_days=delay_days,
            send_hour=self.send_hour,
            zone=self.zone,
            scale=self.scale,
            weekends=self.weekends,
        )

    def morning(self, now: datetime) -> datetime:
        """The next morning this reader may get an email (for one due in their night)."""
        return held_until(now, send_hour=self.send_hour, zone=self.zone, weekends=self.weekends)

    def resumed(self, planned: datetime, paused_for: timedelta, now: datetime) -> datetime:
        """A paused course goes on with the wait that was left when it was paused."""
        return max(now, planned + paused_for)

    def at_hour(self, planned: datetime, now: datetime) -> datetime:
        """The next email moved to this reader's hour on its planned day (now, if that hour
        has passed). With a compressed demo, days have no hours: the plan stands."""
        if self.scale != 1:
            return planned
        return max(now, self._on_day_of(planned))

    def slowed(self, planned: datetime, now: datetime) -> datetime:
        """The next email after the reader asked for a slower pace: the days left until it
        are doubled, by at least one day, at their hour. It never comes earlier than planned
        (an email due this very morning moves to tomorrow, never to a past 8:00)."""
        if self.scale != 1:
            return planned + max(planned - now, timedelta(days=1) / self.scale)
        today = now.astimezone(self.zone).date()
        days_left = max(0, (planned.astimezone(self.zone).date() - today).days)
        day = _weekday(today + timedelta(days=days_left + max(1, days_left)), self.weekends)
        return max(_on(day, self.send_hour, self.zone), planned)

    def _on_day_of(self, planned: datetime) -> datetime:
        return _on(planned.astimezone(self.zone).date(), self.send_hour, self.zone)
