"""The database tables: readers, their enrollments, each email's delivery, suppressions.

The database is the source of truth for the schedule (DESIGN decision 1): Redis only carries
ids of work already claimed here, so losing Redis loses nothing.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC on every engine; always hands back an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def new_public_id() -> str:
    """A random id for links, separate from the row id so nothing can be enumerated."""
    return secrets.token_urlsafe(16)


def new_address_token() -> str:
    """Lower-case base32: survives relays that fold case and fits an address's local part."""
    return base64.b32encode(secrets.token_bytes(20)).decode().lower()


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


class ReaderStatus(StrEnum):
    PENDING = "pending"  # signed up, not yet confirmed: only the confirmation email may go
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # the address hard-bounced and is suppressed


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


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # ready; the tick will claim and enqueue it
    CLAIMED = "claimed"  # enqueued in a batch job
    SENDING = "sending"  # a job has it in hand
    SENT = "sent"
    RETRY_WAIT = "retry_wait"  # a transient failure; next_attempt_at says when
    FAILED_PERMANENT = "failed_permanent"
    AMBIGUOUS = "ambiguous"  # the connection dropped after the final '.': may have arrived
    CANCELLED = "cancelled"  # the reader left before it went out


class Reader(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        Index("uq_subscribers_email_lower", func.lower("email"), unique=True),
        # the desk's search by first name and its sign-ups per day
        Index("ix_subscribers_first_name_lower", func.lower("first_name")),
        Index("ix_subscribers_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    status: Mapped[ReaderStatus] = mapped_column(_enum(ReaderStatus), default=ReaderStatus.PENDING)
    unsubscribe_token: Mapped[str] = mapped_column(
        String(64), unique=True, default=new_address_token
    )
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    #: their data was erased on request: the row stays, anonymous, so the counts stay true
    erased_at: Mapped[datetime | None]
    #: the hour (local) they chose for their emails; None: the course's send hour
    send_hour: Mapped[int | None]
    #: they asked that nothing in their inbox names the course (sender, subject, preview)
    discreet: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="reader")


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        Index("ix_enrollments_due", "status", "next_send_at"),
        # a reader's enrollments, newest last: "their latest enrollment" is one index lookup
        # (PostgreSQL otherwise answers max(id) by reading the primary key backwards)
        Index("ix_enrollments_subscriber_latest", "subscriber_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reader_id: Mapped[int] = mapped_column("subscriber_id", ForeignKey("subscribers.id"))
    course: Mapped[str] = mapped_column(String(64))
    course_version: Mapped[int]
    next_step: Mapped[int] = mapped_column(default=0)
    #: When the next step is due; NULL while a step is in flight or once the course is over.
    next_send_at: Mapped[datetime | None]
    status: Mapped[EnrollmentStatus] = mapped_column(
        _enum(EnrollmentStatus), default=EnrollmentStatus.ACTIVE
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
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[DeliveryKind] = mapped_column(_enum(DeliveryKind))
    reader_id: Mapped[int] = mapped_column(
        "subscriber_id", ForeignKey("subscribers.id"), index=True
    )
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    step: Mapped[int | None]
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    reader: Mapped[Reader] = relationship()
    enrollment: Mapped[Enrollment | None] = relationship()


class Suppression(Base):
    """Addresses we must never mail again (hard bounces, complaints)."""

    __tablename__ = "suppressions"
    __table_args__ = (Index("uq_suppressions_email_lower", func.lower("email"), unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Consent(Base):
    """Proof of each sign-up: when, from where, on which form, agreeing to which words."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reader_id: Mapped[int] = mapped_column(
        "subscriber_id", ForeignKey("subscribers.id"), index=True
    )
    created_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    form_version: Mapped[str] = mapped_column(String(40))
    consent_text: Mapped[str] = mapped_column(Text)


class InboundStatus(StrEnum):
    RECEIVED = "received"  # stored raw; not yet parsed
    TO_FORWARD = "to_forward"  # parsed; the therapist should see it
    FORWARDING = "forwarding"  # a job has it in hand
    RETRY_WAIT = "retry_wait"  # the forward (or the crisis reply) failed; next_attempt_at
    FORWARDED = "forwarded"
    RECORDED = "recorded"  # nothing to forward: an auto-reply, a bounce, a duplicate...


class InboundCategory(StrEnum):
    REPLY = "reply"  # a person wrote back
    AUTO_REPLY = "auto_reply"  # out-of-office and other machines
    BOUNCE = "bounce"  # a delivery-status report
    UNSUBSCRIBE = "unsubscribe"  # a mail to the List-Unsubscribe mailto
    DUPLICATE = "duplicate"  # the same message (Message-ID and token) arrived before
    REJECTED = "rejected"  # no valid token: kept, never acted on


class CrisisReply(StrEnum):
    NONE = "none"
    DUE = "due"
    SENT = "sent"
    FAILED = "failed"  # their address refused it for good


class InboundMessage(Base):
    """A message received for ``REPLY_DOMAIN``, stored raw (bytes: mail may hold NULs).

    The raw bytes are written first and never changed; everything else is filled in by the
    job that parses the message and forwards it to the therapist.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_status_next_attempt", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime]
    #: smtp, webhook, mailgun, postmark or sendgrid
    source: Mapped[str] = mapped_column(String(20), default="smtp")
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_tos: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[InboundStatus] = mapped_column(
        _enum(InboundStatus), default=InboundStatus.RECEIVED
    )
    category: Mapped[InboundCategory | None] = mapped_column(_enum(InboundCategory))
    #: which tracked address it came to; no foreign keys: a reply outlives an erased record
    address_kind: Mapped[str | None] = mapped_column(String(20))
    reader_id: Mapped[int | None] = mapped_column("subscriber_id", Integer, index=True)
    delivery_id: Mapped[int | None] = mapped_column(Integer)
    #: sha256 of Message-ID (or the raw bytes) and the token: the same mail twice is one reply
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    message_id: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    #: the reply with quoted history and signature removed
    reply_text: Mapped[str | None] = mapped_column(Text)
    #: what was odd about the message (damage, unknown charset), one note per line
    notes: Mapped[str | None] = mapped_column(Text)
    #: too deeply nested (or otherwise unreadable) to take apart: forwarded as a file
    damaged: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    crisis_reply: Mapped[CrisisReply] = mapped_column(_enum(CrisisReply), default=CrisisReply.NONE)
    parsed_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    forwarded_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the therapist marked it handled on the desk
    handled_at: Mapped[datetime | None]


class WebhookNonce(Base):
    """Signatures (or provider tokens) already accepted: a replayed request is refused."""

    __tablename__ = "webhook_nonces"

    nonce: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class ReaderEvent(Base):
    """What was done to a reader's record and by whom (the desk, the command line): appended,
    never changed. An erased reader keeps their events, which never name them."""

    __tablename__ = "reader_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reader_id: Mapped[int] = mapped_column(
        "subscriber_id", ForeignKey("subscribers.id"), index=True
    )
    at: Mapped[datetime]
    #: paused, resumed, next_now, resent, unsubscribed, erased, imported
    kind: Mapped[str] = mapped_column(String(40))
    #: desk or cli
    actor: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)


class DeskSnapshot(Base):
    """The desk's costly figures (the funnel, sign-ups per day), refreshed by the tick so the
    overview answers at once whatever the size of the list. One row."""

    __tablename__ = "desk_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    taken_at: Mapped[datetime]
    #: how long the refresh took: the tick spaces refreshes by it
    seconds: Mapped[float] = mapped_column(Float)
    #: JSON: {"funnel": [[label, count], ...], "per_day": [[date, count], ...]}
    data: Mapped[str] = mapped_column(Text)
