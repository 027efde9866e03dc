"""Sending one of a reader’s emails again, on purpose: who may, which emails, and what it
records. The engine never resends by itself (a doubt is recorded ``ambiguous`` and left); the
operator’s ``coursemail resend`` takes only ambiguous or failed emails, the desk also one that
simply went (a reader who lost it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from service.outbox import sent
from service.readers.actions import ActionRefused
from service.readers.lifecycle import meant_for
from service.store.models import Delivery, DeliveryStatus, EnrollmentStatus, Reader

#: What an operator may resend by hand: nothing else is final without a doubt.
RESENDABLE = (DeliveryStatus.AMBIGUOUS, DeliveryStatus.FAILED_PERMANENT)


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
    """A deliberate resend went out. A course stalled on this very step goes on from here.
    The email keeps the moment it first went (the timeline shows both: the send, then the
    "sent again" event); one that never went takes this moment."""
    before = f"{delivery.status.value}: {delivery.last_error or 'no reason recorded'}"
    first_sent = delivery.sent_at
    enrollment = delivery.enrollment
    if (
        enrollment is not None
        and enrollment.status == EnrollmentStatus.STALLED
        and enrollment.next_step == delivery.step
    ):
        enrollment.status = EnrollmentStatus.ACTIVE
    delivery.attempts += 1
    sent.record_sent_in(session, delivery, now=now, time_scale=time_scale)
    delivery.sent_at = first_sent or now
    delivery.last_error = f"resent by hand (it was {before})"[:2000]


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
    """One of this reader’s emails that may be sent again on purpose: it went (or may
    have), or failed; and the reader may still get it."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.reader_id != reader.id:
        raise ActionRefused("That email is not one of this reader’s.")
    refusal = _why_not_resend(delivery, reader)
    if refusal:
        raise ActionRefused(refusal)
    return delivery


#: What the desk may send again: anything that went out (or may have), or failed.
RESENDABLE_BY_HAND = (
    DeliveryStatus.SENT,
    DeliveryStatus.AMBIGUOUS,
    DeliveryStatus.FAILED_PERMANENT,
)
