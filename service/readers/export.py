"""What a reader may take away: every course email they were sent, and everything kept about
them (what they gave, their settings, each email, their replies, their record), as plain data
for their preferences page to serve."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.readers.history import record_of
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    InboundCategory,
    InboundMessage,
    Reader,
)


def received(session: Session, reader: Reader) -> list[Delivery]:
    """The course emails this reader was sent (or may have been), in order."""
    return list(
        session.scalars(
            select(Delivery)
            .where(
                Delivery.reader_id == reader.id,
                Delivery.kind == DeliveryKind.STEP,
                Delivery.status.in_((DeliveryStatus.SENT, DeliveryStatus.AMBIGUOUS)),
            )
            .order_by(Delivery.sent_at, Delivery.id)
        )
    )


def their_data(session: Session, reader: Reader) -> dict[str, Any]:
    """Everything kept about the reader, ready to be written as JSON."""
    replies = session.scalars(
        select(InboundMessage)
        .where(
            InboundMessage.reader_id == reader.id,
            InboundMessage.category == InboundCategory.REPLY,
        )
        .order_by(InboundMessage.id)
    )
    return {
        "you_gave": {
            "email": reader.email,
            "first_name": reader.first_name,
            "timezone": reader.timezone,
        },
        "your_settings": {
            "discreet": reader.discreet,
            "send_hour": reader.send_hour,
            "status": reader.status.value,
        },
        "emails_sent": [
            {"email": d.step, "sent_at": _iso(d.sent_at), "message_id": d.message_id}
            for d in received(session, reader)
        ],
        "your_replies": [
            {"received_at": _iso(m.received_at), "text": m.reply_text or ""} for m in replies
        ],
        "your_record": [
            {"at": _iso(e.at), "what": e.what, "how": e.how, "detail": e.detail}
            for e in record_of(session, reader)
        ],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
