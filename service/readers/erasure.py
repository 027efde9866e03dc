"""Erasing a reader: everything that names the person goes; an anonymous row stays, so the
course’s figures stay true, with an "erased" event on its record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, update
from sqlalchemy.orm import Session

from service.readers.actions import ActionRefused
from service.readers.history import record
from service.readers.lifecycle import mark_unsubscribed
from service.store.models import Consent, Delivery, InboundMessage, Reader, new_address_token

#: The domain of an erased reader's stand-in address: ``.invalid`` can never receive mail.
ERASED_DOMAIN = "erased.invalid"


def erase(session: Session, reader: Reader, *, now: datetime, actor: str) -> str:
    """Delete everything that names the person: address, name, time zone, consent records
    (IP, browser), replies with their raw bytes, and errors that quote the address. The row
    stays, anonymous, with its emails' states, so the course’s counts stay true.

    The suppression list keeps a bounced address: it is there so the address is never mailed
    again, which erasing must not undo."""
    if reader.erased_at is not None:
        raise ActionRefused("These details were already erased.")
    address = reader.email.lower()
    mark_unsubscribed(session, reader, now=now, how=actor)
    session.execute(delete(Consent).where(Consent.reader_id == reader.id))
    session.execute(
        delete(InboundMessage).where(
            or_(
                InboundMessage.reader_id == reader.id,
                func.lower(InboundMessage.from_address) == address,
                func.lower(InboundMessage.mail_from) == address,
            )
        )
    )
    session.execute(update(Delivery).where(Delivery.reader_id == reader.id).values(last_error=None))
    reader.email = f"erased-{reader.public_id}@{ERASED_DOMAIN}"
    reader.first_name = None
    reader.timezone = "Etc/UTC"
    reader.unsubscribe_token = new_address_token()
    reader.erased_at = now
    record(session, reader, "erased", actor=actor, now=now)
    return "Erased: the address, name, consent records and replies are gone."
