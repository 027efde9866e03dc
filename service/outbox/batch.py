"""A send batch's database work in as few statements as the delivery guarantees allow.

A batch of claimed deliveries is read in one query, with each reader and enrollment (no
row loaded one at a time), and the suppressed addresses among them in a second. Then, per
email, one short transaction does two things:

1. records the *previous* email's outcome when it was simply sent (the common case), and
2. takes *this* email in hand: ``claimed → sending``, on the condition that, at this moment,
   the reader is still subscribed, not suppressed, and still due this step. An unsubscribe
   that committed a moment ago wins, exactly as if the row had been re-read.

The trade-off (README, "How an email is delivered"): an email sent but whose ``sent`` is not
yet written rides along with the next email's transaction, so if the worker dies between the
two, that email is found ``sending`` and recorded ``ambiguous`` — never sent twice, never
lost without a record. At most one email per connection is ever in that state, as before:
the one just handed to the server. Rare outcomes (retry, bounce, failure) are recorded at once,
in their own transaction, by ``service.outbox.outcomes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Update, and_, bindparam, exists, func, select, update
from sqlalchemy.orm import Session, contains_eager

from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Reader,
    ReaderStatus,
    Suppression,
)


def load(session: Session, ids: Sequence[int]) -> dict[int, Delivery]:
    """The batch's deliveries still claimed, with reader and enrollment, in one query.

    The rows stay readable after the session closes (``expire_on_commit=False``); they are
    only read from, never changed through the ORM.
    """
    rows = session.scalars(
        select(Delivery)
        .join(Delivery.reader)
        .outerjoin(Delivery.enrollment)
        .options(contains_eager(Delivery.reader), contains_eager(Delivery.enrollment))
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


def _take_statement(kind: DeliveryKind) -> Update:
    """``claimed → sending`` on the condition the email may still go, built once per kind
    (only its parameters change per email, so SQLAlchemy compiles it once per process)."""
    if kind == DeliveryKind.CONFIRMATION:
        reader_may = Reader.status == ReaderStatus.PENDING
    elif kind in (DeliveryKind.PRIVATE_LINK, DeliveryKind.ANSWER):  # whoever is not erased
        reader_may = Reader.erased_at.is_(None)
    else:
        reader_may = Reader.status == ReaderStatus.ACTIVE
    conditions = [
        Delivery.id == bindparam("b_delivery"),
        Delivery.status == DeliveryStatus.CLAIMED,
        exists().where(Reader.id == bindparam("b_reader"), reader_may),
        ~exists().where(func.lower(Suppression.email) == bindparam("b_address")),
    ]
    if kind == DeliveryKind.STEP:
        conditions.append(
            exists().where(
                Enrollment.id == bindparam("b_enrollment"),
                Enrollment.status == EnrollmentStatus.ACTIVE,
                Enrollment.next_step == bindparam("b_step"),
            )
        )
    return (
        update(Delivery)
        .where(and_(*conditions))
        .values(status=DeliveryStatus.SENDING, claimed_at=bindparam("b_at"))
    )


_TAKE = {kind: _take_statement(kind) for kind in DeliveryKind}


def take(conn: Connection, delivery: Delivery, *, now: datetime) -> bool:
    """``claimed → sending`` if the email may still go; False if not (re-read to say why)."""
    params: dict[str, object] = {
        "b_delivery": delivery.id,
        "b_reader": delivery.reader_id,
        "b_address": delivery.reader.email.lower(),
        "b_at": now,
    }
    if delivery.kind == DeliveryKind.STEP:
        params.update(b_enrollment=delivery.enrollment_id, b_step=delivery.step)
    return bool(conn.execute(_TAKE[delivery.kind], params).rowcount == 1)
