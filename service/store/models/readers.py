"""A reader, their record (each consent, each change), and the addresses never to mail."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.store.models.base import Base, enum_column, new_address_token, new_public_id

if TYPE_CHECKING:
    from service.store.models.outbox import Enrollment


class ReaderStatus(StrEnum):
    PENDING = "pending"  # signed up, not yet confirmed: only the confirmation email may go
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # the address hard-bounced and is suppressed


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
    status: Mapped[ReaderStatus] = mapped_column(
        enum_column(ReaderStatus), default=ReaderStatus.PENDING
    )
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
    #: a name and time zone typed on the form for a reader we already hold: anyone can type
    #: an address, so they take effect only when the reader confirms
    pending_first_name: Mapped[str | None] = mapped_column(String(100))
    pending_timezone: Mapped[str | None] = mapped_column(String(64))
    #: the course they asked for on a form (its slug), taken when they confirm: a new
    #: reader's first course, or another course for a reader already taking one
    pending_course: Mapped[str | None] = mapped_column(String(64))

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="reader")


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


class PrivateLink(Base):
    """A link a reader asked for, to what they wrote and to erasing, sent to their address:
    good once, for ``service.readers.private.LIFETIME`` after its email went. The footer's
    link alone never opens those (it sits in every email, forwarded or in a shared inbox)."""

    __tablename__ = "private_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reader_id: Mapped[int] = mapped_column(
        "subscriber_id", ForeignKey("subscribers.id"), index=True
    )
    #: the email that carries it (its token names this delivery)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), unique=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    #: the reader closed the pages it opened (or erased): a copied cookie opens nothing
    closed_at: Mapped[datetime | None]
