"""What the therapist's desk shows: the course's funnel and what needs a look, as counts.

Each figure is one aggregate query over indexed columns; nothing loads rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from emails.course import CourseError, published_slugs, shipped_course
from service.inbox import inbound
from service.outbox import complaint_rate
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    InboundCategory,
    InboundMessage,
    Reader,
    ReaderStatus,
)

#: An email counts as received once the server took it (or may have: ambiguous).
DELIVERED = (DeliveryStatus.SENT, DeliveryStatus.AMBIGUOUS)


@dataclass(frozen=True)
class Stage:
    label: str
    count: int


@dataclass(frozen=True)
class CourseFunnel:
    slug: str
    title: str
    stages: list[Stage]


@dataclass(frozen=True)
class Overview:
    funnel: list[Stage]
    #: where readers unsubscribed (before which email), the stages with anyone only
    left: list[Stage]
    #: (UTC day as YYYY-MM-DD, sign-ups that day) for the last ``DAYS`` days, oldest first
    per_day: list[tuple[str, int]]
    #: when the funnel and per_day were counted: None if just now, else the tick's snapshot
    as_of: datetime | None
    due_24h: int
    stale_claims: int
    forwards_waiting: int
    ambiguous: int
    failed: int
    #: with more than one course, each one's own funnel (the first course's too)
    courses: list[CourseFunnel] = field(default_factory=list)

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
    readers = select(func.count(Reader.id))
    # people who wrote back, once each: not bounces, auto-replies or unsubscribe mails
    repliers = select(func.count(distinct(InboundMessage.reader_id))).where(
        InboundMessage.reader_id.is_not(None),
        InboundMessage.category == InboundCategory.REPLY,
    )
    return [
        Stage("Signed up", _count(session, readers)),
        Stage("Confirmed", _count(session, select(func.count(Reader.confirmed_at)))),
        *[Stage(t[:1].upper() + t[1:], int(per_step.get(i, 0))) for i, t in enumerate(step_titles)],
        Stage("Replied", _count(session, repliers)),
        Stage(
            "Unsubscribed",
            _count(session, readers.where(Reader.status == ReaderStatus.UNSUBSCRIBED)),
        ),
        Stage("Bounced", _count(session, readers.where(Reader.status == ReaderStatus.BOUNCED))),
    ]


def left_at(session: Session, step_titles: list[str]) -> list[Stage]:
    """Where readers unsubscribed: before confirming, or before which email (the one their
    course was waiting to send), by the enrollment they left."""
    before_confirming = select(func.count(Reader.id)).where(
        Reader.status == ReaderStatus.UNSUBSCRIBED, Reader.confirmed_at.is_(None)
    )
    per_step = session.execute(
        select(Enrollment.next_step, func.count(distinct(Enrollment.reader_id)))
        .join(Reader, Reader.id == Enrollment.reader_id)
        .where(
            Reader.status == ReaderStatus.UNSUBSCRIBED,
            Enrollment.status == EnrollmentStatus.CANCELLED,
        )
        .group_by(Enrollment.next_step)
        .order_by(Enrollment.next_step)
    ).all()
    found = [Stage("Before confirming", _count(session, before_confirming))]
    for step, n in per_step:
        found.append(
            Stage(
                f"Before {step_titles[step]}" if step < len(step_titles) else "At the end", int(n)
            )
        )
    return [stage for stage in found if stage.count]


def course_funnels(session: Session) -> list[CourseFunnel]:
    """With more than one course, each one's funnel: readers who joined it, each of its
    emails received, completed, left. Two grouped queries, whatever the number of courses."""
    slugs = published_slugs()
    if len(slugs) < 2:
        return []
    by_status: dict[str, dict[EnrollmentStatus, int]] = {}
    for slug, status, n in session.execute(
        select(Enrollment.course, Enrollment.status, func.count(Enrollment.id)).group_by(
            Enrollment.course, Enrollment.status
        )
    ):
        by_status.setdefault(slug, {})[status] = int(n)
    per_step: dict[tuple[str, int | None], int] = {
        (slug, step): int(n)
        for slug, step, n in session.execute(
            select(Enrollment.course, Delivery.step, func.count(Delivery.id))
            .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
            .where(Delivery.kind == DeliveryKind.STEP, Delivery.status.in_(DELIVERED))
            .group_by(Enrollment.course, Delivery.step)
        )
    }
    found = []
    for slug in slugs:
        try:
            course = shipped_course(slug)
        except CourseError:
            continue
        counts = by_status.get(slug, {})
        stages = [Stage("Joined", sum(counts.values()))]
        for step in course.steps:
            name = course.email_name(step.index)
            stages.append(Stage(name[:1].upper() + name[1:], per_step.get((slug, step.index), 0)))
        stages.append(Stage("Completed", counts.get(EnrollmentStatus.COMPLETED, 0)))
        stages.append(Stage("Left", counts.get(EnrollmentStatus.CANCELLED, 0)))
        found.append(CourseFunnel(slug, course.title, stages))
    return found


#: Days the sign-ups chart covers.
DAYS = 30


def signups_per_day(session: Session, *, now: datetime) -> list[tuple[str, int]]:
    """Sign-ups on each UTC day of the last ``DAYS`` days, oldest first, days without any
    included (one range scan of the ``created_at`` index)."""
    first = (now - timedelta(days=DAYS - 1)).date()
    start = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
    day = func.date(Reader.created_at)
    found = {
        str(d): int(n)
        for d, n in session.execute(
            select(day, func.count(Reader.id)).where(Reader.created_at >= start).group_by(day)
        )
    }
    days = [str(first + timedelta(days=i)) for i in range(DAYS)]
    return [(d, found.get(d, 0)) for d in days]


def counted(session: Session, *, now: datetime, step_titles: list[str]) -> dict[str, Any]:
    """The costly figures, as the tick's snapshot keeps them (JSON-ready)."""
    return {
        "funnel": [[s.label, s.count] for s in funnel(session, step_titles)],
        "left": [[s.label, s.count] for s in left_at(session, step_titles)],
        "per_day": [list(pair) for pair in signups_per_day(session, now=now)],
        "courses": [
            [c.slug, c.title, [[s.label, s.count] for s in c.stages]]
            for c in course_funnels(session)
        ],
        # (course email sent in 30 days is a count over as many rows as went out)
        "complaints": list(_complaints(session, now)),
    }


def _complaints(session: Session, now: datetime) -> tuple[int, int]:
    rate = complaint_rate.complaint_rate(session, now=now)
    return rate.complaints, rate.sent


def snapshot_rate(
    snapshot: tuple[dict[str, Any], datetime] | None,
) -> complaint_rate.ComplaintRate | None:
    """The complaint rate as the tick's snapshot counted it, if it did."""
    if snapshot is None or "complaints" not in snapshot[0]:
        return None
    complaints, sent = snapshot[0]["complaints"]
    return complaint_rate.ComplaintRate(complaints=int(complaints), sent=int(sent))


def overview(
    session: Session,
    *,
    now: datetime,
    step_titles: list[str],
    claim_timeout: timedelta,
    snapshot: tuple[dict[str, Any], datetime] | None = None,
) -> Overview:
    """The desk's figures. The funnel and sign-ups per day come from ``snapshot`` (the
    tick's, for a large list) when given, else are counted now; the health figures are
    always counted now (each an indexed count of the few rows in trouble)."""
    deliveries = select(func.count(Delivery.id))
    in_hand = (DeliveryStatus.CLAIMED, DeliveryStatus.SENDING)
    due = select(func.count(Enrollment.id)).where(
        Enrollment.status == EnrollmentStatus.ACTIVE,
        Enrollment.next_send_at <= now + timedelta(hours=24),
    )
    stale = deliveries.where(
        Delivery.status.in_(in_hand), Delivery.claimed_at < now - claim_timeout
    )
    data, as_of = (
        snapshot if snapshot else (counted(session, now=now, step_titles=step_titles), None)
    )
    courses = (
        [
            CourseFunnel(str(slug), str(title), [Stage(str(lb), int(n)) for lb, n in stages])
            for slug, title, stages in data["courses"]
        ]
        if "courses" in data
        else course_funnels(session)
    )
    return Overview(
        courses=courses,
        funnel=[Stage(str(label), int(n)) for label, n in data["funnel"]],
        left=[Stage(str(label), int(n)) for label, n in data.get("left", [])],
        per_day=[(str(d), int(n)) for d, n in data["per_day"]],
        as_of=as_of,
        due_24h=_count(session, due),
        stale_claims=_count(session, stale),
        forwards_waiting=inbound.waiting_count(session),
        ambiguous=_count(session, deliveries.where(Delivery.status == DeliveryStatus.AMBIGUOUS)),
        failed=_count(
            session, deliveries.where(Delivery.status == DeliveryStatus.FAILED_PERMANENT)
        ),
    )
