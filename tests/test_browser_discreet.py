"""Discretion from end to end, as a reader would set it up and as someone glancing at their
inbox would see it: a reader signs up in Chromium with "keep these emails discreet" ticked;
every email they then get (the confirmation, the whole course, the crisis reply to a reply
that asks for help, the therapist's answer to the forward) shows no word of the course in
its sender's name, its subject or the first 140 characters a mail app previews. The forward
tells the therapist first, and her answer quotes nothing of the notes about them."""

from __future__ import annotations

import email.policy
import re
from email import message_from_bytes
from email.message import EmailMessage

import pytest
from playwright.sync_api import Page, expect

from emails.course import default_course
from tests.conftest import THERAPIST_TEST_EMAIL
from tests.support.browser import shoot
from tests.support.harness import run_course, work
from tests.support.inbox_view import course_words, shown, top_and_bottom
from tests.support.live import LiveServer
from tests.support.mail import reply_address, reply_to, send
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

pytestmark = pytest.mark.browser

COURSE = default_course()
READER = "dee@example.test"


def _answer_as_a_mail_program_would(forward: EmailMessage, text: str) -> EmailMessage:
    """The therapist presses Reply: to Reply-To, "Re:" once, her words, then the forward's
    body quoted (a mail program quotes the body, never the attachments)."""
    answer = EmailMessage()
    answer["From"] = f"Lee Miller <{THERAPIST_TEST_EMAIL}>"
    answer["To"] = forward["Reply-To"]
    subject = str(forward["Subject"])
    answer["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    answer["In-Reply-To"] = forward["Message-ID"]
    answer["References"] = f"{forward['References']} {forward['Message-ID']}"
    body = forward.get_body(("plain",))
    assert body is not None
    quoted = "\n".join("> " + line for line in body.get_content().splitlines())
    answer.set_content(f"{text}\n\nOn Tuesday, Weekly notes wrote:\n{quoted}\n")
    return message_from_bytes(
        answer.as_bytes(policy=email.policy.SMTP), policy=email.policy.default
    )  # type: ignore[return-value]


def _nothing_gives_them_away(message: EmailMessage, what: str) -> None:
    for name, text in shown(message).items():
        assert course_words(COURSE, text) == [], (what, name, text)


def test_a_discreet_reader_is_never_given_away(
    page: Page, live: LiveServer, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    page.goto(live.url + "/")
    page.get_by_label("Your email address").fill(READER)
    page.get_by_label("Your first name").fill("Dee")
    page.get_by_label("Keep these emails discreet in my inbox").check()
    page.get_by_role("button", name="Send me the course").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    work(rt)
    [confirmation] = smtp_sink.messages_to(READER)
    link = re.search(r"https?://\S+/confirm/\S+", confirmation.get_body(("plain",)).get_content())
    assert link
    page.goto(link.group(0))
    page.get_by_role("button", name="Yes, start the course").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You’re in")
    run_course(rt)

    emails = smtp_sink.messages_to(READER)
    assert len(emails) == 1 + len(COURSE.steps)
    for n, message in enumerate(emails):
        _nothing_gives_them_away(message, f"email {n}")
        assert course_words(COURSE, top_and_bottom(message)) == [], n
    assert {shown(m)["from"] for m in emails} == {"Weekly notes"}

    # they answer step 3 asking for help: a crisis reply, and the forward to the therapist
    step3 = emails[4]
    data = reply_to(step3, "Honestly some nights I think about ending it all.", sender=READER)
    assert send(listener, READER, [reply_address(step3)], data) == {}
    work(rt)
    crisis = smtp_sink.messages_to(READER)[-1]
    assert crisis["Auto-Submitted"] == "auto-replied"
    _nothing_gives_them_away(crisis, "the crisis reply")
    [forward] = smtp_sink.messages_to(THERAPIST_TEST_EMAIL)
    text = forward.get_body(("plain",)).get_content()
    assert text.startswith("This reader asked for discretion: your reply will reach them as “Re:")
    assert str(forward["Subject"]) == f"Re: {step3['Subject']}"
    assert forward["In-Reply-To"] == "<reply-1@reader.example.test>"  # their own message

    answer = _answer_as_a_mail_program_would(forward, "Dee, thank you for telling me. Call me.")
    assert answer["To"] == forward["Reply-To"] and READER in str(answer["To"])
    _nothing_gives_them_away(answer, "the therapist's answer")
    quoted = answer.get_body(("plain",)).get_content()
    for note in ("Joined the course", "Earlier replies", "In answer to"):
        assert note not in quoted  # the notes are an attachment: never quoted back to them
    assert "<reply-1@reader.example.test>" in str(answer["References"])  # in their thread

    # how the email itself looks on a phone (a page of its own: the email's inline styles)
    assert page.context.browser is not None
    plain = page.context.browser.new_context(viewport={"width": 375, "height": 812})
    try:
        opened = plain.new_page()
        opened.set_content(emails[4].get_body(("html",)).get_content())
        shoot(opened, "discreet-step-3-email")
    finally:
        plain.close()
