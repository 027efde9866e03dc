"""Complaints: a feedback report (ARF, RFC 5965) saying someone marked our email as spam,
sent by a mailbox provider's feedback loop to ``abuse@`` or ``fbl@REPLY_DOMAIN`` (or to any
tracked address). Like listmonk, Postmark and SES, the first complaint suppresses: the reader
is never mailed again, and their record says "marked as spam".

The reader is found only from a tracked address (``bounces+``, ``reply+``, ``unsubscribe+``)
in the headers the report quotes of our message: its token is signed and names one reader.
A quoted ``To`` alone is never enough (anyone can write a report naming any address, and the
first complaint suppresses for good); such a report is kept, and nobody is suppressed.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from emails.received import Complaint
from service.addresses import Addresses
from service.readers import lifecycle
from service.readers.history import record
from service.store.models import InboundMessage, Reader

#: Anything shaped like an address in the quoted headers.
_ADDRESS = re.compile(r"[\w.+=-]+@[\w.-]+\.\w+")


def learn(
    session: Session,
    row: InboundMessage,
    complaint: Complaint,
    *,
    addresses: Addresses,
    now: datetime,
) -> str:
    """Suppress the reader the report is about; the note saying what was done."""
    reader = _reader(session, row, complaint, addresses)
    if reader is None:
        return (
            "a complaint report that names no reader by one of our signed addresses: nobody "
            "was suppressed"
        )
    if reader.erased_at is not None:
        return "a complaint report about an erased reader: nothing more to do"
    row.reader_id = reader.id
    detail = f"{complaint.feedback_type} report"
    record(session, reader, "marked_as_spam", actor="complaint", now=now, detail=detail)
    lifecycle.suppress(session, reader, reason="complaint", detail=detail, now=now)
    return "a complaint report (marked as spam): the reader is suppressed, never mailed again"


def _reader(
    session: Session, row: InboundMessage, complaint: Complaint, addresses: Addresses
) -> Reader | None:
    for candidate in _ADDRESS.findall(complaint.original_headers):
        token = addresses.read(candidate)
        if token is None:
            continue
        reader = session.get(Reader, token.reader_id)
        if reader is not None and token.belongs_to(reader.public_id):
            row.delivery_id = token.delivery_id
            return reader
    return None
