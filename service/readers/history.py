"""Each reader’s record: what they agreed to and every change to it, appended, never changed.

It is two tables read as one: ``consents`` (each sign-up or import: when, from where, on
which form, agreeing to which words) and ``reader_events`` (confirmed, paused, resumed,
unsubscribed and how, imported, erased...). Erasure is the one exception to "never changed":
it deletes what names the person and keeps an anonymous "erased" event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.models import Consent, Reader, ReaderEvent

#: How a change came about, as the record says it.
HOW = {
    "form": "on the sign-up form",
    "reader": "on their preferences page",
    "schedule": "when the pause they chose ended",
    "desk": "on the therapist’s desk",
    "cli": "from the command line",
    "link": "with the link in their confirmation email",
    "one-click": "with their mail app’s unsubscribe button",
    "page": "on the unsubscribe page",
    "reply": "by replying to ask to stop",
    "email": "by email to the unsubscribe address",
    "bounce": "because their address bounced",
}


def record(
    session: Session,
    reader: Reader,
    kind: str,
    *,
    actor: str,
    now: datetime,
    detail: str | None = None,
) -> None:
    """Append one event to the reader’s record (``actor``: one of ``HOW``'s keys)."""
    session.add(ReaderEvent(reader_id=reader.id, at=now, kind=kind, actor=actor, detail=detail))


@dataclass(frozen=True)
class Entry:
    at: datetime
    what: str
    how: str
    detail: str


def record_of(session: Session, reader: Reader) -> list[Entry]:
    """The reader’s whole record, oldest first."""
    entries = [
        Entry(
            c.created_at,
            "signed up" if c.form_version != "import" else "imported",
            f"on form {c.form_version}" + (f" from {c.ip}" if c.ip else ""),
            f"agreeing to: “{c.consent_text}”"
            + (f" (browser: {c.user_agent})" if c.user_agent else ""),
        )
        for c in session.scalars(
            select(Consent).where(Consent.reader_id == reader.id).order_by(Consent.id)
        )
    ]
    for e in session.scalars(
        select(ReaderEvent).where(ReaderEvent.reader_id == reader.id).order_by(ReaderEvent.id)
    ):
        if e.kind == "imported":
            continue  # its consent row above says it, with the words
        entries.append(
            Entry(e.at, e.kind.replace("_", " "), HOW.get(e.actor, e.actor), e.detail or "")
        )
    entries.sort(key=lambda entry: entry.at)  # (stable: same-moment entries keep their order)
    return entries
