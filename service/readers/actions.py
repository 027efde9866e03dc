"""What the reader (on their preferences page), the therapist (on the desk) or whoever runs the
server (on the command line) may do to one reader’s course: pause, resume, send the next email
now, choose the hour, slow down and back, discreet mode, unsubscribe (erasing is
``erasure``). Each is one transaction made of conditional updates, recorded on the reader’s
record (``history``); every new due time comes from ``service.schedule``.

A refused action raises ``ActionRefused`` with a sentence saying why, for the page or the CLI.

Pausing and the send path: a paused enrollment is never due, and a worker’s take re-checks
the enrollment is active, so nothing new goes out. An email of this reader still waiting to
go (pending, claimed, waiting to retry) is cancelled with the pause, and revived by the
resume: the one row per (enrollment, step) is kept, never a second. An email a worker already
had in hand goes out and moves the paused course on (``models.UNDER_WAY``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from emails.course import QUIET_FROM, QUIET_UNTIL, shipped_course
from service import spoken
from service.readers.history import record
from service.readers.lifecycle import UNSENT, mark_unsubscribed
from service.schedule import Timing, may_send
from service.store.models import (
    Delivery,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Reader,
    ReaderStatus,
)

#: Why a paused reader's waiting email was stopped (and how the resume finds it again).
PAUSED_NOTE = "held: the course was paused"


class ActionRefused(Exception):
    """The action cannot be taken now; the message says why, in plain words."""


def current_enrollment(session: Session, reader: Reader) -> Enrollment | None:
    """The reader’s latest enrollment (one who left and came back has more than one)."""
    return session.scalar(
        select(Enrollment)
        .where(Enrollment.reader_id == reader.id)
        .order_by(Enrollment.id.desc())
        .limit(1)
    )


def _under_way(session: Session, reader: Reader, wanted: EnrollmentStatus) -> Enrollment:
    if reader.erased_at is not None:
        raise ActionRefused("These details were erased.")
    if reader.status != ReaderStatus.ACTIVE:
        raise ActionRefused(
            f"The course is not being taken at this address ({reader.status.value})."
        )
    enrollment = current_enrollment(session, reader)
    if enrollment is None or enrollment.status != wanted:
        state = "not started" if enrollment is None else enrollment.status.value
        raise ActionRefused(f"The course is {state}, not {wanted.value}.")
    return enrollment


def pause(
    session: Session,
    reader: Reader,
    *,
    now: datetime,
    actor: str,
    days: int | None = None,
) -> str:
    """Hold the course; for ``days`` (then the tick resumes it), or until resumed."""
    enrollment = _under_way(session, reader, EnrollmentStatus.ACTIVE)
    enrollment.status = EnrollmentStatus.PAUSED
    enrollment.paused_at = now
    enrollment.resume_at = now + timedelta(days=days) if days else None
    session.execute(
        update(Delivery)
        .where(Delivery.enrollment_id == enrollment.id, Delivery.status.in_(UNSENT))
        .values(status=DeliveryStatus.CANCELLED, next_attempt_at=None, last_error=PAUSED_NOTE)
    )
    record(
        session, reader, "paused", actor=actor, now=now, detail=f"for {days} days" if days else None
    )
    if days:
        again = spoken.day(enrollment.resume_at, _zone(enrollment, reader))  # type: ignore[arg-type]
        return f"Paused for {days} days: it starts again by itself on {again}."
    return "Paused: nothing more is sent until the course is resumed."


def resume(session: Session, reader: Reader, *, now: datetime, actor: str) -> str:
    """The course goes on where it stopped, with the wait that was left when it was paused
    (an email that was waiting to go, goes now)."""
    enrollment = _under_way(session, reader, EnrollmentStatus.PAUSED)
    paused_for = now - (enrollment.paused_at or now)
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.paused_at = enrollment.resume_at = None
    if enrollment.next_send_at is not None:
        timing = timing_of(enrollment, reader)
        enrollment.next_send_at = timing.resumed(enrollment.next_send_at, paused_for, now)
        record(session, reader, "resumed", actor=actor, now=now)
        due = spoken.when(enrollment.next_send_at, _zone(enrollment, reader))
        return f"Resumed: your next email is planned for {due}."
    # the email that was waiting to go when it was paused: the same row goes now
    held = session.scalar(
        select(Delivery).where(
            Delivery.enrollment_id == enrollment.id, Delivery.step == enrollment.next_step
        )
    )
    if held is None:
        enrollment.next_send_at = now
    elif held.status == DeliveryStatus.CANCELLED:
        held.status = DeliveryStatus.PENDING
        held.attempts, held.claimed_at, held.last_error = 0, None, None
    record(session, reader, "resumed", actor=actor, now=now)
    return "Resumed: " + _goes_now(enrollment, reader, now)


def next_now(session: Session, reader: Reader, *, now: datetime, actor: str) -> str:
    """Bring the next email forward to now; the one after it keeps its usual wait."""
    enrollment = _under_way(session, reader, EnrollmentStatus.ACTIVE)
    if enrollment.next_send_at is None:
        raise ActionRefused("The next email is already on its way.")
    enrollment.next_send_at = now
    step = enrollment.next_step
    record(session, reader, "next_now", actor=actor, now=now, detail=f"email {step}")
    said = _goes_now(enrollment, reader, now)
    return said[0].upper() + said[1:]


def _goes_now(enrollment: Enrollment, reader: Reader, now: datetime) -> str:
    """When an email due now really goes: within a minute, or, in the reader's night, at
    their hour in the morning (nothing is sent in the quiet hours)."""
    timing = timing_of(enrollment, reader)
    if may_send(now, timing.zone, weekends=timing.weekends):
        return "the next email goes out within a minute."
    morning = spoken.when(timing.morning(now), _zone(enrollment, reader))
    return f"it is night where you are, so the next email waits for {morning}."


def unsubscribe(session: Session, reader: Reader, *, now: datetime, actor: str) -> str:
    if reader.erased_at is not None:
        raise ActionRefused("These details were erased.")
    if not mark_unsubscribed(session, reader, now=now, how=actor):
        raise ActionRefused(f"This address is already {reader.status.value}.")
    return "Unsubscribed: nothing more will be sent."


def choose_hour(
    session: Session,
    reader: Reader,
    hour: int | None,
    *,
    now: datetime,
    actor: str,
    scale: float = 1.0,
) -> str:
    """The hour (local) their emails arrive; None: the course’s. The next email, if one is
    planned, moves to that hour on its planned day (or goes now, if that has passed)."""
    if hour is not None and not QUIET_UNTIL <= hour < QUIET_FROM:
        raise ActionRefused(f"Please choose an hour from {QUIET_UNTIL}:00 to {QUIET_FROM - 1}:00.")
    reader.send_hour = hour
    enrollment = current_enrollment(session, reader)
    if enrollment is not None and enrollment.next_send_at is not None and enrollment.next_step:
        timing = timing_of(enrollment, reader, scale=scale)
        enrollment.next_send_at = timing.at_hour(enrollment.next_send_at, now)
    detail = f"{hour}:00" if hour is not None else "the course’s usual hour"
    record(session, reader, "hour_chosen", actor=actor, now=now, detail=detail)
    return "Done: emails will arrive at that time from now on."


def set_discreet(session: Session, reader: Reader, on: bool, *, now: datetime, actor: str) -> str:
    if reader.discreet == on:
        return "Nothing changed."
    reader.discreet = on
    record(session, reader, "discreet_on" if on else "discreet_off", actor=actor, now=now)
    return "Done: the next emails will be discreet." if on else "Done: discreet mode is off."


def slow_down(
    session: Session, reader: Reader, *, now: datetime, actor: str, scale: float = 1.0
) -> str:
    """Every remaining wait doubled: the next email’s (by a day at least, never earlier than
    planned), and each after it."""
    enrollment = _under_way(session, reader, EnrollmentStatus.ACTIVE)
    if enrollment.pace >= 2:
        raise ActionRefused("The course is already at the slower pace.")
    enrollment.pace = 2
    if enrollment.next_send_at is not None:
        timing = timing_of(enrollment, reader, scale=scale)
        enrollment.next_send_at = timing.slowed(enrollment.next_send_at, now)
    record(session, reader, "slowed", actor=actor, now=now)
    return "Slowed down: every wait between emails is now twice as long."


def usual_pace(session: Session, reader: Reader, *, now: datetime, actor: str) -> str:
    """Back to the course’s own waits, from the email after the next (which keeps its day:
    nothing moves earlier than the reader was told)."""
    enrollment = _under_way(session, reader, EnrollmentStatus.ACTIVE)
    if enrollment.pace <= 1:
        raise ActionRefused("The course is already at its usual pace.")
    enrollment.pace = 1
    record(session, reader, "usual_pace", actor=actor, now=now)
    return "Done: after the next email, the course keeps its usual pace."


def _zone(enrollment: Enrollment, reader: Reader) -> str:
    """The reader's own time zone, as their messages speak of time."""
    return timing_of(enrollment, reader).zone.key


def timing_of(enrollment: Enrollment, reader: Reader, *, scale: float = 1.0) -> Timing:
    """The reader’s timing on the course they are taking."""
    return Timing.of(shipped_course(enrollment.course), reader, scale=scale)


def resume_rested(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Resume the courses whose reader paused them for a while, now that it has passed (the
    tick’s work); returns how many."""
    due = session.scalars(
        select(Enrollment)
        .where(Enrollment.status == EnrollmentStatus.PAUSED, Enrollment.resume_at <= now)
        .limit(limit)
    ).all()
    for enrollment in due:
        try:
            resume(session, enrollment.reader, now=now, actor="schedule")
        except ActionRefused:  # they left meanwhile: nothing to resume
            enrollment.resume_at = None
    return len(due)
