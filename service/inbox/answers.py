"""The therapist's answer to a reply, written on the desk: queued in the outbox as a
delivery of kind ``answer`` (sent from the course's address, retried like any email), its
words in ``DeskAnswer``, sealed at rest, threaded to the reader's message, and recorded on
their timeline. The desk's notes on a message are never part of it."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.readers.actions import ActionRefused
from service.readers.history import record
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    DeskAnswer,
    InboundCategory,
    InboundMessage,
    Reader,
)

#: The longest answer the desk takes, in characters (a long letter fits many times).
MAX_ANSWER = 20_000
#: What may be answered: a reader's own words.
ANSWERABLE = (InboundCategory.REPLY, InboundCategory.UNSUBSCRIBE)


def fingerprint(row: InboundMessage) -> str:
    """What a desk form carries to name *this* reply: its number alone could be reused by a
    later reply once an erased reader's rows are gone (SQLite hands out freed numbers)."""
    said = f"{row.id}|{row.received_at.isoformat()}|{row.reader_id}|{row.dedupe_key}"
    return hashlib.sha256(said.encode()).hexdigest()[:24]


def writer_of(session: Session, row: InboundMessage) -> Reader | None:
    """The reader who wrote ``row``, when we still hold them (not erased)."""
    if row.reader_id is None:
        return None
    reader = session.get(Reader, row.reader_id)
    return reader if reader is not None and reader.erased_at is None else None


def queue(
    session: Session,
    row: InboundMessage,
    *,
    text: str,
    subject: str,
    now: datetime,
    mail_domain: str,
    by_user: str | None,
) -> DeskAnswer:
    """Queue the answer; ``ActionRefused`` says why it cannot go."""
    if row.category not in ANSWERABLE:
        raise ActionRefused("Only a reader's own reply can be answered from here.")
    reader = writer_of(session, row)
    if reader is None:
        raise ActionRefused("We no longer hold this person's address (their details were erased).")
    body = text.replace("\r\n", "\n").strip()
    if not body:
        raise ActionRefused("Write your answer first.")
    if len(body) > MAX_ANSWER:
        raise ActionRefused(f"An answer can be up to {MAX_ANSWER:,} characters.")
    email = Delivery(
        kind=DeliveryKind.ANSWER,
        reader_id=reader.id,
        status=DeliveryStatus.PENDING,
        attempts=0,
        message_id=make_msgid(domain=mail_domain),
        created_at=now,
    )
    session.add(email)
    session.flush()
    answered = (
        session.scalar(select(Delivery.message_id).where(Delivery.id == row.delivery_id))
        if row.delivery_id
        else None
    )
    thread = [m for m in (answered, row.message_id) if m]
    answer = DeskAnswer(
        inbound_id=row.id,
        delivery_id=email.id,
        subject=subject,
        in_reply_to=row.message_id,
        references=" ".join(thread) or None,
        body=body,
        by_user=by_user,
        created_at=now,
    )
    session.add(answer)
    record(session, reader, "answered", actor="desk", now=now, detail=f"reply {row.id}")
    return answer


def for_reply(session: Session, inbound_id: int) -> list[tuple[DeskAnswer, Delivery]]:
    """The answers given to one reply, oldest first, with their emails' states."""
    rows = session.execute(
        select(DeskAnswer, Delivery)
        .join(Delivery, Delivery.id == DeskAnswer.delivery_id)
        .where(DeskAnswer.inbound_id == inbound_id)
        .order_by(DeskAnswer.id)
    ).all()
    return [(a, d) for a, d in rows]


def for_delivery(session: Session, delivery_id: int) -> DeskAnswer | None:
    return session.scalar(select(DeskAnswer).where(DeskAnswer.delivery_id == delivery_id))
