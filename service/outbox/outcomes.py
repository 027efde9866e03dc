"""What happened to a delivery, recorded: sent, ambiguous, to be retried, bounced, failed,
cancelled, or resent by hand, and the enrollment moved on to its next step when it should.

The other half of the delivery state machine (``service.outbox.claims`` claims the work): each
function here runs after the send was tried, in the job's own transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from emails.received import policy_code
from service.outbox import holds, providers, sent
from service.outbox.claims import BACKOFF, MAX_ATTEMPTS
from service.readers.history import record
from service.readers.lifecycle import suppress
from service.store.models import (
    UNDER_WAY,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
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
    if delivery.kind in (DeliveryKind.PRIVATE_LINK, DeliveryKind.ANSWER):
        # asked for, or a person's answer: a reader who left may still get it
        return "the reader's details were erased" if reader.erased_at else None
    if reader.status != ReaderStatus.ACTIVE:
        return f"the reader is {reader.status.value}"
    if delivery.kind in (DeliveryKind.ALREADY, DeliveryKind.JOIN):
        return None
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
    sent.record_sent_in(session, delivery, now=now, time_scale=time_scale)


def record_ambiguous(
    session: Session, delivery: Delivery, error: str, *, now: datetime, time_scale: float
) -> None:
    """The server may have the message: never resend blindly; move on as if it went."""
    sent.record_sent_in(
        session,
        delivery,
        now=now,
        time_scale=time_scale,
        status=DeliveryStatus.AMBIGUOUS,
        error=error,
    )


def record_transient(session: Session, delivery: Delivery, error: str, *, now: datetime) -> None:
    """Retry later with backoff, or give up after ``MAX_ATTEMPTS`` (the address is kept).
    A 4.7.x (a provider slowing us for our reputation) also holds that provider's mail; a
    plain 4.7.0 ("try again later", said for anything from TLS to load) does not."""
    delivery.last_error = error
    if policy_code(error) not in (None, "4.7.0"):
        _held_by_provider(session, delivery, error, now=now)
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
    """A hard bounce (5xx): the address is suppressed and nothing more goes to it; but a
    refusal for our setup or reputation (5.7.x) is never the reader's: see ``record_refused``."""
    if policy_code(error) is not None:
        record_refused(session, delivery, error, now=now)
        return
    delivery.status = DeliveryStatus.FAILED_PERMANENT
    delivery.last_error = error
    session.flush()
    suppress(session, delivery.reader, reason="hard_bounce", detail=error, now=now)


def record_refused(session: Session, delivery: Delivery, error: str, *, now: datetime) -> None:
    """A provider refused this email for our sending setup or reputation (5.7.x): the reader
    keeps their place, the email is tried again once the hour's hold on that provider is
    over (or ends failed after ``MAX_ATTEMPTS``), and their record says who refused and why."""
    delivery.last_error = error
    _held_by_provider(session, delivery, error, now=now)
    if delivery.attempts >= MAX_ATTEMPTS:
        record_failed(session, delivery, f"refused {delivery.attempts} times: {error}")
        return
    delivery.status = DeliveryStatus.RETRY_WAIT
    delivery.next_attempt_at = now + holds.POLICY_PAUSE


def _held_by_provider(session: Session, delivery: Delivery, error: str, *, now: datetime) -> None:
    group = holds.hold_for_refusal(session, delivery.reader.email, error, now=now)
    detail = (
        f"{error[:300]} (course email to {providers.PROVIDERS.get(group, group)} waits an hour)"
    )
    record(session, delivery.reader, "refused_by_provider", actor="bounce", now=now, detail=detail)


def record_failed(session: Session, delivery: Delivery, reason: str) -> None:
    """This one delivery cannot be sent (it could not be built, or the relay cannot carry
    it): a terminal state with the reason. The address is kept and the course stops here for
    this reader, visibly (the enrollment is stalled), while everyone else's goes on."""
    delivery.status = DeliveryStatus.FAILED_PERMANENT
    delivery.next_attempt_at = None
    delivery.last_error = reason[:2000]
    if delivery.enrollment is not None and delivery.enrollment.status in UNDER_WAY:
        delivery.enrollment.status = EnrollmentStatus.STALLED
