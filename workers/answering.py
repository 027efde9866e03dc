"""The therapist's answer from the desk, made ready for SMTP: what ``service.inbox.answers``
queued, as a personal email from the course's address (the discreet name for a discreet
reader), its Reply-To the tracked address of the email they answered, so their next reply
comes back to the same thread on the desk."""

from __future__ import annotations

from emails.answer import Answer, build_answer
from emails.course import default_course
from service.inbox import answers
from service.outbox.links import for_answer
from service.store.models import Delivery, InboundMessage
from workers.runtime import Runtime
from workers.transport import Outgoing


class AnswerGone(Exception):
    """Its words were deleted before it went (the reader erased, or retention)."""


def answer_outgoing(rt: Runtime, delivery: Delivery) -> Outgoing:
    s = rt.settings
    reader = delivery.reader
    with rt.database.session(read_only=True) as session:
        answer = answers.for_delivery(session, delivery.id)
        if answer is None or answer.body is None:
            raise AnswerGone("the answer's words are no longer kept")
        row = session.get(InboundMessage, answer.inbound_id)
        answered = row.delivery_id if row is not None else None
    renderer = rt.renderer(default_course())
    links = for_answer(s, rt.addresses, reader, answered)
    message = build_answer(
        Answer(
            subject=answer.subject,
            text=answer.body,
            from_name=renderer.discreet_sender if reader.discreet else renderer.sender_name,
            from_address=s.MAIL_FROM,
            to_name=reader.first_name,
            to_address=reader.email,
            reply_to=links.reply_address or renderer.contact.therapist_email,
            message_id=delivery.message_id,
            date=rt.clock.now(),
            in_reply_to=answer.in_reply_to,
            references=answer.references,
        )
    )
    return Outgoing.of(links.envelope_from, reader.email, message)
