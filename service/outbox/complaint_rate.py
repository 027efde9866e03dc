"""The complaint rate: readers who marked course email as spam against the course emails
sent, over the last 30 days, counted from 200 sent (as providers read it). The desk warns at
0.1 % (Gmail's line, where Amazon SES starts a review); at 0.3 % all course email is held
until the therapist resumes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.outbox.holds import COURSE, hold
from service.store.models import Delivery, DeliveryKind, ReaderEvent

#: The complaint rate is read over this long, and only once this many emails went out.
COMPLAINT_WINDOW = timedelta(days=30)
COMPLAINT_MINIMUM_SENT = 200
#: A complaint rate the desk warns about, and one that holds course email.
COMPLAINT_WARN = 0.001
COMPLAINT_PAUSE = 0.003


@dataclass(frozen=True)
class ComplaintRate:
    complaints: int
    sent: int

    @property
    def counted(self) -> bool:
        """Enough sent for the rate to mean something (providers read it the same way)."""
        return self.sent >= COMPLAINT_MINIMUM_SENT

    @property
    def rate(self) -> float:
        return self.complaints / self.sent if self.sent else 0.0

    @property
    def state(self) -> str:
        """``low``, ``warn`` (0.1 % or more) or ``pause`` (0.3 % or more); ``few`` below the
        minimum sent."""
        if not self.counted:
            return "few"
        if self.rate >= COMPLAINT_PAUSE:
            return "pause"
        return "warn" if self.rate >= COMPLAINT_WARN else "low"

    @property
    def percent(self) -> str:
        return f"{self.rate * 100:.2f} %"


def complaint_rate(session: Session, *, now: datetime) -> ComplaintRate:
    """Complaints ("marked as spam") against course email sent, over the last 30 days."""
    since = now - COMPLAINT_WINDOW
    complaints = session.scalar(
        select(func.count(ReaderEvent.id)).where(
            ReaderEvent.kind == "marked_as_spam", ReaderEvent.at > since
        )
    )
    sent = session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.sent_at > since, Delivery.kind == DeliveryKind.STEP
        )
    )
    return ComplaintRate(complaints=int(complaints or 0), sent=int(sent or 0))


def after_complaint(session: Session, *, now: datetime) -> ComplaintRate:
    """Read the rate again after a complaint; at 0.3 % course email is held until resumed."""
    session.flush()
    rate = complaint_rate(session, now=now)
    if rate.state == "pause":
        reason = (
            f"{rate.complaints} complaints over {rate.sent} course emails in 30 days "
            f"({rate.percent}, the pause line is {COMPLAINT_PAUSE * 100:.1f} %)"
        )
        hold(session, COURSE, reason=reason, now=now, until=None)
    return rate
