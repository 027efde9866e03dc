"""What the therapist (on the desk) or whoever runs the server (on the command line) may do to
one reader's course: pause, resume, send the next email now, unsubscribe, erase. Each is one
transaction made of conditional updates, and each is recorded as a ``ReaderEvent``.

A refused action raises ``Refused`` with a sentence saying why, for the page or the CLI.

Pausing and the send path: a paused enrollment is never due, and a worker's take re-checks
the enrollment is active, so nothing new goes out. An email of this reader still waiting to
go (pending, claimed, waiting to retry) is cancelled with the pause, and revived by the
resume: the one row per (enrollment, step) is kept, never a second. An email a worker already
had in hand goes out and moves the paused course on (``models.UNDER_WAY``).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from emails.course import QUIET_FROM, QUIET_UNTIL, shipped_course
from service.outbox.outcomes import meant_for
from service.readers.history import record
from service.readers.lifecycle import UNSENT
from service.readers.lifecycle import unsubscribe as leave
from service.schedule import reader_hour, zone_for
from service.store.models import (
    Consent,
    Delivery,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    InboundMessage,
    Reader,
    ReaderStatus,
    new_address_token,
)

#: Why a paused reader's waiting email was stopped (and how the resume finds it again).
PAUSED_NOTE = "held: the course was paused"
#: The domain of an erased reader's stand-in address: ``.invalid`` can never receive mail.
ERASED_DOMAIN = "erased.invalid"


class Refused(Exception):
    """The action cannot be taken now; the message says why, in plain words."""


def current_enrollment(session: Session, reader: Reader) -> Enrollment | None:
    """The reader's latest enrollment (one who left and came back has more than one)."""
    return session.scalar(
        select(Enrollment)
        .where(Enrollment.reader_id == reader.id)
        .order_by(Enrollment.id.desc())
        .limit(1)
    )


def _under_way(session: Session, reader: Reader, wanted: EnrollmentStatus) -> Enrollment:
    if reader.erased_at is not None:
        raise Refused("These details were erased.")
    if reader.status != ReaderStatus.ACTIVE:
        raise Refused(f"The course is not being taken at this address ({reader.status.value}).")
    enrollment = current_enrollment(session, reader)
    if enrollment is None or enrollment.status != wanted:
        state = "not started" if enrollment is None else enrollment.status.value
        raise Refused(f"The course is {state}, not {wanted.value}.")
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
    record(session, reader, "paused", actor=actor, now=now,
           detail=f"for {days} days" if days else None)  # fmt: skip
    if days:
        return f"Paused for {days} days: it starts again by itself on {enrollment.resume_at:%d %B}."
    return "Paused: nothing more is sent until the course is resumed."


def resume(session: Session, reader: Reader, *, now: datetime, actor: str) -> str:
    """The course goes on where it stopped, with the wait that was left when it was paused
    (an email that was waiting to go, goes now)."""
    enrollment = _under_way(session, reader, EnrollmentStatus.PAUSED)
    paused_for = now - (enrollment.paused_at or now)
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.paused_at = enrollment.resume_at = None
    if enrollment.next_send_at is not None:
        enrollment.next_send_at = max(now, enrollment.next_send_at + paused_for)
        record(session, reader, "resumed", actor=actor, now=now)
        return f"Resumed: the next email is due {enrollment.next_send_at:%Y-%m-%d %H:%M} UTC."
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
    return "Resumed: the next email goes out within a minute."


def next_now(session: Session, reader: Reader, *, now: datetime, actor: str) -> str:
    """Bring the next email forward to now; the one after it keeps its usual wait."""
    enrollment = _under_way(session, reader, EnrollmentStatus.ACTIVE)
    if enrollment.next_send_at is None:
        raise Refused("The next email is already on its way.")
    enrollment.next_send_at = now
    step = enrollment.next_step
    record(session, reader, "next_now", actor=actor, now=now, detail=f"email {step}")
    return "The next email goes out within a minute."


def unsubscribe(session: Session, reader: Reader, *, now: datetime, actor: str) -> str:
    if reader.erased_at is not None:
        raise Refused("These details were erased.")
    if not leave(session, reader, now=now, how=actor):
        raise Refused(f"This address is already {reader.status.value}.")
    return "Unsubscribed: nothing more will be sent."


def erase(session: Session, reader: Reader, *, now: datetime, actor: str) -> str:
    """Delete everything that names the person: address, name, time zone, consent records
    (IP, browser), replies with their raw bytes, and errors that quote the address. The row
    stays, anonymous, with its emails' states, so the course's counts stay true.

    The suppression list keeps a bounced address: it is there so the address is never mailed
    again, which erasing must not undo."""
    if reader.erased_at is not None:
        raise Refused("These details were already erased.")
    address = reader.email.lower()
    leave(session, reader, now=now, how=actor)
    session.execute(delete(Consent).where(Consent.reader_id == reader.id))
    session.execute(
        delete(InboundMessage).where(
            or_(
                InboundMessage.reader_id == reader.id,
                func.lower(InboundMessage.from_address) == address,
                func.lower(InboundMessage.mail_from) == address,
            )
        )
    )
    session.execute(update(Delivery).where(Delivery.reader_id == reader.id).values(last_error=None))
    reader.email = f"erased-{reader.public_id}@{ERASED_DOMAIN}"
    reader.first_name = None
    reader.timezone = "Etc/UTC"
    reader.unsubscribe_token = new_address_token()
    reader.erased_at = now
    record(session, reader, "erased", actor=actor, now=now)
    return "Erased: the address, name, consent records and replies are gone."


def may_resend(delivery: Delivery, reader: Reader) -> bool:
    return _why_not_resend(delivery, reader) is None


def _why_not_resend(delivery: Delivery, reader: Reader) -> str | None:
    if reader.erased_at is not None:
        return "These details were erased."
    if reader.status != meant_for(delivery.kind):
        return f"This reader is {reader.status.value}; that email is not for them now."
    if delivery.status not in RESENDABLE_BY_HAND:
        return f"That email is {delivery.status.value}: it has not gone out yet."
    return None


def resendable(session: Session, reader: Reader, delivery_id: int) -> Delivery:
    """One of this reader's emails that may be sent again on purpose: it went (or may
    have), or failed; and the reader may still get it."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.reader_id != reader.id:
        raise Refused("That email is not one of this reader's.")
    refusal = _why_not_resend(delivery, reader)
    if refusal:
        raise Refused(refusal)
    return delivery


#: What the desk may send again: anything that went out (or may have), or failed.
RESENDABLE_BY_HAND = (
    DeliveryStatus.SENT,
    DeliveryStatus.AMBIGUOUS,
    DeliveryStatus.FAILED_PERMANENT,
)


def choose_hour(
    session: Session, reader: Reader, hour: int | None, *, now: datetime, actor: str
) -> str:
    """The hour (local) their emails arrive; None: the course's. The next email, if one is
    planned, moves to that hour on its planned day (or goes now, if that has passed)."""
    if hour is not None and not QUIET_UNTIL <= hour < QUIET_FROM:
        raise Refused(f"Please choose an hour from {QUIET_UNTIL}:00 to {QUIET_FROM - 1}:00.")
    reader.send_hour = hour
    enrollment = current_enrollment(session, reader)
    if enrollment is not None and enrollment.next_send_at is not None and enrollment.next_step:
        course = shipped_course(enrollment.course)
        zone = zone_for(reader.timezone, course.timezone)
        day = enrollment.next_send_at.astimezone(zone).date()
        moved = datetime.combine(day, time(reader_hour(course, hour)), tzinfo=zone)
        enrollment.next_send_at = max(now, moved.astimezone(UTC))
    record(session, reader, "hour_chosen", actor=actor, now=now,
           detail=f"{hour}:00" if hour is not None else "the course's usual hour")  # fmt: skip
    return "Done: emails will arrive at that time from now on."


def set_discreet(session: Session, reader: Reader, on: bool, *, now: datetime, actor: str) -> str:
    if reader.discreet == on:
        return "Nothing changed."
    reader.discreet = on
    record(session, reader, "discreet_on" if on else "discreet_off", actor=actor, now=now)
    return "Done: the next emails will be discreet." if on else "Done: discreet mode is off."


def slow_down(session: Session, reader: Reader, *, now: datetime, actor: str) -> str:
    """Every remaining wait doubled: the next email's, and each after it."""
    enrollment = _under_way(session, reader, EnrollmentStatus.ACTIVE)
    if enrollment.pace >= 2:
        raise Refused("The course is already at the slower pace.")
    enrollment.pace = 2
    if enrollment.next_send_at is not None and enrollment.next_send_at > now:
        course = shipped_course(enrollment.course)
        zone = zone_for(reader.timezone, course.timezone)
        today = now.astimezone(zone).date()
        days_left = (enrollment.next_send_at.astimezone(zone).date() - today).days
        later = today + timedelta(days=2 * days_left)  # (in calendar days, as planned)
        hour = reader_hour(course, reader.send_hour)
        enrollment.next_send_at = datetime.combine(later, time(hour), tzinfo=zone).astimezone(UTC)
    record(session, reader, "slowed", actor=actor, now=now)
    return "Slowed down: every wait between emails is now twice as long."


def resume_rested(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Resume the courses whose reader paused them for a while, now that it has passed (the
    tick's work); returns how many."""
    due = session.scalars(
        select(Enrollment)
        .where(Enrollment.status == EnrollmentStatus.PAUSED, Enrollment.resume_at <= now)
        .limit(limit)
    ).all()
    for enrollment in due:
        try:
            resume(session, enrollment.reader, now=now, actor="schedule")
        except Refused:  # they left meanwhile: nothing to resume
            enrollment.resume_at = None
    return len(due)
