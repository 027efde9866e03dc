"""The one place that builds a finished course or confirmation email and its deliverability
headers, from plain values (addresses, links, ids and dates the caller has already worked out).
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from emails.render import Rendered, Renderer


@dataclass(frozen=True)
class Envelope:
    """Who a message is from and to, and the headers that depend on the recipient."""

    from_name: str
    from_address: str
    to_address: str
    to_name: str | None
    reply_to: str
    message_id: str
    date: datetime
    #: (https URL, mailto URL or None) for List-Unsubscribe; None for transactional mail
    unsubscribe: tuple[str, str | None] | None = None
    list_id: str | None = None


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


def course_email(
    renderer: Renderer,
    step: int,
    routing: Routing,
    *,
    unsubscribe_url: str,
    unsubscribe_address: str | None,
    list_domain: str,
) -> EmailMessage:
    """One step of the course for one reader, with List-Unsubscribe (RFC 8058) and List-Id."""
    rendered = renderer.render_step(
        step, first_name=routing.first_name, unsubscribe_url=unsubscribe_url
    )
    mailto = f"mailto:{unsubscribe_address}?subject=unsubscribe" if unsubscribe_address else None
    course = renderer.course
    envelope = replace(
        _envelope(renderer, routing),
        unsubscribe=(unsubscribe_url, mailto),
        list_id=f"{course.title} <{course.slug}.{list_domain}>",
    )
    return build_message(rendered, envelope)


def confirmation_email(renderer: Renderer, routing: Routing, *, confirm_url: str) -> EmailMessage:
    """The double opt-in email: transactional, so no List-Unsubscribe and no List-Id."""
    rendered = renderer.render_confirmation(first_name=routing.first_name, confirm_url=confirm_url)
    return build_message(rendered, _envelope(renderer, routing))


def _envelope(renderer: Renderer, routing: Routing) -> Envelope:
    if routing.reply_address is not None:
        reply_to = formataddr((renderer.sender_name, routing.reply_address))
    else:
        contact = renderer.contact
        reply_to = formataddr((contact.therapist_name, contact.therapist_email))
    return Envelope(
        from_name=renderer.sender_name,
        from_address=routing.from_address,
        to_address=routing.to_address,
        to_name=routing.first_name,
        reply_to=reply_to,
        message_id=routing.message_id,
        date=routing.date,
    )


def build_message(rendered: Rendered, envelope: Envelope) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((envelope.from_name, envelope.from_address))
    message["To"] = formataddr((envelope.to_name or "", envelope.to_address))
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(envelope.date)
    message["Message-ID"] = envelope.message_id
    message["Reply-To"] = envelope.reply_to
    if envelope.unsubscribe is not None:
        https_url, mailto_url = envelope.unsubscribe
        targets = [https_url] + ([mailto_url] if mailto_url else [])
        message["List-Unsubscribe"] = ", ".join(f"<{t}>" for t in targets)
        # RFC 8058: mail providers may unsubscribe with one POST, no page visit
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if envelope.list_id is not None:
        message["List-Id"] = envelope.list_id
    message["Auto-Submitted"] = "auto-generated"
    # quoted-printable keeps the message 7-bit clean for relays without 8BITMIME
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return message


#: Folds only past SMTP's hard limit. The standard library folds a header holding a quoted
#: string by moving its whole value to a continuation line, which readers then see with a
#: leading space; a forward's subject ``… replied to "…"`` must arrive as written.
UNFOLDED = email.policy.SMTP.clone(max_line_length=998)


def to_bytes(message: EmailMessage, *, fold: bool = True) -> bytes:
    """CRLF line endings and folded headers: what an SMTP server expects (FACTS.md)."""
    return message.as_bytes(policy=email.policy.SMTP if fold else UNFOLDED)
