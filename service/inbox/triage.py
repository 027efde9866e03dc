"""What a received message is, and what it asks for: the triage the reply job runs once.

Reads the parsed message and the tracked address it came to, records what it is (a reply,
an auto-reply, a bounce, an unsubscribe, a duplicate...), acts on it (a hard bounce
suppresses, "stop" unsubscribes) and decides whether the therapist should see it and whether
the writer gets the crisis reply.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emails.received import ParsedMail
from emails.safety import CrisisPhrases
from emails.safety.phrases import normalise
from service.addresses import Addresses, AddressKind, AddressToken, role_mailbox
from service.inbox import bounces, complaints
from service.readers import lifecycle
from service.store.models import (
    CrisisReplyState,
    InboundCategory,
    InboundMessage,
    InboundStatus,
    Reader,
    ReaderStatus,
)

#: A reply that is only one of these (after stripping) means "stop sending me the course".
STOP_REPLIES = frozenset(
    {
        "stop",
        "unsubscribe",
        "please stop",
        "stop please",
        "please unsubscribe",
        "unsubscribe please",
        "please unsubscribe me",
        "unsubscribe me",
        "remove me",
        "please remove me",
    }
)


def asks_to_stop(reply_text: str) -> bool:
    return re.sub(r"[^\w\s]", "", normalise(reply_text)).strip() in STOP_REPLIES


def find_token(
    addresses: Addresses, row: InboundMessage, parsed: ParsedMail
) -> AddressToken | None:
    """The first valid tracked address: the envelope's recipients first, then the headers."""
    candidates = [a for a in row.rcpt_tos.split("\n") if a] + parsed.recipients
    for candidate in candidates:
        token = addresses.read(candidate)
        if token is not None:
            return token
    return None


@dataclass(frozen=True)
class Understood:
    category: InboundCategory
    forward: bool


def understand(
    session: Session,
    row: InboundMessage,
    parsed: ParsedMail,
    *,
    addresses: Addresses,
    crisis: CrisisPhrases,
    now: datetime,
) -> Understood:
    """Fill in what ``parsed`` says about ``row``, act on it, and decide whether to forward."""
    notes = list(parsed.notes)
    _record_parsed(row, parsed, now=now)
    if parsed.complaint is not None:
        note = complaints.learn(session, row, parsed.complaint, addresses=addresses, now=now)
        return _finish(row, InboundCategory.COMPLAINT, False, notes + [note])
    token = find_token(addresses, row, parsed)
    if token is None:
        role = next(
            (r for a in row.rcpt_tos.split("\n") if (r := role_mailbox(a, addresses.domain))), None
        )
        if role is not None:
            row.address_kind = role
            said = (
                f"sent to {role}@{addresses.domain}, where mail servers and people write "
                "about problems"
            )
            return _finish(row, InboundCategory.POSTMASTER, True, notes + [said])
        return _finish(row, InboundCategory.REJECTED, False, notes + ["no valid reply address"])
    row.address_kind = token.kind.value
    if token.kind == AddressKind.PROBE:  # the doctor's test: its arrival is all it says
        row.delivery_id = token.delivery_id
        forget_words(row, now=now)
        said = "coursemail doctor's test of the reply path came back: not forwarded"
        return _finish(row, InboundCategory.PROBE, False, [said])
    if token.kind == AddressKind.RETURNED:  # about a forward to the therapist, not a reader
        note = bounces.forward_returned(session, token.delivery_id, parsed)
        return _finish(row, InboundCategory.BOUNCE, False, notes + [note])
    row.reader_id = token.reader_id
    row.delivery_id = token.delivery_id
    key = _dedupe_key(row, parsed, token)
    earlier = session.scalar(select(InboundMessage.id).where(InboundMessage.dedupe_key == key))
    if earlier is not None:
        return _finish(
            row, InboundCategory.DUPLICATE, False, notes + [f"the same message as #{earlier}"]
        )
    row.dedupe_key = key
    reader = _writer(session, row, token, notes)
    if reader is not None and reader.erased_at is not None:
        # (the listener refuses these at RCPT; this catches one already on its way)
        forget_words(row, now=now)
        return _finish(row, InboundCategory.REJECTED, False, ["sent to an erased reader: not kept"])
    if parsed.report is not None:
        notes.append(bounces.learn(session, row, reader, parsed, now=now))
        return _finish(row, InboundCategory.BOUNCE, False, notes)
    stop = asks_to_stop(parsed.reply_text)
    if (
        reader is not None
        and reader.status == ReaderStatus.PENDING
        and token.kind == AddressKind.REPLY
        and parsed.auto_reason is None
        and not stop
    ):
        # "Yes please!" to the confirmation email: joining needs its button, so a fresh link
        # goes to them; their words still reach the therapist, who is told they have not
        # joined yet
        sent = lifecycle.confirm_again(session, reader, now=now, mail_domain=addresses.domain)
        said = (
            "a fresh confirmation link was sent to them"
            if sent
            else "one was sent to them in the last day, so no more now"
        )
        notes.append(f"they have not confirmed their address yet: {said}")
    category = InboundCategory.REPLY
    if token.kind == AddressKind.UNSUBSCRIBE:
        # the List-Unsubscribe mailto works whoever (or whatever) sends it: mail providers'
        # own unsubscribe buttons often mark their message as automatic
        _unsubscribe(session, reader, notes, now=now, how="email")
        wrote = parsed.reply_text.strip() and not stop and parsed.auto_reason is None
        if not wrote:
            return _finish(row, InboundCategory.UNSUBSCRIBE, False, notes)
        category = InboundCategory.UNSUBSCRIBE  # words of their own: the therapist sees them
    elif parsed.auto_reason is not None:
        return _finish(row, InboundCategory.AUTO_REPLY, False, notes + [parsed.auto_reason])
    elif stop:
        _unsubscribe(session, reader, notes, now=now, how="reply")
    _notice_danger(session, row, crisis.find(parsed.reply_text), notes, now=now)
    return _finish(row, category, True, notes)


def forget_words(row: InboundMessage, *, now: datetime) -> None:
    """Keep that a message came, not what it said nor who sent it."""
    row.raw, row.reply_text, row.subject, row.notes = b"", None, None, None
    row.from_address = row.message_id = None
    row.words_deleted_at = now


def storable(text: str) -> str:
    """Text any database takes: undecodable bytes (kept by the parser as lone surrogates)
    become U+FFFD, and NUL goes."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\0", "")


def _record_parsed(row: InboundMessage, parsed: ParsedMail, *, now: datetime) -> None:
    row.parsed_at = now
    row.from_address = storable(parsed.from_address or "")[:320] or None
    row.subject = storable(parsed.subject)
    row.message_id = storable(parsed.message_id) if parsed.message_id else None
    row.reply_text = storable(parsed.reply_text)
    row.damaged = parsed.damaged


def _dedupe_key(row: InboundMessage, parsed: ParsedMail, token: AddressToken) -> str:
    """The same message to the same tracked address: delivered twice, recorded once."""
    identity = parsed.message_id or hashlib.sha256(row.raw).hexdigest()
    return hashlib.sha256(
        f"{identity}|{token.kind}|{token.reader_id}|{token.delivery_id}".encode()
    ).hexdigest()


def _writer(
    session: Session, row: InboundMessage, token: AddressToken, notes: list[str]
) -> Reader | None:
    """The reader the address was made for, if we still hold them."""
    reader = session.get(Reader, token.reader_id)
    if reader is not None and not token.belongs_to(reader.public_id):
        reader = None  # the id now belongs to someone else: never file it under them
        row.reader_id = row.delivery_id = None
    if reader is None:
        notes.append("we hold no record of this person any more (their data was erased)")
    return reader


def _notice_danger(
    session: Session, row: InboundMessage, found: list[str], notes: list[str], *, now: datetime
) -> None:
    """Crisis phrases mark the forward URGENT and, once a day at most, due a crisis reply."""
    if not found:
        return
    row.urgent = True
    words = ", ".join(f"“{p}”" for p in found)
    earlier_crisis = _recent_crisis_reply(session, row, now=now)
    if earlier_crisis is None:
        row.crisis_reply = CrisisReplyState.DUE
        notes.append(f"their words may mean they are in danger ({words})")
    else:
        # once a day at most: a mail loop quoting our own reply must not feed itself
        notes.append(
            f"their words may mean they are in danger ({words}); they were already sent "
            f"the crisis-resources reply at {earlier_crisis:%Y-%m-%d %H:%M} UTC, so it "
            "was not sent again"
        )


def _unsubscribe(
    session: Session, reader: Reader | None, notes: list[str], *, now: datetime, how: str
) -> None:
    if reader is not None and lifecycle.mark_unsubscribed(session, reader, now=now, how=how):
        notes.append("they asked to stop, so they have been unsubscribed from the course")


#: At most one automatic crisis reply per person in this long.
CRISIS_REPLY_EVERY = timedelta(hours=24)


def _recent_crisis_reply(
    session: Session, row: InboundMessage, *, now: datetime
) -> datetime | None:
    """When this person was last sent (or is about to be sent) the crisis reply, if lately."""
    if row.reader_id is None:
        return None
    return session.scalar(
        select(func.max(InboundMessage.received_at)).where(
            InboundMessage.reader_id == row.reader_id,
            InboundMessage.id != row.id,
            InboundMessage.crisis_reply.in_((CrisisReplyState.DUE, CrisisReplyState.SENT)),
            InboundMessage.received_at > now - CRISIS_REPLY_EVERY,
        )
    )


def _finish(
    row: InboundMessage, category: InboundCategory, forward: bool, notes: list[str]
) -> Understood:
    row.category = category
    row.notes = storable("\n".join(notes)) or None
    row.status = InboundStatus.TO_FORWARD if forward else InboundStatus.RECORDED
    row.claimed_at = row.claimed_at if forward else None
    return Understood(category, forward)
