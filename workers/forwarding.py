"""The reply job: parse what the listener or webhook stored, then forward it to the therapist.

Per message: (1) if it is only stored, parse it and record what it is (a reply, an
auto-reply, a bounce...), acting on bounces and "stop"; (2) if it should reach the therapist,
take it in hand, send the crisis reply first when one is due, then the forward, and record
the outcome. A failed send is retried later from the database; nothing is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from emails.course import Course, default_course
from emails.discretion import reply_subject
from emails.forward import ForwardContext, crisis_email, forward_email, local_time
from emails.notice import notice_email
from emails.received import ParsedMail, parse
from emails.render import Renderer
from emails.safety import (
    SHIPPED_PHRASES,
    SHIPPED_REPLY,
    CrisisPhrases,
    SafetyFileError,
    crisis_phrases,
    crisis_reply,
)
from service.addresses import AddressKind
from service.inbox import inbound, triage
from service.outbox import sent
from service.outbox.links import for_answer
from service.store.models import (
    CrisisReplyState,
    Delivery,
    DeliveryKind,
    InboundMessage,
    InboundStatus,
    Reader,
)
from workers.batches import over_one_connection
from workers.runtime import Runtime
from workers.transport import (
    AmbiguousError,
    Outgoing,
    PermanentError,
    TransientError,
    Transport,
    Unsupported,
)

log = logging.getLogger("coursemail.replies")


def handle_batch(rt: Runtime, inbound_ids: Sequence[int]) -> dict[str, int]:
    """Parse and forward each message, sharing one SMTP connection; a count per outcome."""
    return over_one_connection(
        rt,
        inbound_ids,
        handle_one,
        what="replies batch",
        on_error=record_failure,
        beat=inbound.refresh_claims,
    )


def record_failure(rt: Runtime, inbound_id: int, error: Exception) -> str:
    """Contain an unexpected failure to this message; it is forwarded or retried, never lost."""
    with rt.database.session() as session:
        row = session.get(InboundMessage, inbound_id)
        if row is None:
            return "missing"
        inbound.record_unexpected(row, f"{type(error).__name__}: {error}", now=rt.clock.now())
        return "to_forward" if row.status == InboundStatus.TO_FORWARD else "retry"


def handle_one(rt: Runtime, transport: Transport, inbound_id: int) -> str:
    db = rt.database
    with db.session() as session:
        row = inbound.lock(session, inbound_id, postgres=not db.is_sqlite)
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
        if not inbound.begin_forwarding(session, inbound_id, now=rt.clock.now()):
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
        return crisis_phrases(SHIPPED_PHRASES)


@dataclass(frozen=True)
class Plan:
    #: builds the forward, given a line on how the crisis reply went (None: not forwarding)
    forward: Callable[[str | None, bool], Outgoing] | None
    crisis: Outgoing | None
    #: the crisis reply's state before this attempt
    crisis_state: CrisisReplyState = CrisisReplyState.NONE
    #: the crisis reply is due but there is no address to send it to
    crisis_impossible: bool = False


#: How an earlier attempt left the crisis reply, for a forward sent without trying it now.
_STATE_OUTCOME = {
    CrisisReplyState.NONE: "",
    CrisisReplyState.DUE: "retry",
    CrisisReplyState.SENT: "sent",
    CrisisReplyState.FAILED: "failed",
}
CRISIS_NOTES = {
    "sent": "they were sent the crisis-resources reply automatically",
    "failed": "the crisis-resources reply could not be delivered to them",
    "retry": "the crisis-resources reply could not be sent yet; it is being tried again",
}


def _plan(rt: Runtime, session: Session, row: InboundMessage) -> Plan:
    """What to send for this message: the forward (unless it went already) and the crisis reply."""
    reader = session.get(Reader, row.reader_id) if row.reader_id else None
    if reader is not None and reader.erased_at is not None:
        reader = None  # erased: nothing of theirs is kept, so the reply stands alone
    delivery = inbound.delivery_for(session, row)
    course: Course = default_course()
    if delivery is not None and delivery.enrollment is not None:
        course = sent.course_for(delivery.enrollment)
    renderer = rt.renderer(course)
    ctx = _context(session, row, reader, delivery, renderer)
    forward = None if row.forwarded_at else _forwarder(rt, row, reader, ctx, renderer)
    state = row.crisis_reply
    if state != CrisisReplyState.DUE:
        return Plan(forward, None, state)
    if not ctx.writer_address:
        return Plan(forward, None, state, crisis_impossible=True)
    return Plan(forward, _crisis(rt, row, reader, renderer, ctx.writer_address), state)


def _context(
    session: Session,
    row: InboundMessage,
    reader: Reader | None,
    delivery: Delivery | None,
    renderer: Renderer,
) -> ForwardContext:
    """The facts the therapist reads under the reply: who, which email, since when."""
    first_name = reader.first_name if reader else None
    notes = (row.notes or "").splitlines()
    if reader and row.from_address and row.from_address.lower() != reader.email.lower():
        notes.append(
            f"they wrote from {row.from_address}, not the address they signed up with; "
            f"replying goes to {reader.email}"
        )
    step_subject = None
    if delivery is not None:
        step = delivery.step if delivery.kind == DeliveryKind.STEP else None
        step_subject = renderer.subject(step, first_name=first_name)
    zone = renderer.course.timezone
    discreet = bool(reader and reader.discreet)
    return ForwardContext(
        course_title=renderer.course.title,
        writer_name=first_name,
        writer_address=reader.email if reader else (row.from_address or ""),
        reply_text=row.reply_text or "",
        replied_to=f'"{step_subject}"' if step_subject else None,
        step_subject=step_subject,
        sent_at=local_time(delivery.sent_at, zone) if delivery else None,
        # (never "joined" for someone who has not confirmed: they have not)
        joined_at=local_time(reader.confirmed_at, zone) if reader and reader.confirmed_at else None,
        earlier_replies=inbound.earlier_replies(session, row),
        notes=notes,
        urgent=row.urgent,
        discreet=discreet,
        answer_subject=_answer_subject(row, delivery, renderer) if discreet else None,
        their_message_id=row.message_id,
    )


def _answer_subject(row: InboundMessage, delivery: Delivery | None, renderer: Renderer) -> str:
    """What the therapist's answer to a discreet reader carries: their own subject when it
    names nothing of the course, else "Re:" and the neutral subject of the email they
    answered."""
    plan = renderer.course.discreet
    number = delivery.step + 1 if delivery and delivery.step is not None else None
    neutral = plan.subject_for(number, len(renderer.course.steps)) if number else plan.sender
    return reply_subject(row.subject or "", neutral, plan)


def _forwarder(
    rt: Runtime,
    row: InboundMessage,
    reader: Reader | None,
    ctx: ForwardContext,
    renderer: Renderer,
) -> Callable[[str | None, bool], Outgoing] | None:
    """Builds what reaches the therapist's inbox once the crisis reply's outcome (a line for
    her) is known: the whole forward (``REPLY_FORWARD=full``), a notice with none of their
    words (``notify``; every urgent reply, whatever the setting), or nothing (``off``: the
    desk only). ``plain`` leaves out what only an SMTPUTF8 relay can carry."""
    s = rt.settings
    mode = "notify" if s.REPLY_FORWARD == "off" and ctx.urgent else s.REPLY_FORWARD
    if mode == "off":
        return None
    therapist = renderer.contact.therapist_email
    inbound_id, raw, damaged = row.id, row.raw, row.damaged
    identity = row.dedupe_key or str(row.id)
    conversation = reader.public_id if reader else None
    now = rt.clock.now()
    desk_url = f"{s.PUBLIC_URL}/admin/replies/{inbound_id}"
    # a return of this forward comes back to us and marks the reply (she did not get it)
    envelope = (
        rt.addresses.address(AddressKind.RETURNED, 0, inbound_id, owner="therapist")
        if s.tracked_replies
        else s.MAIL_FROM
    )

    def forward(crisis_note: str | None, plain: bool) -> Outgoing:
        if mode == "notify":
            message = notice_email(
                ctx,
                inbound_id=inbound_id,
                identity=identity,
                sender=s.MAIL_FROM,
                therapist=therapist,
                domain=s.mail_domain,
                date=now,
                desk_url=desk_url,
                crisis_note=crisis_note,
            )
            return Outgoing.of(envelope, therapist, message)
        final = replace(ctx, notes=ctx.notes + ([crisis_note] if crisis_note else []))
        message = forward_email(
            final,
            inbound_id=inbound_id,
            identity=identity,
            conversation=conversation,
            sender=s.MAIL_FROM,
            therapist=therapist,
            domain=s.mail_domain,
            date=now,
            raw=raw,
            attach_as_message=not damaged,
            reply_to_writer=not plain,
        )
        return Outgoing.of(envelope, therapist, message)

    return forward


def _crisis(
    rt: Runtime,
    row: InboundMessage,
    reader: Reader | None,
    renderer: Renderer,
    to: str,
) -> Outgoing:
    s = rt.settings
    try:
        reply = crisis_reply(s.CRISIS_REPLY_FILE)
    except SafetyFileError as error:
        log.error("%s; sending the shipped crisis reply instead", error)
        reply = crisis_reply(SHIPPED_REPLY)
    links = for_answer(s, rt.addresses, reader, row.delivery_id)
    first_name = reader.first_name if reader else None
    message = crisis_email(
        subject=reply.subject,
        text=reply.text(first_name=first_name, therapist_name=renderer.contact.therapist_name),
        inbound_id=row.id,
        # a discreet reader's answer comes from the name their inbox already shows
        sender_name=renderer.discreet_sender
        if reader and reader.discreet
        else renderer.sender_name,
        sender=s.MAIL_FROM,
        to=to,
        reply_to=links.reply_address or renderer.contact.therapist_email,
        in_reply_to=row.message_id,
        domain=s.mail_domain,
        date=rt.clock.now(),
    )
    return Outgoing.of(links.envelope_from, to, message)


def _send_forward(
    transport: Transport, forward: Callable[[str | None, bool], Outgoing], note: str | None
) -> str | None:
    """Send the forward; None when it went, else why not (it is tried again later: even a
    5xx, since the therapist's inbox is the only place a reply can go)."""
    try:
        try:
            _deliver(transport, forward(note, False))
        except Unsupported:
            # the relay cannot carry the writer's international address: without Reply-To
            _deliver(transport, forward(note, True))
    except (TransientError, PermanentError, AmbiguousError) as error:
        return f"forward: {error}"
    return None


def _deliver(transport: Transport, message: Outgoing) -> None:
    transport.send(
        message.envelope_from, [message.recipient], message.data, smtputf8=message.smtputf8
    )


def _send(rt: Runtime, transport: Transport, inbound_id: int, plan: Plan) -> str:
    errors: list[str] = []
    crisis: str | None = "failed" if plan.crisis_impossible else None
    if plan.crisis is not None:
        try:
            _deliver(transport, plan.crisis)
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
        note = CRISIS_NOTES.get(crisis or _STATE_OUTCOME[plan.crisis_state])
        failure = _send_forward(transport, plan.forward, note)
        forwarded = failure is None
        if failure:
            errors.append(failure)
    error_text = "; ".join(errors) or None
    with rt.database.session() as session:
        row = session.get(InboundMessage, inbound_id)
        assert row is not None
        inbound.record_attempt(
            row, forwarded=forwarded, crisis=crisis, error=error_text, now=rt.clock.now()
        )
        status = row.status
    if error_text:
        log.warning("message %d: %s (will try again)", inbound_id, error_text)
    return "forwarded" if status == InboundStatus.FORWARDED else "retry"
