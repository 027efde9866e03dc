"""Complaints: a feedback report (ARF, RFC 5965) saying someone marked our email as spam,
sent by a mailbox provider's feedback loop to ``abuse@`` or ``fbl@REPLY_DOMAIN`` (or to any
tracked address), or an ESP's complaint webhook (``service.web.feedback``). Like listmonk,
Postmark and SES, the first complaint suppresses: the reader is never mailed again, their
record says "marked as spam", and the complaint rate is read again (``service.outbox.
pacing``: at 0.3 % of the last 30 days' course email, course email is held).

The reader is found only from a tracked address (``bounces+``, ``reply+``, ``unsubscribe+``)
in the headers the report quotes of our message: its token is signed and names one reader.
A quoted ``To`` alone is never enough (anyone can write a report naming any address, and the
first complaint suppresses for good); such a report is kept, and nobody is suppressed.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emails.received import Complaint
from service.addresses import Addresses
from service.outbox import complaint_rate
from service.readers import lifecycle
from service.readers.history import record
from service.store.models import InboundMessage, Reader, ReaderEvent

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
    if _counted(session, reader):
        return "a complaint report about a reader who complained before: counted once"
    _marked_as_spam(session, reader, f"{complaint.feedback_type} report", now=now)
    return "a complaint report (marked as spam): the reader is suppressed, never mailed again"


def from_provider(session: Session, address: str, *, source: str, now: datetime) -> str:
    """A complaint an ESP's signed webhook reports (Postmark, Mailgun, SendGrid, SES): the
    reader with that address is suppressed. Returns what was done, in a word: ``suppressed``,
    ``already`` (a complaint already counted: webhooks are retried) or ``unknown``."""
    readers = session.scalars(
        select(Reader).where(
            func.lower(Reader.email) == address.strip().lower(), Reader.erased_at.is_(None)
        )
    ).all()
    if not readers:
        return "unknown"
    done = "already"
    for reader in readers:
        if not _counted(session, reader):
            _marked_as_spam(session, reader, f"reported by {source}", now=now)
            done = "suppressed"
    return done


def _counted(session: Session, reader: Reader) -> bool:
    """A reader's complaint counts once towards the rate, however often it is reported (a
    provider's retries; a reader writing reports of their own)."""
    found = session.scalar(
        select(ReaderEvent.id)
        .where(ReaderEvent.reader_id == reader.id, ReaderEvent.kind == "marked_as_spam")
        .limit(1)
    )
    return found is not None


def _marked_as_spam(session: Session, reader: Reader, detail: str, *, now: datetime) -> None:
    """On the record, suppressed for good, and the complaint rate read again (at 0.3 % course
    email is held until the therapist resumes it)."""
    record(session, reader, "marked_as_spam", actor="complaint", now=now, detail=detail)
    lifecycle.suppress(session, reader, reason="complaint", detail=detail, now=now)
    complaint_rate.after_complaint(session, now=now)


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
