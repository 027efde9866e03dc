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

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from service.inbox import inbound
from service.store.models import Delivery, DeliveryStatus, HealthProbe, Reader

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
class Health:
    """The counts /healthz reports: each should stay at 0 (see ``service.web.health``)."""

    #: claims older than CLAIM_TIMEOUT: a worker that died, waiting for the tick to retake
    stale_claims: int
    replies_waiting: int
    #: replies that could not be read automatically: forwarded whole, worth a look
    replies_unreadable_recent: int
    ambiguous_recent: int
    failed_recent: int
    #: forwards (or notices) the therapist's mail server sent back, not yet marked handled
    replies_returned: int = 0


@dataclass(frozen=True)
class Status:
    """What ``coursemail status`` shows: the health counts and the rows behind them."""

    health: Health
    by_state: dict[str, int]
    oldest_claim: datetime | None
    trouble: list[Trouble]


#: Deliveries a worker holds.
_HELD = Delivery.status.in_((DeliveryStatus.CLAIMED, DeliveryStatus.SENDING))


def prove_writable(session: Session, *, now: datetime) -> None:
    """Write the probe's one row (raises if the database takes reads but refuses writes)."""
    written = session.execute(update(HealthProbe).values(written_at=now)).rowcount  # type: ignore[attr-defined]
    if not written:
        session.add(HealthProbe(id=1, written_at=now))
    session.flush()


def health(session: Session, *, now: datetime, claim_timeout: timedelta) -> Health:
    """A few indexed counts, cheap enough for every load-balancer probe."""
    since = now - RECENT
    stale = session.scalar(
        select(func.count(Delivery.id)).where(_HELD, Delivery.claimed_at < now - claim_timeout)
    )
    counts = {
        status: count
        for status, count in session.execute(
            select(Delivery.status, func.count(Delivery.id))
            .where(Delivery.status.in_(TROUBLE), _when() >= since)
            .group_by(Delivery.status)
        ).all()
    }
    return Health(
        stale_claims=int(stale or 0),
        replies_waiting=inbound.waiting_count(session),
        replies_unreadable_recent=inbound.unreadable_since(session, since),
        ambiguous_recent=int(counts.get(DeliveryStatus.AMBIGUOUS, 0)),
        failed_recent=int(counts.get(DeliveryStatus.FAILED_PERMANENT, 0)),
        replies_returned=inbound.returned_count(session),
    )


def status(session: Session, *, now: datetime, claim_timeout: timedelta, limit: int = 20) -> Status:
    by_state = session.execute(
        select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)
    ).all()
    return Status(
        health=health(session, now=now, claim_timeout=claim_timeout),
        by_state={str(state): int(count) for state, count in by_state},
        oldest_claim=session.scalar(select(func.min(Delivery.claimed_at)).where(_HELD)),
        trouble=_recent_trouble(session, since=now - RECENT, limit=limit),
    )


def _when() -> ColumnElement[datetime]:
    """When a delivery ended: sent_at for an ambiguous one, else when it was last taken in
    hand (a failure keeps its last claim's time), else when it was created."""
    return func.coalesce(Delivery.sent_at, Delivery.claimed_at, Delivery.created_at)


def _recent_trouble(session: Session, *, since: datetime, limit: int) -> list[Trouble]:
    when = _when()
    columns = (Delivery.id, Delivery.status, Delivery.step, Reader.email, when)
    rows = session.execute(
        select(*columns, Delivery.last_error)
        .join(Reader, Reader.id == Delivery.reader_id)
        .where(Delivery.status.in_(TROUBLE), when >= since)
        .order_by(when.desc())
        .limit(limit)
    ).all()
    return [Trouble(row[0], str(row[1]), row[2], row[3], row[4], row[5] or "") for row in rows]
