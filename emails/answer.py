"""The therapist's own answer to a reader, written on the desk: a plain personal email from
the course's address (under the name the reader's inbox already shows), threaded to their
message, and nothing in it but what she wrote."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from emails import headers


@dataclass(frozen=True)
class Answer:
    subject: str
    text: str
    from_name: str
    from_address: str
    to_name: str | None
    to_address: str
    reply_to: str
    message_id: str
    date: datetime
    #: the reader's Message-ID, and the thread it ends (the course email they answered)
    in_reply_to: str | None = None
    references: str | None = None


def build_answer(answer: Answer) -> EmailMessage:
    message = EmailMessage()
    message.set_raw("From", headers.mailbox(answer.from_name, answer.from_address, "From"))
    message.set_raw("To", headers.mailbox(answer.to_name or "", answer.to_address, "To"))
    message.set_raw("Reply-To", headers.wire_address(answer.reply_to))
    message.set_raw("Subject", headers.unstructured(answer.subject, "Subject"))
    message.set_raw("Date", format_datetime(answer.date))
    message.set_raw("Message-ID", answer.message_id)
    if answer.in_reply_to and _is_message_id(answer.in_reply_to):
        message.set_raw("In-Reply-To", answer.in_reply_to)
    ids = [m for m in (answer.references or "").split() if _is_message_id(m)]
    if ids:
        message.set_raw("References", " ".join(ids))
    message.set_content(answer.text + "\n", cte="quoted-printable")
    return message


def _is_message_id(value: str) -> bool:
    return value.startswith("<") and value.endswith(">") and "@" in value and value.isascii()
