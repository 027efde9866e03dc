"""Build the mail a reader (or a mail server) sends back, and send it to the listener."""

from __future__ import annotations

import email.policy
import smtplib
from email.message import EmailMessage
from email.utils import formataddr, parseaddr


def reply_to(
    original: EmailMessage,
    text: str,
    *,
    sender: str,
    sender_name: str = "",
    message_id: str = "<reply-1@reader.example.test>",
    headers: dict[str, str] | None = None,
) -> bytes:
    """What a mail client sends when a reader answers ``original``: new text, then a quote."""
    reply = EmailMessage()
    reply["From"] = formataddr((sender_name, sender))
    reply["To"] = original["Reply-To"]
    reply["Subject"] = f"Re: {original['Subject']}"
    reply["Message-ID"] = message_id
    reply["In-Reply-To"] = original["Message-ID"]
    reply["References"] = original["Message-ID"]
    for name, value in (headers or {}).items():
        del reply[name]  # replaces the reply's own Subject, say, instead of adding another
        reply[name] = value
    quoted = "\n".join(
        "> " + line for line in original.get_body(("plain",)).get_content().splitlines()
    )
    reply.set_content(f"{text}\n\nOn Tue, 27 Oct 2026 at 17:00, Lee Miller wrote:\n{quoted}\n")
    return reply.as_bytes(policy=email.policy.SMTP)


def reply_address(original: EmailMessage) -> str:
    return parseaddr(str(original["Reply-To"]))[1]


def send(port: int, sender: str, recipients: list[str], data: bytes) -> dict:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        return smtp.sendmail(sender, recipients, data)


def delivery_report(
    *,
    to: str,
    failed: str,
    status: str = "5.1.1",
    action: str | None = None,
    diagnostic: str = "550 5.1.1 user unknown",
    message_id: str | None = None,
) -> bytes:
    """A bounce as a real MTA writes one: multipart/report with a delivery-status part."""
    action = action or ("failed" if status.startswith("5") else "delayed")
    message_id = message_id or f"<dsn-{status}@mx.example.test>"
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\n"
        f"To: {to}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {message_id}\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"\r\n'
        f"\r\n"
        f"--BOUND\r\n"
        f"Content-Type: text/plain\r\n"
        f"\r\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"--BOUND\r\n"
        f"Content-Type: message/delivery-status\r\n"
        f"\r\n"
        f"Reporting-MTA: dns; mx.example.test\r\n"
        f"\r\n"
        f"Final-Recipient: rfc822; {failed}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        f"\r\n"
        f"--BOUND--\r\n"
    ).encode()


def forward_text(forward: EmailMessage) -> str:
    """What the therapist reads of a forward: its body, then the attached note about the
    reply (the context travels as an attachment so her answer never quotes it)."""
    body = forward.get_body(("plain",))
    assert body is not None
    notes = [
        part.get_content()
        for part in forward.iter_attachments()
        if part.get_filename() == "about-this-reply.txt"
    ]
    return "\n".join([body.get_content(), *notes])
