"""The reply inbox: a received message's life, as conditional updates: store it, claim it,
forward it, record it.

    received ─▶ to_forward ─▶ forwarding ─▶ forwarded
        │           ▲              │
        │           └─ retry_wait ◀┘ (the forward or the crisis reply failed: try again)
        └──▶ recorded (an auto-reply, a bounce, a duplicate, an unknown address)

A reply is never dropped: a forward that keeps failing waits longer between tries, but
stays ``retry_wait`` (visible in ``coursemail replies``) until it goes through. What a
message is and asks for (the step out of ``received``) is ``service.inbox.triage``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from service.addresses import Addresses
from service.outbox.claims import BACKOFF, STALE_CLAIM_AFTER
from service.store.models import (
    CrisisReplyState,
    Delivery,
    InboundCategory,
    InboundMessage,
    InboundStatus,
    Reader,
    WebhookNonce,
)

#: The longest wait between two forwarding attempts: failures never give up, only slow down.
MAX_RETRY_WAIT = timedelta(hours=6)
#: How long a webhook's signature is remembered to refuse a replay: twice the window in
#: which a signed timestamp is accepted at all.
NONCE_KEPT = timedelta(minutes=10)
#: How much of a message its headers may take, when we read only them.
MAX_HEADER_BYTES = 256 * 1024
#: The longest address SMTP allows (RFC 5321: 64 + 1 + 255), with room to spare.
MAX_ADDRESS = 320


def take_nonce(session: Session, nonce: str, *, now: datetime) -> None:
    """Remember a webhook's signature or token; one seen before fails the flush (an
    ``IntegrityError``: the caller refuses the replay). Old ones are forgotten."""
    session.execute(delete(WebhookNonce).where(WebhookNonce.seen_at < now - NONCE_KEPT))
    session.add(WebhookNonce(nonce=nonce[:200], seen_at=now))
    session.flush()


def store(
    session: Session,
    raw: bytes,
    *,
    source: str,
    now: datetime,
    mail_from: str = "",
    recipients: Sequence[str] = (),
    nonce: str | None = None,
) -> int:
    """Keep a received message's bytes exactly as they came; returns its id.

    The one way in, for the SMTP listener and every webhook alike. The row is born claimed,
    for the reply job its caller enqueues right after the commit (if that fails, the claim
    goes stale and the tick finds it). A ``nonce`` (a webhook's signature) is written in the
    same transaction: one seen before raises ``IntegrityError`` and nothing is stored.
    """
    if nonce is not None:
        take_nonce(session, nonce, now=now)
        session.flush()
    message = InboundMessage(
        received_at=now,
        source=source,
        mail_from=mail_from[:MAX_ADDRESS],
        rcpt_tos="\n".join(r[:MAX_ADDRESS] for r in recipients),
        raw=raw,
        claimed_at=now,
    )
    session.add(message)
    session.flush()
    return message.id


def header_recipients(raw: bytes) -> list[str]:
    """The addresses a message's own headers name (To, Cc, Delivered-To): a webhook may not
    say the envelope's."""
    headers = BytesHeaderParser().parsebytes(raw[:MAX_HEADER_BYTES])
    named = [str(v) for field in ("To", "Cc", "Delivered-To") for v in headers.get_all(field, [])]
    return [address for _, address in getaddresses(named) if address]


def for_erased_reader(session: Session, addresses: Addresses, recipients: Sequence[str]) -> bool:
    """Whether a message is addressed to a reader who was erased: it is refused (SMTP 550) or
    dropped (a webhook), never stored, so an erase stays an erase."""
    for recipient in recipients:
        token = addresses.read(recipient)
        if token is None:
            continue
        reader = session.get(Reader, token.reader_id)
        if reader is not None and reader.erased_at is not None:
            return token.belongs_to(reader.public_id)
    return False


def claim_work(
    session: Session,
    *,
    now: datetime,
    limit: int,
    claim_timeout: timedelta = STALE_CLAIM_AFTER,
) -> list[int]:
    """Messages to parse, forwards due, and stale ones a dead worker held: marked claimed."""
    stale_before = now - claim_timeout
    unclaimed = or_(InboundMessage.claimed_at.is_(None), InboundMessage.claimed_at < stale_before)
    ready = or_(
        and_(
            InboundMessage.status.in_((InboundStatus.RECEIVED, InboundStatus.TO_FORWARD)),
            unclaimed,
        ),
        and_(
            InboundMessage.status == InboundStatus.RETRY_WAIT,
            InboundMessage.next_attempt_at <= now,
            unclaimed,
        ),
        and_(
            InboundMessage.status == InboundStatus.FORWARDING,
            InboundMessage.claimed_at < stale_before,
        ),
    )
    ids = list(
        session.scalars(
            select(InboundMessage.id).where(ready).order_by(InboundMessage.id).limit(limit)
        )
    )
    if ids:
        # a forward a dead worker held is tried again: the therapist may get it twice
        # (same Message-ID, so most clients show one), never zero times
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.id.in_(ids), InboundMessage.status == InboundStatus.FORWARDING)
            .values(status=InboundStatus.TO_FORWARD)
        )
        session.execute(
            update(InboundMessage).where(InboundMessage.id.in_(ids)).values(claimed_at=now)
        )
    return ids


def refresh_claims(session: Session, ids: Sequence[int], *, now: datetime) -> None:
    """A live job's heartbeat: the messages it still holds are not stale."""
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.id.in_(ids), InboundMessage.claimed_at.is_not(None))
        .values(claimed_at=now)
    )


def release(session: Session, ids: Sequence[int]) -> None:
    """Hand claims back at once (Redis refused the job), for the next tick."""
    session.execute(
        update(InboundMessage).where(InboundMessage.id.in_(ids)).values(claimed_at=None)
    )


def lock(session: Session, inbound_id: int, *, postgres: bool) -> InboundMessage | None:
    """The row, locked for this transaction (SQLite transactions are serial already)."""
    query = select(InboundMessage).where(InboundMessage.id == inbound_id)
    if postgres:
        query = query.with_for_update()
    return session.scalar(query)


def begin_forwarding(session: Session, inbound_id: int, *, now: datetime) -> bool:
    """to_forward/retry_wait → forwarding; False if another job has it (or it is done)."""
    result = session.execute(
        update(InboundMessage)
        .where(
            InboundMessage.id == inbound_id,
            InboundMessage.status.in_((InboundStatus.TO_FORWARD, InboundStatus.RETRY_WAIT)),
        )
        .values(status=InboundStatus.FORWARDING, claimed_at=now)
    )
    return getattr(result, "rowcount", 0) == 1


def record_unexpected(row: InboundMessage, reason: str, *, now: datetime) -> None:
    """Handling this message failed in a way nobody foresaw. A reply accepted with 250 must
    still reach the therapist: one that could not even be read is forwarded as it is
    (damaged, the original attached); one that failed later waits and is tried again."""
    if row.status == InboundStatus.RECEIVED:
        row.damaged = True
        row.category = InboundCategory.REPLY
        row.notes = f"it could not be read automatically ({reason}); the original is attached"
        row.status = InboundStatus.TO_FORWARD
        row.claimed_at = None
        row.parsed_at = now
        return
    record_attempt(row, forwarded=row.forwarded_at is not None, crisis=None, error=reason, now=now)


def record_attempt(
    row: InboundMessage,
    *,
    forwarded: bool,
    crisis: str | None,
    error: str | None,
    now: datetime,
) -> None:
    """After one attempt; done once the forward and any crisis reply are both out.

    ``crisis`` is "sent", "failed" (their address refuses mail: nothing more to try) or
    None (not due, or to be tried again).
    """
    if forwarded and row.forwarded_at is None:
        row.forwarded_at = now
    if crisis == "sent":
        row.crisis_reply = CrisisReplyState.SENT
    elif crisis == "failed":
        row.crisis_reply = CrisisReplyState.FAILED
    row.claimed_at = None
    row.last_error = error
    if row.forwarded_at is not None and row.crisis_reply != CrisisReplyState.DUE:
        row.status = InboundStatus.FORWARDED
        row.next_attempt_at = None
        return
    row.attempts += 1
    wait = BACKOFF[min(row.attempts, len(BACKOFF)) - 1]
    row.status = InboundStatus.RETRY_WAIT
    row.next_attempt_at = now + min(wait, MAX_RETRY_WAIT)


def waiting_count(session: Session) -> int:
    """Replies whose forward to the therapist failed and waits to be tried again."""
    found = session.scalar(
        select(func.count(InboundMessage.id)).where(
            InboundMessage.status == InboundStatus.RETRY_WAIT
        )
    )
    return int(found or 0)


def unreadable_since(session: Session, since: datetime) -> int:
    """Messages that could not be read automatically (forwarded whole, as a file)."""
    found = session.scalar(
        select(func.count(InboundMessage.id)).where(
            InboundMessage.damaged.is_(True), InboundMessage.received_at >= since
        )
    )
    return int(found or 0)


def returned_count(session: Session) -> int:
    """Forwards the therapist's mail server sent back, not yet marked handled on the desk."""
    found = session.scalar(
        select(func.count(InboundMessage.id)).where(
            InboundMessage.status == InboundStatus.RETURNED, InboundMessage.handled_at.is_(None)
        )
    )
    return int(found or 0)


def earlier_replies(session: Session, row: InboundMessage) -> int:
    if row.reader_id is None:
        return 0
    return int(
        session.scalar(
            select(func.count(InboundMessage.id)).where(
                InboundMessage.reader_id == row.reader_id,
                InboundMessage.category == InboundCategory.REPLY,
                InboundMessage.id < row.id,
            )
        )
        or 0
    )


def delivery_for(session: Session, row: InboundMessage) -> Delivery | None:
    """The email they replied to, if it is still ours and theirs."""
    if row.delivery_id is None:
        return None
    delivery = session.get(Delivery, row.delivery_id)
    if delivery is None or delivery.reader_id != row.reader_id:
        return None
    return delivery
