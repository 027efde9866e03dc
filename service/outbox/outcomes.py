"""What happened to a delivery, recorded: sent, ambiguous, to be retried, bounced, failed,
cancelled, or resent by hand, and the enrollment moved on to its next step when it should.

The other half of the delivery state machine (``service.outbox.claims`` claims the work): each
function here runs after the send was tried, in the job's own transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from emails.course import Course, shipped_course
from service.outbox.claims import BACKOFF, MAX_ATTEMPTS
from service.readers.lifecycle import suppress
from service.schedule import next_due, reader_hour, zone_for
from service.store.models import (
    UNDER_WAY,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    ReaderStatus,
)


def why_not_send(delivery: Delivery, *, suppressed: bool) -> str | None:
    """Re-read at send time: an unsubscribe that committed a moment ago wins."""
    reader = delivery.reader
    if suppressed:
        return "address is suppressed"
    if delivery.kind == DeliveryKind.CONFIRMATION:
        if reader.status != ReaderStatus.PENDING:
            return f"the reader is {reader.status.value}, not waiting to confirm"
        return None
    if reader.status != ReaderStatus.ACTIVE:
        return f"the reader is {reader.status.value}"
    enrollment = delivery.enrollment
    if enrollment is None or enrollment.status != EnrollmentStatus.ACTIVE:
        return "enrollment is no longer active"
    if enrollment.next_step != delivery.step:
        return "enrollment has moved past this step"
    return None


def settle_orphans(
    session: Session,
    *,
    now: datetime,
    claim_timeout: timedelta,
    time_scale: float,
    postgres: bool,
    limit: int,
) -> int:
    """Stale claims that are not to be taken again, ended with their reason:

    - an email a worker had in hand (``sending``) when it stopped beating: the server may
      have it, exactly as when a connection drops after the final ".", so it is recorded
      ``ambiguous`` (resent only on purpose) and the course goes on: at most one such email
      per connection of a dead worker, never twice;
    - an email taken ``MAX_ATTEMPTS`` times without any outcome (its worker died every time)
      fails, rather than being taken again forever.
    """
    stale = Delivery.claimed_at < now - claim_timeout
    query = (
        select(Delivery)
        .where(
            stale,
            or_(
                Delivery.status == DeliveryStatus.SENDING,
                and_(Delivery.status == DeliveryStatus.CLAIMED, Delivery.attempts >= MAX_ATTEMPTS),
            ),
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    orphans = list(session.scalars(query))
    for delivery in orphans:
        if delivery.status == DeliveryStatus.SENDING:
            record_ambiguous(
                session,
                delivery,
                "its worker stopped while handing it to the mail server, which may have it; "
                "not resent (coursemail resend sends it on purpose)",
                now=now,
                time_scale=time_scale,
            )
        else:
            record_failed(
                session,
                delivery,
                f"taken {delivery.attempts} times without an outcome (its worker stopped "
                "each time); not tried again",
            )
    return len(orphans)


def record_cancelled(session: Session, delivery: Delivery, reason: str) -> None:
    delivery.status = DeliveryStatus.CANCELLED
    delivery.last_error = reason


def record_sent(session: Session, delivery: Delivery, *, now: datetime, time_scale: float) -> None:
    delivery.status = DeliveryStatus.SENT
    delivery.sent_at = now
    delivery.last_error = None
    _advance(delivery, now=now, time_scale=time_scale)


def record_ambiguous(
    session: Session, delivery: Delivery, error: str, *, now: datetime, time_scale: float
) -> None:
    """The server may have the message: never resend blindly; move on as if it went."""
    delivery.status = DeliveryStatus.AMBIGUOUS
    delivery.sent_at = now
    delivery.last_error = error
    _advance(delivery, now=now, time_scale=time_scale)


def record_transient(session: Session, delivery: Delivery, error: str, *, now: datetime) -> None:
    """Retry later with backoff, or give up after ``MAX_ATTEMPTS`` (the address is kept)."""
    delivery.last_error = error
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED_PERMANENT
        delivery.next_attempt_at = None
        if delivery.enrollment is not None:
            delivery.enrollment.status = EnrollmentStatus.STALLED
        return
    delay = BACKOFF[min(delivery.attempts, len(BACKOFF)) - 1]
    delivery.status = DeliveryStatus.RETRY_WAIT
    delivery.next_attempt_at = now + delay


def record_permanent(session: Session, delivery: Delivery, error: str, *, now: datetime) -> None:
    """A hard bounce (5xx): the address is suppressed and nothing more goes to it."""
    delivery.status = DeliveryStatus.FAILED_PERMANENT
    delivery.last_error = error
    session.flush()
    suppress(session, delivery.reader, reason="hard_bounce", detail=error, now=now)


def record_failed(session: Session, delivery: Delivery, reason: str) -> None:
    """This one delivery cannot be sent (it could not be built, or the relay cannot carry
    it): a terminal state with the reason. The address is kept and the course stops here for
    this reader, visibly (the enrollment is stalled), while everyone else's goes on."""
    delivery.status = DeliveryStatus.FAILED_PERMANENT
    delivery.next_attempt_at = None
    delivery.last_error = reason[:2000]
    if delivery.enrollment is not None and delivery.enrollment.status in UNDER_WAY:
        delivery.enrollment.status = EnrollmentStatus.STALLED


#: What an operator may resend by hand: nothing else is final without a doubt.
RESENDABLE = (DeliveryStatus.AMBIGUOUS, DeliveryStatus.FAILED_PERMANENT)


def meant_for(kind: DeliveryKind) -> ReaderStatus:
    """The reader an email of this kind is for: a confirmation goes to someone still to
    confirm, a course email to someone taking the course."""
    return ReaderStatus.PENDING if kind == DeliveryKind.CONFIRMATION else ReaderStatus.ACTIVE


def why_not_resend(delivery: Delivery, *, suppressed: bool) -> str | None:
    """Why a deliberate resend of this delivery is refused, or None if it may go."""
    reader = delivery.reader
    if delivery.status not in RESENDABLE:
        return f"it is {delivery.status.value}; only ambiguous or failed emails are resent by hand"
    if suppressed:
        return "the address is suppressed (it bounced); nothing more goes to it"
    if reader.status != meant_for(delivery.kind):
        return f"the reader is {reader.status.value}"
    return None


def record_resent(
    session: Session, delivery: Delivery, *, now: datetime, time_scale: float
) -> None:
    """A deliberate resend went out. A course stalled on this very step goes on from here."""
    before = f"{delivery.status.value}: {delivery.last_error or 'no reason recorded'}"
    enrollment = delivery.enrollment
    if (
        enrollment is not None
        and enrollment.status == EnrollmentStatus.STALLED
        and enrollment.next_step == delivery.step
    ):
        enrollment.status = EnrollmentStatus.ACTIVE
    delivery.attempts += 1
    record_sent(session, delivery, now=now, time_scale=time_scale)
    delivery.last_error = f"resent by hand (it was {before})"[:2000]


def course_for(enrollment: Enrollment) -> Course:
    return shipped_course(enrollment.course)


def _advance(delivery: Delivery, *, now: datetime, time_scale: float) -> None:
    enrollment = delivery.enrollment
    if enrollment is None or enrollment.status not in UNDER_WAY:
        return  # they left while this one was in flight: plan nothing further
    if enrollment.next_step != delivery.step:
        return
    for name, value in (advance_values(delivery, now=now, time_scale=time_scale) or {}).items():
        setattr(enrollment, name, value)


def advance_values(
    delivery: Delivery, *, now: datetime, time_scale: float
) -> dict[str, object] | None:
    """What a sent step changes on its enrollment: the next step and when it is due, or
    the course completed. None for a confirmation email."""
    enrollment = delivery.enrollment
    if delivery.kind != DeliveryKind.STEP or enrollment is None:
        return None
    course = course_for(enrollment)
    following = (delivery.step or 0) + 1
    if following >= len(course.steps):
        return {
            "next_step": following,
            "status": EnrollmentStatus.COMPLETED,
            "completed_at": now,
            "next_send_at": None,
        }
    due = next_due(
        now=now,
        delay_days=course.step(following).delay_days * max(1, enrollment.pace or 1),
        send_hour=reader_hour(course, delivery.reader.send_hour),
        zone=zone_for(delivery.reader.timezone, course.timezone),
        scale=time_scale,
        weekends=course.weekends,
    )
    return {"next_step": following, "next_send_at": due}
