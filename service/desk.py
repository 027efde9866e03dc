"""What the therapist's desk shows: the course's funnel and what needs a look, as counts.

Each figure is one aggregate query over indexed columns; nothing loads rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from service import inbox
from service.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    InboundMessage,
    Subscriber,
    SubscriberStatus,
)

#: An email counts as received once the server took it (or may have: ambiguous).
DELIVERED = (DeliveryStatus.SENT, DeliveryStatus.AMBIGUOUS)


@dataclass(frozen=True)
class Stage:
    label: str
    count: int


@dataclass(frozen=True)
class Overview:
    funnel: list[Stage]
    due_24h: int
    stale_claims: int
    forwards_waiting: int
    ambiguous: int
    failed: int

    @property
    def empty(self) -> bool:
        return self.funnel[0].count == 0


def _count(session: Session, query: object) -> int:
    return int(session.scalar(query) or 0)  # type: ignore[call-overload]


def funnel(session: Session, step_titles: list[str]) -> list[Stage]:
    """Readers at each stage: signed up, confirmed, each email received, replied, left."""
    per_step = dict(
        session.execute(
            select(Delivery.step, func.count(Delivery.id))
            .where(Delivery.kind == DeliveryKind.STEP, Delivery.status.in_(DELIVERED))
            .group_by(Delivery.step)
        ).all()
    )
    readers = select(func.count(Subscriber.id))
    repliers = select(func.count(distinct(InboundMessage.subscriber_id))).where(
        InboundMessage.subscriber_id.is_not(None)
    )
    return [
        Stage("Signed up", _count(session, readers)),
        Stage("Confirmed", _count(session, select(func.count(Subscriber.confirmed_at)))),
        *[Stage(title, int(per_step.get(i, 0))) for i, title in enumerate(step_titles)],
        Stage("Replied", _count(session, repliers)),
        Stage(
            "Unsubscribed",
            _count(session, readers.where(Subscriber.status == SubscriberStatus.UNSUBSCRIBED)),
        ),
        Stage(
            "Bounced", _count(session, readers.where(Subscriber.status == SubscriberStatus.BOUNCED))
        ),
    ]


def overview(
    session: Session, *, now: datetime, step_titles: list[str], claim_timeout: timedelta
) -> Overview:
    deliveries = select(func.count(Delivery.id))
    in_hand = (DeliveryStatus.CLAIMED, DeliveryStatus.SENDING)
    due = select(func.count(Enrollment.id)).where(
        Enrollment.status == EnrollmentStatus.ACTIVE,
        Enrollment.next_send_at <= now + timedelta(hours=24),
    )
    stale = deliveries.where(
        Delivery.status.in_(in_hand), Delivery.claimed_at < now - claim_timeout
    )
    return Overview(
        funnel=funnel(session, step_titles),
        due_24h=_count(session, due),
        stale_claims=_count(session, stale),
        forwards_waiting=inbox.waiting_count(session),
        ambiguous=_count(session, deliveries.where(Delivery.status == DeliveryStatus.AMBIGUOUS)),
        failed=_count(
            session, deliveries.where(Delivery.status == DeliveryStatus.FAILED_PERMANENT)
        ),
    )
