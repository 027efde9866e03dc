"""The second lock on what a reader wrote: their replies (in their data download), the
archive of a discreet reader, and erasing open only through a fresh link emailed to them,
good once, for ``LIFETIME`` after the email went.

The footer's preferences link keeps the pace, the hour, discreet mode and unsubscribing: it
sits in every email, so anyone with one forwarded email, or a look at a shared inbox, has it.
The private link arrives only when asked for, and only at the reader's own address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.readers.actions import ActionRefused
from service.readers.history import record
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    PrivateLink,
    Reader,
)

#: How long a private link works after its email went.
LIFETIME = timedelta(minutes=30)
#: How long the pages it opens stay open in that browser.
OPEN_FOR = timedelta(minutes=30)
#: Links a reader may ask for in an hour (so a stranger with the footer link cannot fill
#: their inbox).
PER_HOUR = 3


def ask(session: Session, reader: Reader, *, now: datetime, mail_domain: str) -> str:
    """Queue an email with a fresh private link to the reader's address; the words to say."""
    if reader.erased_at is not None:
        raise ActionRefused("These details were erased: there is nothing left to open.")
    recent = session.scalar(
        select(func.count(PrivateLink.id)).where(
            PrivateLink.reader_id == reader.id, PrivateLink.created_at > now - timedelta(hours=1)
        )
    )
    if int(recent or 0) >= PER_HOUR:
        raise ActionRefused(
            f"We have sent {PER_HOUR} links in the last hour. Please use the newest one, or "
            "ask again in an hour."
        )
    email = Delivery(
        kind=DeliveryKind.PRIVATE_LINK,
        reader_id=reader.id,
        status=DeliveryStatus.PENDING,
        attempts=0,
        message_id=make_msgid(domain=mail_domain),
        created_at=now,
    )
    session.add(email)
    session.flush()
    session.add(PrivateLink(reader_id=reader.id, delivery_id=email.id, created_at=now))
    record(session, reader, "private_link_asked", actor="reader", now=now)
    return (
        "We have emailed you a link. It works once, for 30 minutes: open it on this device "
        "or another."
    )


@dataclass(frozen=True)
class Found:
    """What a private link's token leads to."""

    reader: Reader | None
    #: "fresh", "used", "expired" or "unknown"
    state: str


def _link(session: Session, public_id: str, delivery_id: int) -> tuple[PrivateLink, Reader] | None:
    row = session.execute(
        select(PrivateLink, Reader)
        .join(Reader, Reader.id == PrivateLink.reader_id)
        .where(PrivateLink.delivery_id == delivery_id, Reader.public_id == public_id)
    ).first()
    return None if row is None else (row[0], row[1])


def _expires(session: Session, link: PrivateLink) -> datetime:
    sent_at = session.scalar(select(Delivery.sent_at).where(Delivery.id == link.delivery_id))
    return max(link.created_at, sent_at or link.created_at) + LIFETIME


def look(session: Session, public_id: str, delivery_id: int, *, now: datetime) -> Found:
    """The link's state, changing nothing (mail scanners open links too)."""
    found = _link(session, public_id, delivery_id)
    if found is None or found[1].erased_at is not None:
        return Found(None, "unknown")
    link, reader = found
    if link.used_at is not None:
        return Found(reader, "used")
    if now > _expires(session, link):
        return Found(reader, "expired")
    return Found(reader, "fresh")


def use(session: Session, public_id: str, delivery_id: int, *, now: datetime) -> Reader | None:
    """Spend the link: the reader when it was fresh, else None. Two presses at once spend it
    once (a conditional update)."""
    found = look(session, public_id, delivery_id, now=now)
    if found.state != "fresh" or found.reader is None:
        return None
    spent = session.execute(
        update(PrivateLink)
        .where(PrivateLink.delivery_id == delivery_id, PrivateLink.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(spent, "rowcount", 0) != 1:
        return None
    record(session, found.reader, "private_link_used", actor="reader", now=now)
    return found.reader


def held_open(
    session: Session, public_id: str, delivery_id: int, *, now: datetime
) -> Reader | None:
    """The reader whose pages a spent link holds open: for ``OPEN_FOR`` after it was used,
    until closed. Held here, not in the browser, so closing ends it for a copied cookie too."""
    found = _link(session, public_id, delivery_id)
    if found is None:
        return None
    link, reader = found
    if reader.erased_at is not None or link.used_at is None or link.closed_at is not None:
        return None
    return reader if now - link.used_at <= OPEN_FOR else None


def close(session: Session, delivery_id: int, *, now: datetime) -> None:
    session.execute(
        update(PrivateLink)
        .where(PrivateLink.delivery_id == delivery_id, PrivateLink.closed_at.is_(None))
        .values(closed_at=now)
    )
