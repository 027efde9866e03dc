"""A reader's enrollment in a course, and each email's delivery (the outbox).

The database is the source of truth for the schedule (DESIGN decision 1): Redis only carries
ids of work already claimed here, so losing Redis loses nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.store.models.base import Base, enum_column
from service.store.models.readers import Reader


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # unsubscribed or bounced
    STALLED = "stalled"  # a step kept failing; nothing more is sent until someone looks
    PAUSED = "paused"  # held on purpose (the desk, the CLI); resumed where it stopped


#: An enrollment still under way: a step sent while it is paused still moves it on.
UNDER_WAY = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)


class DeliveryKind(StrEnum):
    CONFIRMATION = "confirmation"
    STEP = "step"
    #: a reader already taking the course signed up again: a short note with their
    #: preferences link (what the page promised: "we've sent you an email")
    ALREADY = "already"
    #: the fresh link a reader asked for, to what they wrote, their data and erasing
    PRIVATE_LINK = "private_link"
    #: the therapist's answer to a reply, written on the desk (``DeskAnswer`` holds it)
    ANSWER = "answer"
    #: a reader taking one course asked for another on its form: that course's
    #: confirmation, whose button enrolls them (``Reader.pending_course`` names it)
    JOIN = "join"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # ready; the tick will claim and enqueue it
    CLAIMED = "claimed"  # enqueued in a batch job
    SENDING = "sending"  # a job has it in hand
    SENT = "sent"
    RETRY_WAIT = "retry_wait"  # a transient failure; next_attempt_at says when
    FAILED_PERMANENT = "failed_permanent"
    AMBIGUOUS = "ambiguous"  # the connection dropped after the final '.': may have arrived
    CANCELLED = "cancelled"  # the reader left before it went out
    BOUNCED = "bounced"  # sent, then returned by the receiving server (a delivery report)


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        Index("ix_enrollments_due", "status", "next_send_at"),
        # a reader's enrollments, newest last: "their latest enrollment" is one index lookup
        # (PostgreSQL otherwise answers max(id) by reading the primary key backwards)
        Index("ix_enrollments_subscriber_latest", "subscriber_id", "id"),
        # the tick asks each pass which paused readers resume now
        Index("ix_enrollments_resume", "status", "resume_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reader_id: Mapped[int] = mapped_column("subscriber_id", ForeignKey("subscribers.id"))
    course: Mapped[str] = mapped_column(String(64))
    course_version: Mapped[int]
    next_step: Mapped[int] = mapped_column(default=0)
    #: When the next step is due; NULL while a step is in flight or once the course is over.
    next_send_at: Mapped[datetime | None]
    status: Mapped[EnrollmentStatus] = mapped_column(
        enum_column(EnrollmentStatus), default=EnrollmentStatus.ACTIVE
    )
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    #: when it was paused (status ``paused``): a resume keeps the wait that was left
    paused_at: Mapped[datetime | None]
    #: a pause the reader asked to last a while: the tick resumes it then
    resume_at: Mapped[datetime | None]
    #: every wait between emails is multiplied by this (2: the reader asked to slow down)
    pace: Mapped[int] = mapped_column(default=1, server_default="1")

    reader: Mapped[Reader] = relationship(back_populates="enrollments")


class Delivery(Base):
    """One email to one person: a course step, or the confirmation email (the outbox)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # a step is claimed once; confirmation rows have NULLs here and are not constrained
        UniqueConstraint("enrollment_id", "step", name="uq_deliveries_enrollment_step"),
        Index("ix_deliveries_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_deliveries_status_claimed", "status", "claimed_at"),
        # pacing counts what went out in the last minute and today (only when it is on)
        Index("ix_deliveries_sent_at", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[DeliveryKind] = mapped_column(enum_column(DeliveryKind))
    reader_id: Mapped[int] = mapped_column(
        "subscriber_id", ForeignKey("subscribers.id"), index=True
    )
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    step: Mapped[int | None]
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the course a confirmation, join or "already taking it" note is about (its link
    #: confirms that one, whatever the reader asks for afterwards); NULL: the first course
    course: Mapped[str | None] = mapped_column(String(64))

    reader: Mapped[Reader] = relationship()
    enrollment: Mapped[Enrollment | None] = relationship()


class SendingHold(Base):
    """Course email held back on purpose (``service.outbox.pacing``): all of it (``scope``
    ``course``, after too many complaints, until the therapist resumes it) or one receiving
    provider's (``google``, ``microsoft``, ``yahoo``, ``apple``) or domain's for an hour after
    it refused us for our setup or reputation. The emails wait in the database meanwhile."""

    __tablename__ = "sending_holds"

    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: NULL: until someone resumes it
    until: Mapped[datetime | None]
    #: why, in the provider's own words where it gave any
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime]
    #: when the tick handed the therapist's email about it to a worker
    alerted_at: Mapped[datetime | None]


class ReceivingDomain(Base):
    """Which provider receives a domain's mail, read from its MX records and kept a week, so
    pacing can group ``example.org`` (hosted at Google) with gmail.com."""

    __tablename__ = "receiving_domains"

    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: google, microsoft, yahoo, apple, or the domain itself
    provider: Mapped[str] = mapped_column(String(255))
    checked_at: Mapped[datetime]
