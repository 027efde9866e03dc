"""The two emails ``coursemail doctor --send`` (and the desk's Sending setup page) sends: a
test to the therapist through the relay, saying her course email can leave; and a test of the
reply path to a ``probe+`` address at ``REPLY_DOMAIN``, which should come back through its MX
to the reply listener (or the inbound webhook), where it is noted and never forwarded."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from emails import headers


def therapist_test(
    *, course_title: str, sender: str, therapist: str, domain: str, date: datetime, desk_url: str
) -> EmailMessage:
    message = _message(f"{course_title} sending", sender, therapist, domain, date)
    message.set_raw(
        "Subject", headers.unstructured("[TEST] Your course email can leave", "Subject")
    )
    message.set_content(
        "This is a test from coursemail's Sending setup check: it went through your mail\n"
        "server exactly as the course emails do (signed with your DKIM key when one is set).\n"
        "\n"
        "If it is in your spam folder, the Sending setup page says what to publish:\n"
        "\n"
        f"    {desk_url}\n"
        "\n"
        "Nothing to do otherwise: no reader received anything.\n"
    )
    return message


def reply_probe(*, sender: str, to: str, domain: str, date: datetime) -> EmailMessage:
    message = _message("coursemail doctor", sender, to, domain, date)
    message.set_raw("Subject", "coursemail doctor: a test of the reply path")
    message.set_content(
        "A test of the way readers' replies come back. It is noted when it arrives and never\n"
        "forwarded.\n"
    )
    return message


def _message(name: str, sender: str, to: str, domain: str, date: datetime) -> EmailMessage:
    message = EmailMessage()
    message.set_raw("From", headers.mailbox(name, sender, "From"))
    message.set_raw("To", headers.wire_address(to))
    message.set_raw("Date", format_datetime(date))
    message.set_raw("Message-ID", make_msgid(domain=domain))
    message.set_raw("Auto-Submitted", "auto-generated")
    return message
