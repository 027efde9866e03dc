"""The two messages a reply causes: the forward to the therapist, and the crisis reply.

The forward puts what the person wrote first and attaches the context (who, which email,
since when) as a small note, with the original untouched: ``Reply-To`` is the person, so
answering is one click, and since a mail program quotes the body but never the attachments,
her answer never carries the desk's notes back to them. It threads with the person's own
message, so her answer lands in their conversation. For a reader who asked for discretion
the forward says so first, and its subject (which her answer will carry) is their own
neutral one. Both messages are built here from plain values, Message-IDs and thread ids
included, so a retry builds the same ids.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from emails import headers


@dataclass(frozen=True)
class ForwardContext:
    course_title: str
    writer_name: str | None
    writer_address: str
    reply_text: str
    #: what they answered: 'Step 2 of 6, "Be honest with yourself"', or None if unknown
    replied_to: str | None
    step_subject: str | None
    sent_at: str | None
    joined_at: str | None
    earlier_replies: int
    notes: list[str] = field(default_factory=list)
    urgent: bool = False
    #: answer with one click: Reply-To is the writer
    writer_reply_to: bool = True
    #: the reader asked for discretion; ``answer_subject`` is what their inbox should show
    discreet: bool = False
    #: the subject the therapist's answer carries ("Re: Notes, 3 of 8"), for a discreet reader
    answer_subject: str | None = None
    #: the Message-ID of the reader's own message: the forward (and so her answer) threads
    #: with it in their inbox
    their_message_id: str | None = None


@dataclass(frozen=True)
class Addressing:
    from_name: str
    from_address: str
    to_address: str
    message_id: str
    date: datetime
    #: one conversation per reader: the id every forward about them refers to
    thread_id: str | None = None


def local_time(moment: datetime | None, zone: str) -> str | None:
    """A moment as the therapist reads it in the forward: 'Tue 27 Oct 2026, 10:00 PDT'."""
    if moment is None:
        return None
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or "")


def forward_email(
    ctx: ForwardContext,
    *,
    inbound_id: int,
    identity: str,
    conversation: str | None,
    sender: str,
    therapist: str,
    domain: str,
    date: datetime,
    raw: bytes,
    attach_as_message: bool,
    reply_to_writer: bool = True,
) -> EmailMessage:
    """The forward of received message ``inbound_id`` to the therapist's inbox.

    Without ``reply_to_writer`` there is no Reply-To (a relay without SMTPUTF8 cannot carry
    an international address in it); the text still names the address.

    ``identity`` (the message's dedupe key) fixes the Message-ID, so a forward tried again
    is recognisably the same message; ``conversation`` (the reader's public id) threads every
    forward about one reader together.
    """
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    addressing = Addressing(
        from_name=f"{ctx.writer_name or ctx.writer_address or 'A reader'} via {ctx.course_title}",
        from_address=sender,
        to_address=therapist,
        message_id=f"<reply-{inbound_id}-{digest}@{domain}>",
        date=date,
        thread_id=f"<conversation-{conversation}@{domain}>" if conversation else None,
    )
    if not reply_to_writer:
        ctx = replace(
            ctx,
            notes=[
                *ctx.notes,
                "their address has international characters that your mail relay cannot "
                "put in Reply-To: to answer, write to it in a new email",
            ],
            writer_reply_to=False,
        )
    return build_forward(ctx, addressing, raw=raw, attach_as_message=attach_as_message)


def forward_subject(ctx: ForwardContext) -> str:
    if ctx.discreet and ctx.answer_subject:
        return ctx.answer_subject  # her answer carries it to their inbox: nothing else
    who = ctx.writer_name or ctx.writer_address or "Someone"
    what = f'replied to "{ctx.step_subject}"' if ctx.step_subject else "wrote in"
    subject = f"[{ctx.course_title}] {who} {what}"
    return f"URGENT {subject}" if ctx.urgent else subject


def forward_text(ctx: ForwardContext) -> str:
    """The body: what they wrote, first (after a word on discretion when they asked for it);
    the notes about them travel as an attachment, which an answer never quotes."""
    said = ctx.reply_text.strip() or (
        "(There are no new words of their own in this message: the whole of it is attached.)"
    )
    lines: list[str] = []
    if ctx.discreet:
        lines += [
            f"This reader asked for discretion: your reply will reach them as “"
            f"{forward_subject(ctx)}”. Please leave the course’s name and subject out of what "
            "you write: someone else may see their inbox.",
            "",
        ]
    if ctx.urgent:
        lines += ["URGENT: please read this one first.", ""]
    lines += [
        said,
        "",
        "-- ",
        "About this reply: see the attached note (it stays out of your answer).",
    ]
    return "\n".join(lines) + "\n"


def about_text(ctx: ForwardContext) -> str:
    """The notes about the writer, for the therapist's eyes only (an attachment)."""
    lines = ["About this reply", ""]
    if ctx.urgent:
        lines.append("URGENT: please read this one first.")
    if ctx.discreet:
        lines.append("They asked for discretion: keep the course out of your answer.")
    if "@" in ctx.writer_address:
        # body text, not a header: the name as they typed it, the address as it is
        who = f"{ctx.writer_name} <{ctx.writer_address}>" if ctx.writer_name else ctx.writer_address
        how = (
            "Reply to the email this came with to answer them directly."
            if ctx.writer_reply_to
            else "Write to that address to answer them."
        )
        lines.append(f"From: {who}. {how}")
    else:
        lines.append("From: unknown. The message gave no address to reply to.")
    if ctx.replied_to:
        sent = f", sent {ctx.sent_at}" if ctx.sent_at else ""
        lines.append(f"In answer to: {ctx.replied_to}{sent}")
    if ctx.joined_at:
        lines.append(f"Joined the course: {ctx.joined_at}")
    count = ctx.earlier_replies
    lines.append(
        "Earlier replies from them: " + ("none, this is the first" if count == 0 else str(count))
    )
    lines.extend(f"Note: {note}" for note in ctx.notes)
    lines.append("Their whole message, as it arrived, is attached too.")
    return "\n".join(lines) + "\n"


def build_forward(
    ctx: ForwardContext, addressing: Addressing, *, raw: bytes, attach_as_message: bool
) -> EmailMessage:
    message = EmailMessage()
    # values written by emails.headers and set raw: a reader's name is never re-parsed
    message.set_raw("From", headers.mailbox(addressing.from_name, addressing.from_address, "From"))
    message.set_raw("To", headers.wire_address(addressing.to_address))
    if "@" in ctx.writer_address and ctx.writer_reply_to:  # no address: no one to reply to
        message.set_raw(
            "Reply-To", headers.mailbox(ctx.writer_name, ctx.writer_address, "Reply-To")
        )
    message.set_raw("Subject", headers.unstructured(forward_subject(ctx), "Subject"))
    message.set_raw("Date", format_datetime(addressing.date))
    message.set_raw("Message-ID", addressing.message_id)
    theirs = ctx.their_message_id if _is_message_id(ctx.their_message_id) else None
    thread = [i for i in (addressing.thread_id, theirs) if i]
    if thread:
        # her answer lists these too: it threads with their own message in their inbox
        message.set_raw("In-Reply-To", thread[-1])
        message.set_raw("References", " ".join(thread))
    if ctx.urgent:
        message.set_raw("Importance", "high")
        message.set_raw("X-Priority", "1 (Highest)")
    message.set_raw("Auto-Submitted", "auto-generated")
    message.set_content(forward_text(ctx), cte="quoted-printable")
    message.add_attachment(
        about_text(ctx), subtype="plain", filename="about-this-reply.txt", cte="quoted-printable"
    )
    attach_original(message, raw, as_message=attach_as_message)
    return message


def _is_message_id(value: str | None) -> bool:
    if not value or not value.isascii():
        return False
    return re.fullmatch(r"<[^<>\s]+>", value) is not None


def attach_original(message: EmailMessage, raw: bytes, *, as_message: bool) -> None:
    """The original, untouched: inline-viewable ``message/rfc822`` when it is clean 7-bit
    mail, else a base64 ``application/octet-stream`` file that survives any relay."""
    if as_message and rfc822_safe(raw):
        if not message.is_multipart():
            message.make_mixed()
        part = EmailMessage()
        part["Content-Type"] = "message/rfc822"
        part["Content-Disposition"] = 'attachment; filename="original.eml"'
        # the payload is written out verbatim: nothing in the original is re-encoded
        part.set_payload(re.sub(rb"\r?\n", b"\r\n", raw).decode("ascii"))
        message.attach(part)
    else:
        message.add_attachment(
            raw, maintype="application", subtype="octet-stream", filename="original.eml"
        )


def rfc822_safe(raw: bytes) -> bool:
    """7-bit, no NULs, and lines SMTP accepts: safe to embed as ``message/rfc822``."""
    if not raw.isascii() or b"\0" in raw:
        return False
    return all(len(line) <= 998 for line in re.split(rb"\r?\n", raw))


def crisis_email(
    *,
    subject: str,
    text: str,
    inbound_id: int,
    sender_name: str,
    sender: str,
    to: str,
    reply_to: str,
    in_reply_to: str | None,
    domain: str,
    date: datetime,
) -> EmailMessage:
    """The automatic crisis-resources answer to received message ``inbound_id``."""
    return build_crisis_reply(
        subject=subject,
        text=text,
        addressing=Addressing(
            from_name=sender_name,
            from_address=sender,
            to_address=to,
            message_id=f"<crisis-{inbound_id}@{domain}>",
            date=date,
        ),
        reply_to=reply_to,
        in_reply_to=in_reply_to,
    )


def build_crisis_reply(
    *,
    subject: str,
    text: str,
    addressing: Addressing,
    reply_to: str,
    in_reply_to: str | None,
) -> EmailMessage:
    message = EmailMessage()
    message.set_raw("From", headers.mailbox(addressing.from_name, addressing.from_address, "From"))
    message.set_raw("To", headers.wire_address(addressing.to_address))
    message.set_raw("Reply-To", headers.wire_address(reply_to))
    message.set_raw("Subject", headers.unstructured(subject, "Subject"))
    message.set_raw("Date", format_datetime(addressing.date))
    message.set_raw("Message-ID", addressing.message_id)
    if _is_message_id(in_reply_to):
        message.set_raw("In-Reply-To", in_reply_to)
        message.set_raw("References", in_reply_to)
    # RFC 3834: an automatic answer; well-behaved responders will not answer it back
    message.set_raw("Auto-Submitted", "auto-replied")
    message.set_content(text, cte="quoted-printable")
    return message
