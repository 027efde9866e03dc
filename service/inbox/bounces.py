"""What a bounce teaches (``emails.received.DeliveryReport.kind``), acted on:

- ``hard`` (the address does not exist): the reader is suppressed, for good;
- ``sender_setup`` (a policy or reputation refusal, 5.7.x / 4.7.x): never the reader's
  fault, never suppressed; their record says which provider refused and why, the desk and
  ``coursemail status`` count these, since they mean SPF, DKIM or DMARC (or the sending
  domain's reputation) need a look for everyone at that provider; and once three of its
  readers' mail came back so within the hour, that provider's course email waits an hour
  (``service.outbox.pacing``), the therapist told with its words (one reader's report, which
  anyone can write, never holds a provider);
- ``expired`` and ``soft`` (the relay gave up, a full mailbox): counted on the reader's
  record; ``SOFT_LIMIT`` of them within ``SOFT_WINDOW`` suppress the address;
- ``none`` (delayed, delivered): nothing changes.

Whatever the kind, the email it reports on (the delivery its ``bounces+`` address names) is
marked ``bounced`` with the server's words, so "sent" never hides a return.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emails.received import ParsedMail
from service.outbox import holds
from service.readers import lifecycle
from service.readers.history import record
from service.store.models import (
    Delivery,
    DeliveryStatus,
    InboundMessage,
    InboundStatus,
    Reader,
    ReaderEvent,
)

#: Soft bounces (expired, mailbox full) that suppress an address...
SOFT_LIMIT = 3
#: ...within this long.
SOFT_WINDOW = timedelta(days=30)
#: The reader's record's word for each kind.
EVENTS = {
    "hard": "bounced_hard",
    "sender_setup": "refused_by_provider",
    "expired": "bounced_soft",
    "soft": "bounced_soft",
}
#: What each kind means, for the note on the message.
MEANS = {
    "hard": "a hard bounce: the address does not exist, so nothing more is sent to it",
    "sender_setup": (
        "refused for our sending setup or reputation, not for the reader's address: they stay "
        "on the course; check the desk's Sending setup page (SPF, DKIM, DMARC)"
    ),
    "expired": (
        f"the relay gave up after its retries: counted; {SOFT_LIMIT} in {SOFT_WINDOW.days} days "
        "suppress"
    ),
    "soft": "a soft bounce (a full mailbox or a message refused in passing): counted",
    "none": "a delivery report that is not a failure (delayed or delivered): nothing changes",
}


def learn(
    session: Session,
    row: InboundMessage,
    reader: Reader | None,
    parsed: ParsedMail,
    *,
    now: datetime,
) -> str:
    """Act on the report in ``parsed``; the note saying what it was and what was done."""
    report = parsed.report
    assert report is not None
    kind = report.kind
    said = f"{report.code or 'no status'} {report.diagnostic}".strip()[:300]
    if kind == "none":
        return MEANS["none"]
    _mark_delivery(session, row.delivery_id, said)
    if reader is None or reader.erased_at is not None:
        return MEANS[kind]
    by = parsed.from_address or "unknown"
    record(session, reader, EVENTS[kind], actor="bounce", now=now, detail=f"{said} (from {by})")
    if kind == "hard":
        lifecycle.suppress(session, reader, reason="bounce", detail=f"{said} from {by}", now=now)
    elif kind == "sender_setup":  # several at one provider: its course email waits an hour
        holds.hold_if_widespread(session, reader.email, said, now=now)
    elif kind in ("expired", "soft"):
        session.flush()
        recent = session.scalar(
            select(func.count(ReaderEvent.id)).where(
                ReaderEvent.reader_id == reader.id,
                ReaderEvent.kind == "bounced_soft",
                ReaderEvent.at > now - SOFT_WINDOW,
            )
        )
        if int(recent or 0) >= SOFT_LIMIT:
            detail = f"{SOFT_LIMIT} soft bounces in {SOFT_WINDOW.days} days, the last {said}"
            lifecycle.suppress(session, reader, reason="soft bounces", detail=detail, now=now)
            return f"the {SOFT_LIMIT}rd soft bounce in {SOFT_WINDOW.days} days: suppressed"
    return MEANS[kind]


def forward_returned(session: Session, inbound_id: int, parsed: ParsedMail) -> str:
    """A report on a forward (or notice) to the therapist: the reply it carried is marked
    returned, so the desk, ``coursemail replies`` and /healthz say she did not get it."""
    report = parsed.report
    if report is None or report.kind == "none":
        return "a message to the therapist's return address that is not a failure: kept"
    forwarded = session.get(InboundMessage, inbound_id)
    said = f"{report.code or 'no status'} {report.diagnostic}".strip()[:300]
    if forwarded is None:
        return f"the therapist's mail server returned a forward we no longer hold: {said}"
    forwarded.status = InboundStatus.RETURNED
    forwarded.last_error = f"the therapist's mail server returned it: {said}"
    return f"the therapist's mail server returned the forward of message #{inbound_id}: {said}"


def _mark_delivery(session: Session, delivery_id: int | None, said: str) -> None:
    if delivery_id is None:
        return
    delivery = session.get(Delivery, delivery_id)
    if delivery is not None and delivery.status == DeliveryStatus.SENT:
        delivery.status = DeliveryStatus.BOUNCED
        delivery.last_error = f"returned after it was sent: {said}"


def counts(session: Session, *, now: datetime, days: int = 30) -> dict[str, int]:
    """Bounces of each kind on readers' records in the last ``days`` (for the desk and
    ``coursemail status``)."""
    rows = session.execute(
        select(ReaderEvent.kind, func.count(ReaderEvent.id))
        .where(
            ReaderEvent.kind.in_(set(EVENTS.values())), ReaderEvent.at > now - timedelta(days=days)
        )
        .group_by(ReaderEvent.kind)
    ).all()
    found = {kind: int(n) for kind, n in rows}
    return {
        event: found.get(event, 0)
        for event in ("bounced_hard", "bounced_soft", "refused_by_provider")
    }
