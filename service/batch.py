"""A send batch's database work in as few statements as the delivery guarantees allow.

A batch of claimed deliveries is read in one query, with each subscriber and enrollment (no
row loaded one at a time), and the suppressed addresses among them in a second. Then, per
email, one short transaction does two things:

1. records the *previous* email's outcome when it was simply sent (the common case), and
2. takes *this* email in hand: ``claimed → sending``, on the condition that, at this moment,
   the reader is still subscribed, not suppressed, and still due this step. An unsubscribe
   that committed a moment ago wins, exactly as if the row had been re-read.

The trade-off (README, "How an email is delivered"): an email sent but whose ``sent`` is not
yet written rides along with the next email's transaction, so if the worker dies between the
two, that email is found ``sending`` and recorded ``ambiguous`` — never sent twice, never
lost without a record. At most one email per worker is ever in that state, as before: the
one just handed to the server. Rare outcomes (retry, bounce, failure) are recorded at once,
in their own transaction, by ``service.outcomes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, exists, func, select, update
from sqlalchemy.orm import Session, contains_eager

from service.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from service.outcomes import advance_values


def load(session: Session, ids: Sequence[int]) -> dict[int, Delivery]:
    """The batch's deliveries still claimed, with subscriber and enrollment, in one query.

    The rows stay readable after the session closes (``expire_on_commit=False``); they are
    only read from, never changed through the ORM.
    """
    rows = session.scalars(
        select(Delivery)
        .join(Delivery.subscriber)
        .outerjoin(Delivery.enrollment)
        .options(contains_eager(Delivery.subscriber), contains_eager(Delivery.enrollment))
        .where(Delivery.id.in_(ids), Delivery.status == DeliveryStatus.CLAIMED)
    ).unique()
    return {delivery.id: delivery for delivery in rows}


def suppressed_among(session: Session, emails: Sequence[str]) -> set[str]:
    """Which of these addresses are suppressed (lower case), in one query."""
    lowered = sorted({e.lower() for e in emails})
    if not lowered:
        return set()
    found = session.scalars(
        select(func.lower(Suppression.email)).where(func.lower(Suppression.email).in_(lowered))
    )
    return set(found)


def take(conn: Connection, delivery: Delivery, *, now: datetime) -> bool:
    """``claimed → sending`` if the email may still go; False if not (re-read to say why)."""
    subscriber = delivery.subscriber
    wanted = (
        SubscriberStatus.PENDING
        if delivery.kind == DeliveryKind.CONFIRMATION
        else SubscriberStatus.ACTIVE
    )
    conditions = [
        Delivery.id == delivery.id,
        Delivery.status == DeliveryStatus.CLAIMED,
        exists().where(Subscriber.id == delivery.subscriber_id, Subscriber.status == wanted),
        ~exists().where(func.lower(Suppression.email) == subscriber.email.lower()),
    ]
    if delivery.kind == DeliveryKind.STEP:
        conditions.append(
            exists().where(
                Enrollment.id == delivery.enrollment_id,
                Enrollment.status == EnrollmentStatus.ACTIVE,
                Enrollment.next_step == delivery.step,
            )
        )
    result = conn.execute(
        update(Delivery)
        .where(and_(*conditions))
        .values(status=DeliveryStatus.SENDING, claimed_at=now)
    )
    return bool(result.rowcount == 1)


def record_sent(conn: Connection, delivery: Delivery, *, now: datetime, time_scale: float) -> None:
    """``sending → sent``, and the enrollment moved to its next step (if it is still on this
    one and active: a reader who left while the email was in flight is planned no further)."""
    conn.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.status == DeliveryStatus.SENDING)
        .values(status=DeliveryStatus.SENT, sent_at=now, last_error=None)
    )
    values = advance_values(delivery, now=now, time_scale=time_scale)
    if values is None:
        return
    conn.execute(
        update(Enrollment)
        .where(
            Enrollment.id == delivery.enrollment_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.next_step == delivery.step,
        )
        .values(**values)
    )
