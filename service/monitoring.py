"""What an operator (and a load balancer's health check) needs to see: sends by state, claims
gone stale, replies waiting, and the recent deliveries that need a person's eyes.

``ambiguous`` deliveries (the connection dropped after the message was handed over, so the
server may or may not have it) are never resent automatically; ``failed_permanent`` ones gave
up. Both are listed here so that nobody misses a step in silence: review them with
``coursemail status`` and resend one deliberately with ``coursemail resend ID``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from service import inbox
from service.models import Delivery, DeliveryStatus, Subscriber

#: "Recent" trouble: what /healthz and ``coursemail status`` count.
RECENT = timedelta(hours=24)
#: Deliveries that need a person's eyes.
TROUBLE = (DeliveryStatus.AMBIGUOUS, DeliveryStatus.FAILED_PERMANENT)


@dataclass(frozen=True)
class Trouble:
    delivery_id: int
    status: str
    step: int | None
    email: str
    when: datetime
    reason: str


@dataclass(frozen=True)
class Status:
    by_state: dict[str, int]
    #: claims older than CLAIM_TIMEOUT: a worker that died, waiting for the tick to retake
    stale_claims: int
    oldest_claim: datetime | None
    replies_waiting: int
    #: replies that could not be read automatically: forwarded whole, worth a look
    replies_unreadable_recent: int
    ambiguous_recent: int
    failed_recent: int
    trouble: list[Trouble]


def status(session: Session, *, now: datetime, claim_timeout: timedelta, limit: int = 20) -> Status:
    by_state = {
        status: count
        for status, count in session.execute(
            select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)
        ).all()
    }
    claimed = Delivery.status.in_((DeliveryStatus.CLAIMED, DeliveryStatus.SENDING))
    oldest = session.scalar(select(func.min(Delivery.claimed_at)).where(claimed))
    stale = session.scalar(
        select(func.count(Delivery.id)).where(claimed, Delivery.claimed_at < now - claim_timeout)
    )
    since = now - RECENT
    recent = _recent_trouble(session, since=since, limit=limit)
    counts = {
        status: count
        for status, count in session.execute(
            select(Delivery.status, func.count(Delivery.id))
            .where(Delivery.status.in_(TROUBLE), _when() >= since)
            .group_by(Delivery.status)
        ).all()
    }
    return Status(
        by_state={str(k): int(v) for k, v in by_state.items()},
        stale_claims=int(stale or 0),
        oldest_claim=oldest,
        replies_waiting=inbox.waiting_count(session),
        replies_unreadable_recent=inbox.unreadable_since(session, since),
        ambiguous_recent=int(counts.get(DeliveryStatus.AMBIGUOUS, 0)),
        failed_recent=int(counts.get(DeliveryStatus.FAILED_PERMANENT, 0)),
        trouble=recent,
    )


def _when() -> ColumnElement[datetime]:
    """When a delivery ended: sent_at for an ambiguous one, else when it was last taken in
    hand (a failure keeps its last claim's time), else when it was created."""
    return func.coalesce(Delivery.sent_at, Delivery.claimed_at, Delivery.created_at)


def _recent_trouble(session: Session, *, since: datetime, limit: int) -> list[Trouble]:
    when = _when()
    columns = (Delivery.id, Delivery.status, Delivery.step, Subscriber.email, when)
    rows = session.execute(
        select(*columns, Delivery.last_error)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.status.in_(TROUBLE), when >= since)
        .order_by(when.desc())
        .limit(limit)
    ).all()
    return [Trouble(row[0], str(row[1]), row[2], row[3], row[4], row[5] or "") for row in rows]
