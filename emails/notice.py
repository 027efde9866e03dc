"""The notice that a reader replied, for the therapist's inbox (``REPLY_FORWARD=notify``, and
every urgent reply whatever the setting): who replied to which email, when, whether it looks
urgent, and where to read and answer it on the desk. None of their words travel in it."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from emails import headers
from emails.forward import ForwardContext

#: The note that quotes words a reader wrote (the crisis phrases found): never in a notice.
QUOTING_NOTE = "their words"


def notice_email(
    ctx: ForwardContext,
    *,
    inbound_id: int,
    identity: str,
    sender: str,
    therapist: str,
    domain: str,
    date: datetime,
    desk_url: str,
    crisis_note: str | None = None,
) -> EmailMessage:
    """The notice that a reader replied (``REPLY_FORWARD=notify``): who, to which email, when,
    whether it looks urgent, and the link to read and answer it on the desk. None of their
    words, no attachment, no Reply-To: the answer is written on the desk."""
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    who = ctx.writer_name or "A reader"
    what = f"replied to {ctx.replied_to}" if ctx.replied_to else "wrote in"
    urgent = "URGENT: " if ctx.urgent else ""
    message = EmailMessage()
    message.set_raw("From", headers.mailbox(f"{ctx.course_title} replies", sender, "From"))
    message.set_raw("To", headers.wire_address(therapist))
    message.set_raw("Subject", headers.unstructured(f"{urgent}{who} {what}", "Subject"))
    message.set_raw("Date", format_datetime(date))
    message.set_raw("Message-ID", f"<notice-{inbound_id}-{digest}@{domain}>")
    if ctx.urgent:
        message.set_raw("Importance", "high")
        message.set_raw("X-Priority", "1 (Highest)")
    message.set_raw("Auto-Submitted", "auto-generated")
    lines = []
    if ctx.urgent:
        lines += [
            "URGENT: some words in it suggest they may be in danger. Please read it first.",
            *([f"({crisis_note}.)"] if crisis_note else []),
            "",
        ]
    sent = f", sent {ctx.sent_at}" if ctx.sent_at else ""
    lines += [
        f"{who} {what}{sent}." if ctx.replied_to else f"{who} wrote to you.",
        "",
        f"Read it and answer on your desk: {desk_url}",
        "",
        "Their words are kept on the desk, sealed, and not in this email, so that no inbox",
        "holds what a reader wrote.",
    ]
    # what happened because of it (unsubscribed, say), never the words that were found
    said = [note for note in ctx.notes if not note.startswith(QUOTING_NOTE)]
    if said:
        lines += ["", *(f"Note: {note}." for note in said)]
    if ctx.discreet:
        lines += ["", "They asked for discretion: answer from the desk, which keeps it."]
    message.set_content("\n".join(lines) + "\n", cte="quoted-printable")
    return message
