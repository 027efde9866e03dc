"""A reply as a reader's mail app would write it: for the development inbox (/dev/mail),
which lets a developer answer a caught course email and watch it reach the therapist."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid, parseaddr


def body_text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    return part.get_content() if part is not None else ""


def reader_reply(original: EmailMessage, words: str, *, to: str) -> tuple[str, EmailMessage]:
    """The reader's address and their answer to ``original``, quoting it below ``words``."""
    reader = parseaddr(str(original["To"]))[1]
    answer = EmailMessage()
    answer["From"] = str(original["To"])
    answer["To"] = to
    answer["Subject"] = f"Re: {original['Subject']}"
    answer["Message-ID"] = make_msgid(domain=reader.rpartition("@")[2] or "reader.localhost")
    answer["In-Reply-To"] = str(original["Message-ID"])
    quoted = "\n".join("> " + line for line in body_text(original).splitlines())
    answer.set_content(f"{words}\n\nOn {original['Date']}, you wrote:\n{quoted}\n")
    return reader, answer
