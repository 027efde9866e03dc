"""The one place that builds a finished course or confirmation email and its deliverability
headers, from plain values (addresses, links, ids and dates the caller has already worked out).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from emails import headers
from emails.render import Rendered, Renderer

#: A discreet reader's List-Id: a list of notes, nothing more.
DISCREET_LIST = "Notes"


#: The last field of Feedback-ID: who sends (Gmail keys its complaint figures on it).
FEEDBACK_SENDER = "coursemail"


@dataclass(frozen=True)
class Envelope:
    """Who a message is from and to, and the headers that depend on the recipient."""

    from_name: str
    from_address: str
    to_address: str
    to_name: str | None
    #: (display name, address) for Reply-To
    reply_to: tuple[str, str]
    message_id: str
    date: datetime
    #: (https URL, mailto URL or None) for List-Unsubscribe; None for transactional mail
    unsubscribe: tuple[str, str | None] | None = None
    #: (title, list address) for List-Id
    list_id: tuple[str, str] | None = None
    #: what mail providers group complaints by (Gmail's Feedback Loop): never the course's
    #: name for a discreet reader
    feedback_id: str | None = None


@dataclass(frozen=True)
class Routing:
    """Where one email goes and what identifies it: plain values, computed by the caller."""

    to_address: str
    first_name: str | None
    from_address: str
    message_id: str
    date: datetime
    #: a tracked reply address; None when replies go straight to the therapist
    reply_address: str | None = None
    #: the reader asked for discretion: nothing in the headers or preview names the course
    discreet: bool = False


def course_parts(
    renderer: Renderer,
    step: int,
    routing: Routing,
    *,
    unsubscribe_url: str,
    unsubscribe_address: str | None,
    list_domain: str,
    preferences_url: str = "",
) -> tuple[Rendered, Envelope]:
    """What a course email is made of: its rendered parts and its envelope."""
    rendered = renderer.render_step(
        step,
        first_name=routing.first_name,
        unsubscribe_url=unsubscribe_url,
        discreet=routing.discreet,
        preferences_url=preferences_url,
    )
    mailto = f"mailto:{unsubscribe_address}?subject=unsubscribe" if unsubscribe_address else None
    course = renderer.course
    list_id = (
        (DISCREET_LIST, f"{DISCREET_LIST.lower()}.{list_domain}")
        if routing.discreet
        else (course.title, f"{course.slug}.{list_domain}")
    )
    campaign = "notes" if routing.discreet else course.slug
    envelope = replace(
        _envelope(renderer, routing),
        unsubscribe=(unsubscribe_url, mailto),
        list_id=list_id,
        feedback_id=f"step-{step}:{campaign}:course:{FEEDBACK_SENDER}",
    )
    return rendered, envelope


def confirmation_parts(
    renderer: Renderer, routing: Routing, *, confirm_url: str
) -> tuple[Rendered, Envelope]:
    rendered = renderer.render_confirmation(
        first_name=routing.first_name, confirm_url=confirm_url, discreet=routing.discreet
    )
    return rendered, _envelope(renderer, routing)


def already_parts(
    renderer: Renderer, routing: Routing, *, preferences_url: str, unsubscribe_url: str
) -> tuple[Rendered, Envelope]:
    """The note to a reader already on the course who signed up again: transactional, like
    the confirmation (no list headers), with their preferences link."""
    rendered = renderer.render_already(
        first_name=routing.first_name,
        preferences_url=preferences_url,
        unsubscribe_url=unsubscribe_url,
        discreet=routing.discreet,
    )
    return rendered, _envelope(renderer, routing)


def private_parts(
    renderer: Renderer, routing: Routing, *, private_url: str
) -> tuple[Rendered, Envelope]:
    """The fresh private link a reader asked for: transactional, sent only to them."""
    rendered = renderer.render_private(
        first_name=routing.first_name, private_url=private_url, discreet=routing.discreet
    )
    return rendered, _envelope(renderer, routing)


def _envelope(renderer: Renderer, routing: Routing) -> Envelope:
    sender = renderer.discreet_sender if routing.discreet else renderer.sender_name
    if routing.reply_address is not None:
        reply_to = (sender, routing.reply_address)
    else:  # replies go straight to the therapist, under the name the reader's inbox shows
        contact = renderer.contact
        reply_to = (sender if routing.discreet else contact.therapist_name, contact.therapist_email)
    return Envelope(
        from_name=sender,
        from_address=routing.from_address,
        to_address=routing.to_address,
        to_name=routing.first_name,
        reply_to=reply_to,
        message_id=routing.message_id,
        date=routing.date,
    )


def header_fields(subject: str, envelope: Envelope) -> list[tuple[str, str]]:
    """Every header of a course or confirmation email, in order, as ``emails.headers``
    writes them (folded, encoded where needed): the one list both writers below use."""
    fields = [
        ("From", headers.mailbox(envelope.from_name, envelope.from_address, "From")),
        ("To", headers.mailbox(envelope.to_name, envelope.to_address, "To")),
        ("Subject", headers.unstructured(subject, "Subject")),
        ("Date", format_datetime(envelope.date)),
        ("Message-ID", envelope.message_id),
        ("Reply-To", headers.mailbox(*envelope.reply_to, "Reply-To")),
    ]
    if envelope.unsubscribe is not None:
        fields.append(("List-Unsubscribe", headers.list_unsubscribe(*envelope.unsubscribe)))
        # RFC 8058: mail providers may unsubscribe with one POST, no page visit
        fields.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    if envelope.list_id is not None:
        fields.append(("List-Id", headers.list_id(*envelope.list_id)))
    if envelope.feedback_id is not None:
        fields.append(("Feedback-ID", envelope.feedback_id))
    fields.append(("Auto-Submitted", "auto-generated"))
    return fields


def build_message(rendered: Rendered, envelope: Envelope) -> EmailMessage:
    """The email as an ``EmailMessage`` (for previews and tests; ``wire.write`` writes the
    same message's bytes directly, several times faster, for sending)."""
    message = EmailMessage()
    # every value is written by emails.headers and set raw: see that module for why
    for name, value in header_fields(rendered.subject, envelope):
        message.set_raw(name, value)
    # quoted-printable keeps the body 7-bit clean for relays without 8BITMIME
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return message


def to_bytes(message: EmailMessage) -> bytes:
    """CRLF line endings, headers exactly as emails.headers wrote them (FACTS.md: never a
    bare-LF ``as_bytes()``). A header holding an international address is written as UTF-8
    (RFC 6532); every other byte stays 7-bit, so ``needs_smtputf8`` can tell from the bytes."""
    return message.as_bytes(policy=headers.WIRE)


def needs_smtputf8(data: bytes) -> bool:
    """Whether only an SMTPUTF8 relay may carry these bytes. Bodies are quoted-printable and
    attachments base64 or 7-bit, so an 8-bit byte can only be a UTF-8 header (RFC 6531)."""
    return not data.isascii()
