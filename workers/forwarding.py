"""The reply job: parse what the listener or webhook stored, then forward it to the therapist.

Per message: (1) if it is only stored, parse it and record what it is (a reply, an
auto-reply, a bounce...), acting on bounces and "stop"; (2) if it should reach the therapist,
take it in hand, send the crisis reply first when one is due, then the forward, and record
the outcome. A failed send is retried later from the database; nothing is dropped.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from emails.course import Course, default_course
from emails.forward import Addressing, ForwardContext, build_crisis_reply, build_forward
from emails.message import to_bytes
from emails.received import ParsedMail, parse
from service import deliveries, inbox, triage
from service.addresses import AddressKind
from service.models import (
    CrisisReply,
    DeliveryKind,
    InboundMessage,
    InboundStatus,
    Subscriber,
)
from service.safety import CrisisPhrases, SafetyFileError, crisis_phrases, crisis_reply
from service.settings import SAFETY_DIR
from workers.runtime import Runtime
from workers.sending import over_one_connection
from workers.transport import AmbiguousError, PermanentError, TransientError, Transport

log = logging.getLogger("coursemail.replies")


def handle_batch(rt: Runtime, inbound_ids: Sequence[int]) -> dict[str, int]:
    """Parse and forward each message, sharing one SMTP connection; a count per outcome."""
    return over_one_connection(rt, inbound_ids, handle_one, what="replies batch")


def handle_one(rt: Runtime, transport: Transport, inbound_id: int) -> str:
    db = rt.database
    with db.session() as session:
        row = inbox.lock(session, inbound_id, postgres=not db.is_sqlite)
        if row is None:
            return "missing"
        if row.status == InboundStatus.RECEIVED:
            understood = triage.understand(
                session,
                row,
                _parse(row),
                addresses=rt.addresses,
                crisis=_phrases(rt),
                now=rt.clock.now(),
            )
            log.info("message %d is %s", inbound_id, understood.category)
            if not understood.forward:
                return str(understood.category)
    with db.session() as session:
        if not inbox.begin_forwarding(session, inbound_id, now=rt.clock.now()):
            return "skipped"
        row = session.get(InboundMessage, inbound_id)
        assert row is not None
        plan = _plan(rt, session, row)
    return _send(rt, transport, inbound_id, plan)


def _parse(row: InboundMessage) -> ParsedMail:
    envelope_sender = row.mail_from if row.source == "smtp" else None
    try:
        return parse(row.raw, envelope_sender=envelope_sender)
    except Exception as error:  # noqa: BLE001 - an unreadable message is forwarded as a file
        log.exception("message %d could not be parsed", row.id)
        return ParsedMail(damaged=True, notes=[f"the message could not be read ({error!r})"])


def _phrases(rt: Runtime) -> CrisisPhrases:
    try:
        return crisis_phrases(rt.settings.CRISIS_PHRASES_FILE)
    except SafetyFileError as error:
        log.error("%s; using the shipped crisis phrases instead", error)
        return crisis_phrases(SAFETY_DIR / "crisis-phrases.txt")


@dataclass(frozen=True)
class Outgoing:
    envelope_from: str
    recipient: str
    data: bytes


@dataclass(frozen=True)
class Plan:
    #: builds the forward, given a line on how the crisis reply went (None: not forwarding)
    forward: Callable[[str | None], Outgoing] | None
    crisis: Outgoing | None
    #: the crisis reply's state before this attempt
    crisis_state: CrisisReply = CrisisReply.NONE
    #: the crisis reply is due but there is no address to send it to
    crisis_impossible: bool = False


#: How an earlier attempt left the crisis reply, for a forward sent without trying it now.
_STATE_OUTCOME = {
    CrisisReply.NONE: "",
    CrisisReply.DUE: "retry",
    CrisisReply.SENT: "sent",
    CrisisReply.FAILED: "failed",
}
CRISIS_NOTES = {
    "sent": "they were sent the crisis-resources reply automatically",
    "failed": "the crisis-resources reply could not be delivered to them",
    "retry": "the crisis-resources reply could not be sent yet; it is being tried again",
}


def _plan(rt: Runtime, session: Session, row: InboundMessage) -> Plan:
    s = rt.settings
    subscriber = session.get(Subscriber, row.subscriber_id) if row.subscriber_id else None
    delivery = inbox.delivery_for(session, row)
    course: Course = default_course()
    if delivery is not None and delivery.enrollment is not None:
        course = deliveries.course_for(delivery.enrollment)
    renderer = rt.renderer(course)
    first_name = subscriber.first_name if subscriber else None
    writer = subscriber.email if subscriber else (row.from_address or "")
    notes = (row.notes or "").splitlines()
    if subscriber and row.from_address and row.from_address.lower() != subscriber.email.lower():
        notes.append(
            f"they wrote from {row.from_address}, not the address they signed up with; "
            f"replying goes to {subscriber.email}"
        )
    step_subject = None
    if delivery is not None:
        step = delivery.step if delivery.kind == DeliveryKind.STEP else None
        step_subject = renderer.subject(step, first_name=first_name)
    zone = ZoneInfo(course.timezone)
    ctx = ForwardContext(
        course_title=course.title,
        writer_name=first_name,
        writer_address=writer,
        reply_text=row.reply_text or "",
        replied_to=f'"{step_subject}"' if step_subject else None,
        step_subject=step_subject,
        sent_at=_when(delivery.sent_at, zone) if delivery else None,
        joined_at=_when(subscriber.confirmed_at or subscriber.created_at, zone)
        if subscriber
        else None,
        earlier_replies=inbox.earlier_replies(session, row),
        notes=notes,
        urgent=row.urgent,
    )
    now = rt.clock.now()
    domain = s.mail_domain
    digest = hashlib.sha256((row.dedupe_key or str(row.id)).encode()).hexdigest()[:12]
    forward: Callable[[str | None], Outgoing] | None = None
    if row.forwarded_at is None:
        addressing = Addressing(
            from_name=f"{first_name or writer or 'A reader'} via {course.title}",
            from_address=s.MAIL_FROM,
            to_address=s.THERAPIST_EMAIL,
            message_id=f"<reply-{row.id}-{digest}@{domain}>",
            date=now,
            thread_id=f"<conversation-{subscriber.public_id}@{domain}>" if subscriber else None,
        )
        raw, damaged = row.raw, row.damaged

        def forward(crisis_note: str | None) -> Outgoing:
            final = replace(ctx, notes=ctx.notes + ([crisis_note] if crisis_note else []))
            message = build_forward(final, addressing, raw=raw, attach_as_message=not damaged)
            return Outgoing(s.MAIL_FROM, s.THERAPIST_EMAIL, to_bytes(message, fold=False))

    crisis = None
    state = row.crisis_reply
    if state == CrisisReply.DUE:
        if not writer:
            return Plan(forward, None, state, crisis_impossible=True)
        crisis = _crisis(rt, row, subscriber, renderer.sender_name, writer, now)
    return Plan(forward, crisis, state)


def _crisis(
    rt: Runtime,
    row: InboundMessage,
    subscriber: Subscriber | None,
    sender_name: str,
    to: str,
    now: datetime,
) -> Outgoing:
    s = rt.settings
    try:
        reply = crisis_reply(s.CRISIS_REPLY_FILE)
    except SafetyFileError as error:
        log.error("%s; sending the shipped crisis reply instead", error)
        reply = crisis_reply(SAFETY_DIR / "crisis-reply.txt")
    envelope_from, reply_to = s.MAIL_FROM, s.THERAPIST_EMAIL
    if s.tracked_replies and subscriber is not None and row.delivery_id:
        # the same email's addresses: an answer to this reaches the therapist too
        ids = (subscriber.id, row.delivery_id)
        owner = subscriber.public_id
        envelope_from = rt.addresses.address(AddressKind.BOUNCE, *ids, owner=owner)
        reply_to = rt.addresses.address(AddressKind.REPLY, *ids, owner=owner)
    first_name = subscriber.first_name if subscriber else None
    message = build_crisis_reply(
        subject=reply.subject,
        text=reply.text(first_name=first_name, therapist_name=s.THERAPIST_NAME),
        addressing=Addressing(
            from_name=sender_name,
            from_address=s.MAIL_FROM,
            to_address=to,
            message_id=f"<crisis-{row.id}@{s.mail_domain}>",
            date=now,
        ),
        reply_to=reply_to,
        in_reply_to=row.message_id,
    )
    return Outgoing(envelope_from, to, to_bytes(message, fold=False))


def _when(moment: datetime | None, zone: ZoneInfo) -> str | None:
    if moment is None:
        return None
    local = moment.astimezone(zone)
    return local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or "")


def _send(rt: Runtime, transport: Transport, inbound_id: int, plan: Plan) -> str:
    errors: list[str] = []
    crisis: str | None = "failed" if plan.crisis_impossible else None
    if plan.crisis is not None:
        try:
            transport.send(plan.crisis.envelope_from, [plan.crisis.recipient], plan.crisis.data)
            crisis = "sent"
        except PermanentError as error:
            crisis = "failed"
            errors.append(f"crisis reply refused: {error}")
        except AmbiguousError:
            crisis = "sent"  # it may well have arrived; twice would not help anyone
        except TransientError as error:
            errors.append(f"crisis reply: {error}")
    forwarded = plan.forward is None
    if plan.forward is not None:
        message = plan.forward(CRISIS_NOTES.get(crisis or _STATE_OUTCOME[plan.crisis_state]))
        try:
            transport.send(message.envelope_from, [message.recipient], message.data)
            forwarded = True
        except (TransientError, PermanentError, AmbiguousError) as error:
            # even a 5xx is retried: the therapist's inbox is the only place a reply can go
            errors.append(f"forward: {error}")
    error_text = "; ".join(errors) or None
    with rt.database.session() as session:
        row = session.get(InboundMessage, inbound_id)
        assert row is not None
        inbox.record_attempt(
            row, forwarded=forwarded, crisis=crisis, error=error_text, now=rt.clock.now()
        )
        status = row.status
    if error_text:
        log.warning("message %d: %s (will try again)", inbound_id, error_text)
    return "forwarded" if status == InboundStatus.FORWARDED else "retry"
