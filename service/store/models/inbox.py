"""Mail received for the reply domain, stored raw first, and the webhook signatures already
seen."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.store.models.base import Base, enum_column
from service.store.sealing import SealedBytes, SealedText


class InboundStatus(StrEnum):
    RECEIVED = "received"  # stored raw; not yet parsed
    TO_FORWARD = "to_forward"  # parsed; the therapist should see it
    FORWARDING = "forwarding"  # a job has it in hand
    RETRY_WAIT = "retry_wait"  # the forward (or the crisis reply) failed; next_attempt_at
    FORWARDED = "forwarded"
    RECORDED = "recorded"  # nothing to forward: an auto-reply, a bounce, a duplicate...
    RETURNED = "returned"  # forwarded, then returned by the therapist's mail server


class InboundCategory(StrEnum):
    REPLY = "reply"  # a person wrote back
    AUTO_REPLY = "auto_reply"  # out-of-office and other machines
    BOUNCE = "bounce"  # a delivery-status report
    UNSUBSCRIBE = "unsubscribe"  # a mail to the List-Unsubscribe mailto
    DUPLICATE = "duplicate"  # the same message (Message-ID and token) arrived before
    REJECTED = "rejected"  # no valid token: kept, never acted on
    COMPLAINT = "complaint"  # a complaint report (ARF): someone marked our mail as spam
    POSTMASTER = "postmaster"  # to postmaster@, abuse@ or fbl@: passed to the therapist
    PROBE = "probe"  # the doctor's test of the reply path came back: noted, not forwarded


class CrisisReplyState(StrEnum):
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
    #: sealed at rest (``service.store.sealing``), like every word a reader wrote
    raw: Mapped[bytes] = mapped_column(SealedBytes)
    status: Mapped[InboundStatus] = mapped_column(
        enum_column(InboundStatus), default=InboundStatus.RECEIVED
    )
    category: Mapped[InboundCategory | None] = mapped_column(enum_column(InboundCategory))
    #: which tracked address it came to; no foreign keys: a reply outlives an erased record
    address_kind: Mapped[str | None] = mapped_column(String(20))
    reader_id: Mapped[int | None] = mapped_column("subscriber_id", Integer, index=True)
    delivery_id: Mapped[int | None] = mapped_column(Integer)
    #: sha256 of Message-ID (or the raw bytes) and the token: the same mail twice is one reply
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    message_id: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(SealedText)
    #: the reply with quoted history and signature removed
    reply_text: Mapped[str | None] = mapped_column(SealedText)
    #: what was odd about the message (damage, unknown charset), one note per line
    notes: Mapped[str | None] = mapped_column(SealedText)
    #: too deeply nested (or otherwise unreadable) to take apart: forwarded as a file
    damaged: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    crisis_reply: Mapped[CrisisReplyState] = mapped_column(
        enum_column(CrisisReplyState), default=CrisisReplyState.NONE
    )
    parsed_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    forwarded_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the therapist marked it handled on the desk
    handled_at: Mapped[datetime | None]
    #: its words and raw message were deleted (REPLY_RETENTION_DAYS): the fact of it stays
    words_deleted_at: Mapped[datetime | None]


class WebhookNonce(Base):
    """Signatures (or provider tokens) already accepted: a replayed request is refused."""

    __tablename__ = "webhook_nonces"

    nonce: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class DeskAnswer(Base):
    """The therapist's answer to a reply, written on the desk and sent from the course's
    address by the outbox (its ``Delivery`` of kind ``answer``): threaded to the reader's
    message, its words sealed at rest like theirs."""

    __tablename__ = "desk_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), unique=True)
    #: sealed like the words: a reader's own subject line can say a lot; "" after retention
    subject: Mapped[str] = mapped_column(SealedText)
    #: the reader's Message-ID, and the thread before it, for In-Reply-To and References
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    references: Mapped[str | None] = mapped_column(Text)
    #: what she wrote; None once REPLY_RETENTION_DAYS have passed
    body: Mapped[str | None] = mapped_column(SealedText)
    by_user: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
