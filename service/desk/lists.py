"""The rows behind the desk's health figures: emails that may not have arrived, could not be
sent, or are held by a stopped worker, and the readers due an email in the next day. Newest
first, a page at a time (keyset: each page starts below the last id shown)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.desk.overview import PAGE, next_page
from service.store.models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus, Reader

#: What each list shows, by the name in its address.
LISTS = {
    "ambiguous": "Emails that may not have arrived",
    "failed_permanent": "Emails that could not be sent",
    "stale": "Emails held too long by a stopped worker",
    "due": "Emails due in the next 24 hours",
}


@dataclass(frozen=True)
class EmailRow:
    id: int
    public_id: str
    email: str
    what: str
    when: datetime | None
    state: str
    reason: str


def _name(step: int | None) -> str:
    return (
        "The confirmation email"
        if step is None
        else ("The welcome" if step == 0 else f"Email {step}")
    )


def find_emails(
    session: Session, state: str, *, now: datetime, claim_timeout: timedelta, before: int | None
) -> tuple[list[EmailRow], int | None]:
    if state == "due":
        return _due(session, now=now, before=before)
    query = (
        select(Delivery, Reader.public_id, Reader.email)
        .join(Reader, Reader.id == Delivery.reader_id)
        .order_by(Delivery.id.desc())
        .limit(PAGE + 1)
    )
    if state == "stale":
        query = query.where(
            Delivery.status.in_((DeliveryStatus.CLAIMED, DeliveryStatus.SENDING)),
            Delivery.claimed_at < now - claim_timeout,
        )
    else:
        query = query.where(Delivery.status == DeliveryStatus(state))
    if before is not None:
        query = query.where(Delivery.id < before)
    found = session.execute(query).all()
    rows = [
        EmailRow(
            d.id,
            public_id,
            email,
            _name(d.step),
            d.sent_at or d.claimed_at,
            d.status.value,
            d.last_error or "",
        )
        for d, public_id, email in found[:PAGE]
    ]
    return rows, next_page(found)


def _due(
    session: Session, *, now: datetime, before: int | None
) -> tuple[list[EmailRow], int | None]:
    query = (
        select(Enrollment, Reader.public_id, Reader.email)
        .join(Reader, Reader.id == Enrollment.reader_id)
        .where(
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.next_send_at <= now + timedelta(hours=24),
        )
        .order_by(Enrollment.id.desc())
        .limit(PAGE + 1)
    )
    if before is not None:
        query = query.where(Enrollment.id < before)
    found = session.execute(query).all()
    rows = [
        EmailRow(e.id, public_id, email, _name(e.next_step), e.next_send_at, "due", "")
        for e, public_id, email in found[:PAGE]
    ]
    return rows, next_page(found)
