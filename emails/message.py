"""The one place that builds a finished MIME message and its deliverability headers."""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from emails.render import Rendered


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
