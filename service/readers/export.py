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


#: Said in place of the replies' words when the data comes through the footer's link alone.
WORDS_BEHIND_THE_PRIVATE_LINK = (
    "What you wrote is not in this copy: the link at the foot of your emails may have been "
    "forwarded or seen by someone else. Ask for a private link on your preferences page; the "
    "copy it opens holds your replies too."
)


def their_data(session: Session, reader: Reader, *, with_words: bool = True) -> dict[str, Any]:
    """Everything kept about the reader, ready to be written as JSON; ``with_words=False``
    leaves out what they wrote (the footer's link alone opens that much)."""
    replies = session.scalars(
        select(InboundMessage)
        .where(
            InboundMessage.reader_id == reader.id,
            InboundMessage.category == InboundCategory.REPLY,
        )
        .order_by(InboundMessage.id)
    )
    data: dict[str, Any] = {
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
            {
                "received_at": _iso(m.received_at),
                "text": (m.reply_text or "") if with_words else None,
            }
            for m in replies
        ],
        "your_record": [
            {"at": _iso(e.at), "what": e.what, "how": e.how, "detail": e.detail}
            for e in record_of(session, reader)
        ],
    }
    if not with_words:
        data["about_your_replies"] = WORDS_BEHIND_THE_PRIVATE_LINK
    return data


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
