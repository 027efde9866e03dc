"""The email that tells the therapist course email is being held back (``service.outbox.
pacing``): a provider refused us for our sending setup or reputation (its mail waits an hour),
or complaints passed the pause line (course email waits until she resumes it). Plain text,
the provider's own words quoted, and where to look on the desk. No reader is named."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from emails import headers


def hold_alert(
    *,
    course_title: str,
    who: str,
    words: str,
    until: str | None,
    sender: str,
    therapist: str,
    domain: str,
    date: datetime,
    desk_url: str,
) -> EmailMessage:
    """``who``: the provider whose mail waits ("Google (Gmail)"), empty for all course
    email; ``until``: when it goes on by itself (None: when she resumes it)."""
    digest = hashlib.sha256(f"{who}|{date.isoformat()}".encode()).hexdigest()[:12]
    if who:
        subject = f"Course email to {who} is held for an hour"
        lines = [
            f"{who} refused one of the course emails for a reason about how our mail is sent",
            "(its sign-in records or its reputation), not because of the reader's address.",
            "Nobody was taken off the course.",
            "",
            "What their server said:",
            "",
            f"    {words}",
            "",
            f"Course email to {who} waits until {until} and then goes on by itself, in order.",
            "If this keeps happening, the Sending setup page shows what to fix:",
            "",
            f"    {desk_url}",
        ]
    else:
        subject = "Course email is held: too many readers marked it as spam"
        lines = [
            "Course email is held back, because more readers marked it as spam than",
            "mailbox providers accept:",
            "",
            f"    {words}",
            "",
            "Confirmations and your answers still go. Nothing is lost: the emails wait, in",
            "order, until you resume course email on the Sending setup page:",
            "",
            f"    {desk_url}",
        ]
    message = EmailMessage()
    message.set_raw("From", headers.mailbox(f"{course_title} sending", sender, "From"))
    message.set_raw("To", headers.wire_address(therapist))
    message.set_raw("Subject", headers.unstructured(subject, "Subject"))
    message.set_raw("Date", format_datetime(date))
    message.set_raw("Message-ID", f"<hold-{digest}@{domain}>")
    message.set_raw("Auto-Submitted", "auto-generated")
    message.set_content("\n".join(lines) + "\n")
    return message
