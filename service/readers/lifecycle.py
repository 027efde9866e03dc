"""The subscriber lifecycle: subscribe, confirm (enroll), unsubscribe, suppress.

Plain functions over a session: blueprints, jobs and the CLI are thin shells around them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from emails.course import Course
from service.readers.history import record
from service.schedule import next_due, reader_hour, zone_for
from service.store.models import (
    UNDER_WAY,
    Consent,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
)

#: Deliveries that have not gone out yet and can still be stopped.
UNSENT = (
    DeliveryStatus.PENDING,
    DeliveryStatus.CLAIMED,
    DeliveryStatus.RETRY_WAIT,
)


@dataclass(frozen=True)
class SubscribeResult:
    subscriber: Subscriber
    #: a confirmation email was put in the outbox by this call
    confirmation_queued: bool
    #: that email's delivery, already claimed to be handed to a worker now (``claim=True``)
    claimed_confirmation: Delivery | None = None


def find_by_email(session: Session, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(func.lower(Subscriber.email) == email.lower()))


def find_by_public_id(session: Session, public_id: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.public_id == public_id))


def find_by_unsubscribe_token(session: Session, token: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.unsubscribe_token == token))


def is_suppressed(session: Session, email: str) -> bool:
    found = session.scalar(
        select(Suppression.id).where(func.lower(Suppression.email) == email.lower())
    )
    return found is not None


def subscribe(
    session: Session,
    *,
    email: str,
    first_name: str | None,
    timezone: str,
    now: datetime,
    mail_domain: str,
    claim: bool = False,
    discreet: bool = False,
) -> SubscribeResult:
    """Record a sign-up and queue the confirmation email; never a second row per address.

    An active subscriber is left alone; a pending one gets the confirmation again unless one
    is already on its way; one who left (or bounced and was un-suppressed) starts over.
    With ``claim``, the confirmation is written already claimed, in this same transaction, for
    the caller to enqueue at once (``queues.enqueue_or_release`` hands it back to the outbox if
    Redis refuses; if the caller dies first, the claim goes stale and the tick sends it).
    """
    email = email.strip().lower()
    subscriber = find_by_email(session, email)
    new = subscriber is None
    if subscriber is None:
        subscriber = Subscriber(
            email=email, first_name=first_name, timezone=timezone, created_at=now
        )
        session.add(subscriber)
        session.flush()
    if discreet:
        _keep_discreet(session, subscriber, now=now)
    if not new and subscriber.status == SubscriberStatus.ACTIVE:
        return SubscribeResult(subscriber, confirmation_queued=False)
    if not new:
        subscriber.status = SubscriberStatus.PENDING
        subscriber.first_name = first_name or subscriber.first_name
        subscriber.timezone = timezone
    if is_suppressed(session, email):
        return SubscribeResult(subscriber, confirmation_queued=False)
    in_flight = not new and session.scalar(
        select(Delivery.id).where(
            Delivery.subscriber_id == subscriber.id,
            Delivery.kind == DeliveryKind.CONFIRMATION,
            Delivery.status.in_(UNSENT + (DeliveryStatus.SENDING,)),
        )
    )  # (a reader new this moment has nothing in flight)
    if in_flight:
        return SubscribeResult(subscriber, confirmation_queued=False)
    delivery = Delivery(
        kind=DeliveryKind.CONFIRMATION,
        subscriber_id=subscriber.id,
        status=DeliveryStatus.CLAIMED if claim else DeliveryStatus.PENDING,
        claimed_at=now if claim else None,
        attempts=1 if claim else 0,
        message_id=make_msgid(domain=mail_domain),
        created_at=now,
    )
    session.add(delivery)
    return SubscribeResult(
        subscriber, confirmation_queued=True, claimed_confirmation=delivery if claim else None
    )


def _keep_discreet(session: Session, subscriber: Subscriber, *, now: datetime) -> None:
    """Set before the confirmation is written, so it is discreet too. The form only ever
    turns it on: anyone can type an address, and only the reader may turn it off."""
    if not subscriber.discreet:
        subscriber.discreet = True
        record(session, subscriber, "discreet_on", actor="form", now=now)


def confirm(
    session: Session, subscriber: Subscriber, *, course: Course, now: datetime, how: str = "link"
) -> bool:
    """Activate a pending subscriber and enroll them; False if they were not pending.

    Only a pending sign-up can be confirmed: an old link must never undo an unsubscribe.
    """
    if subscriber.status != SubscriberStatus.PENDING:
        return False
    subscriber.status = SubscriberStatus.ACTIVE
    subscriber.confirmed_at = now
    subscriber.unsubscribed_at = None
    enroll(session, subscriber, course=course, now=now)
    record(session, subscriber, "confirmed", actor=how, now=now)
    return True


def enroll(
    session: Session, subscriber: Subscriber, *, course: Course, now: datetime
) -> Enrollment:
    """A fresh enrollment whose first email is due as the course says (the welcome: now)."""
    enrollment = Enrollment(
        **enrollment_values(
            subscriber.id, subscriber.timezone, course, now, chosen_hour=subscriber.send_hour
        )
    )
    session.add(enrollment)
    session.flush()
    return enrollment


def enrollment_values(
    subscriber_id: int,
    timezone: str,
    course: Course,
    now: datetime,
    *,
    chosen_hour: int | None = None,
) -> dict[str, object]:
    """The columns of a new enrollment (for ``enroll``, and for bulk inserts)."""
    return {
        "subscriber_id": subscriber_id,
        "course": course.slug,
        "course_version": course.version,
        "next_step": 0,
        "next_send_at": next_due(
            now=now,
            delay_days=course.steps[0].delay_days,
            send_hour=reader_hour(course, chosen_hour),
            zone=zone_for(timezone, course.timezone),
            weekends=course.weekends,
        ),
        "status": EnrollmentStatus.ACTIVE,
        "created_at": now,
    }


def unsubscribe(session: Session, subscriber: Subscriber, *, now: datetime, how: str) -> bool:
    """Stop everything for this subscriber at once, and record how they left (one of
    ``consent_record.HOW``); False if they had already left."""
    if subscriber.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED):
        return False
    subscriber.status = SubscriberStatus.UNSUBSCRIBED
    subscriber.unsubscribed_at = now
    _stop_everything(session, subscriber.id)
    record(session, subscriber, "unsubscribed", actor=how, now=now)
    return True


def suppress(
    session: Session, subscriber: Subscriber, *, reason: str, detail: str, now: datetime
) -> None:
    """A hard bounce: never mail this address again, and stop what was planned."""
    if not is_suppressed(session, subscriber.email):
        session.add(
            Suppression(email=subscriber.email, reason=reason, detail=detail, created_at=now)
        )
    subscriber.status = SubscriberStatus.BOUNCED
    _stop_everything(session, subscriber.id)


def _stop_everything(session: Session, subscriber_id: int) -> None:
    session.execute(
        update(Enrollment)
        .where(
            Enrollment.subscriber_id == subscriber_id,
            Enrollment.status.in_(UNDER_WAY),
        )
        .values(status=EnrollmentStatus.CANCELLED, next_send_at=None, paused_at=None)
    )
    session.execute(
        update(Delivery)
        .where(Delivery.subscriber_id == subscriber_id, Delivery.status.in_(UNSENT))
        .values(status=DeliveryStatus.CANCELLED, next_attempt_at=None)
    )


def record_consent(
    session: Session,
    subscriber: Subscriber,
    *,
    now: datetime,
    ip: str | None,
    user_agent: str | None,
    form_version: str,
    consent_text: str,
) -> None:
    """Keep proof of the sign-up: when, from where, on which form, agreeing to which words."""
    session.add(
        Consent(
            subscriber_id=subscriber.id,
            created_at=now,
            ip=(ip or "")[:45] or None,
            user_agent=(user_agent or "")[:400] or None,
            form_version=form_version,
            consent_text=consent_text,
        )
    )
