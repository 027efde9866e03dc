"""Replies reach the therapist: a course email, a reader's answer over real SMTP into the
listener, the reply job, and the forward in an SMTP sink standing in for the therapist."""

from __future__ import annotations

import smtplib
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select

from service.addresses import AddressKind
from service.store.models import (
    Consent,
    CrisisReplyState,
    Delivery,
    Enrollment,
    EnrollmentStatus,
    InboundCategory,
    InboundMessage,
    InboundStatus,
    Reader,
    ReaderEvent,
    ReaderStatus,
)
from tests.conftest import THERAPIST_TEST_EMAIL
from tests.support.harness import enrolled, reader, tick_and_work, work
from tests.support.mail import delivery_report, forward_text, reply_address, reply_to, send
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

READER = "anna@reader.example.test"


def _welcome(rt: Runtime, sink: SMTPSink, *, first_name: str | None = "Anna") -> EmailMessage:
    """Enroll a reader and send the first course email; returns it as they received it."""
    enrolled(rt, READER, timezone="America/New_York", first_name=first_name)
    tick_and_work(rt)
    [message] = sink.messages_to(READER)
    return message


def _rows(rt: Runtime) -> list[InboundMessage]:
    with rt.database.session() as session:
        rows = list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))
        session.expunge_all()
        return rows


def _forwards(sink: SMTPSink) -> list[EmailMessage]:
    return sink.messages_to(THERAPIST_TEST_EMAIL)


def _status(rt: Runtime) -> ReaderStatus:
    with rt.database.session() as session:
        return session.scalars(select(Reader.status)).one()


def _answer(rt: Runtime, listener: int, data: bytes, *, to: str, sender: str = READER) -> None:
    assert send(listener, sender, [to], data) == {}
    work(rt)


def test_a_reply_reaches_the_therapist_with_context_and_one_click_answer(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    data = reply_to(welcome, "Thank you. I needed this today.\n\nAnna", sender=READER)
    _answer(rt, listener, data, to=reply_address(welcome))

    [forward] = _forwards(smtp_sink)
    assert parseaddr(forward["Reply-To"]) == ("Anna", READER)  # one click answers the reader
    assert forward["Subject"] == (
        f'[Rebuilding Broken Trust] Anna replied to "{welcome["Subject"]}"'
    )
    assert parseaddr(forward["From"])[1] == "course@example.test"
    assert forward["List-Unsubscribe"] is None
    assert forward["Importance"] is None
    body = forward_text(forward).replace("\r\n", "\n")
    assert body.startswith("Thank you. I needed this today.")
    assert "> " not in body  # the quoted course email is stripped from the text...
    assert f"From: Anna <{READER}>" in body
    assert f'In answer to: "{welcome["Subject"]}", sent Tue 27 Oct 2026, 10:00 PDT' in body
    assert "Earlier replies from them: none, this is the first" in body
    # ...and the whole original is attached, untouched, as message/rfc822
    attachment = _original(forward)
    assert attachment.get_content_type() == "message/rfc822"
    assert attachment.get_content()["Message-ID"] == "<reply-1@reader.example.test>"
    [row] = _rows(rt)
    assert row.status == InboundStatus.FORWARDED and row.category == InboundCategory.REPLY
    assert row.reply_text.startswith("Thank you. I needed this today.")
    assert "wrote:" not in row.reply_text


def test_forwards_about_one_reader_thread_together(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    for n in (1, 2):
        data = reply_to(welcome, f"Reply {n}", sender=READER, message_id=f"<r{n}@reader.test>")
        _answer(rt, listener, data, to=reply_address(welcome))
    first, second = _forwards(smtp_sink)
    # one conversation per reader in the therapist's inbox, and each forward answers the
    # reader's own message, so her answer threads with it in theirs
    conversation = str(first["References"]).split()[0]
    assert conversation.startswith("<conversation-")
    assert str(second["References"]).split()[0] == conversation
    assert (first["In-Reply-To"], second["In-Reply-To"]) == ("<r1@reader.test>", "<r2@reader.test>")
    assert first["Message-ID"] != second["Message-ID"]
    assert "Earlier replies from them: 1" in forward_text(second)


def test_the_same_message_delivered_twice_is_recorded_once(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    data = reply_to(welcome, "Only once, please.", sender=READER)
    _answer(rt, listener, data, to=reply_address(welcome))
    _answer(rt, listener, data, to=reply_address(welcome))
    assert len(_forwards(smtp_sink)) == 1
    first, second = _rows(rt)
    assert second.category == InboundCategory.DUPLICATE
    assert second.status == InboundStatus.RECORDED
    assert f"#{first.id}" in (second.notes or "")


def test_an_out_of_office_reply_is_recorded_not_forwarded(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    data = reply_to(
        welcome,
        "I am away until Monday. I want to die of boredom.",
        sender=READER,
        headers={"Auto-Submitted": "auto-replied"},
    )
    _answer(rt, listener, data, to=reply_address(welcome))
    assert _forwards(smtp_sink) == []
    [row] = _rows(rt)
    assert row.category == InboundCategory.AUTO_REPLY and row.status == InboundStatus.RECORDED
    # crisis words in an auto-reply never trigger the crisis reply: machines answer machines
    assert row.crisis_reply == CrisisReplyState.NONE
    assert len(smtp_sink.messages_to(READER)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Autoreply": "yes"},
        {"Precedence": "auto_reply"},
        {"Precedence": "bulk"},
        {"Subject": "Out of Office: Re: your email"},
        {"Subject": "Automatic reply: Welcome"},
    ],
)
def test_auto_replies_are_recognised_by_their_headers_and_subjects(
    rt: Runtime, smtp_sink: SMTPSink, listener: int, headers: dict[str, str]
) -> None:
    welcome = _welcome(rt, smtp_sink)
    data = reply_to(welcome, "Away.", sender=READER, headers=headers)
    _answer(rt, listener, data, to=reply_address(welcome))
    assert _forwards(smtp_sink) == []
    assert _rows(rt)[0].category == InboundCategory.AUTO_REPLY


def test_a_hard_bounce_suppresses_the_address(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    [sent] = [r for r in smtp_sink.received if READER in r.rcpt_tos]
    bounce_to = sent.mail_from  # the envelope sender of the course email
    assert bounce_to.startswith("bounces+")
    _answer(rt, listener, delivery_report(to=bounce_to, failed=READER), to=bounce_to, sender="")
    assert _forwards(smtp_sink) == []
    [row] = _rows(rt)
    assert row.category == InboundCategory.BOUNCE
    with rt.database.session() as session:
        person = session.scalars(select(Reader)).one()
        assert person.status == ReaderStatus.BOUNCED
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.status == EnrollmentStatus.CANCELLED
    assert welcome["Message-ID"]


def test_a_delayed_delivery_report_changes_nothing(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    _welcome(rt, smtp_sink)
    [sent] = [r for r in smtp_sink.received if READER in r.rcpt_tos]
    report = delivery_report(to=sent.mail_from, failed=READER, status="4.2.2")
    _answer(rt, listener, report, to=sent.mail_from, sender="")
    assert _rows(rt)[0].category == InboundCategory.BOUNCE
    assert _status(rt) == ReaderStatus.ACTIVE


def test_replying_stop_unsubscribes_and_still_tells_the_therapist(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    _answer(rt, listener, reply_to(welcome, "STOP.", sender=READER), to=reply_address(welcome))
    [forward] = _forwards(smtp_sink)
    assert "they have been unsubscribed" in forward_text(forward)
    assert _status(rt) == ReaderStatus.UNSUBSCRIBED


def test_a_reply_that_only_mentions_stopping_does_not_unsubscribe(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    text = "I can't stop crying, but this helps."
    _answer(rt, listener, reply_to(welcome, text, sender=READER), to=reply_address(welcome))
    assert _status(rt) == ReaderStatus.ACTIVE
    assert len(_forwards(smtp_sink)) == 1


@pytest.mark.parametrize("automatic", [False, True])
def test_mail_to_the_unsubscribe_address_unsubscribes(
    rt: Runtime, smtp_sink: SMTPSink, listener: int, automatic: bool
) -> None:
    welcome = _welcome(rt, smtp_sink)
    mailto = welcome["List-Unsubscribe"].split("<mailto:")[1].split("?")[0]
    # a mail provider's own unsubscribe button may mark its message as automatic
    marker = "Auto-Submitted: auto-generated\r\n" if automatic else ""
    data = (
        f"From: {READER}\r\nTo: {mailto}\r\nSubject: unsubscribe\r\n{marker}"
        "Message-ID: <unsub@reader.test>\r\n\r\n"
    ).encode()
    _answer(rt, listener, data, to=mailto)
    assert _status(rt) == ReaderStatus.UNSUBSCRIBED
    [row] = _rows(rt)
    assert row.category == InboundCategory.UNSUBSCRIBE and row.status == InboundStatus.RECORDED
    assert _forwards(smtp_sink) == []


def test_words_of_danger_mark_the_forward_urgent_and_answer_the_writer_at_once(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    # the course email itself is quoted below the reply; only the reply's words count
    text = "Some nights I don\u2019t want to live anymore. I feel so alone."
    _answer(rt, listener, reply_to(welcome, text, sender=READER), to=reply_address(welcome))

    [forward] = _forwards(smtp_sink)
    assert forward["Subject"].startswith("URGENT [Rebuilding Broken Trust] Anna replied")
    assert forward["Importance"] == "high"
    assert "“dont want to live”" in forward_text(forward)
    crisis = smtp_sink.messages_to(READER)[-1]
    assert crisis["Subject"] == "We received your message"
    assert crisis["In-Reply-To"] == "<reply-1@reader.example.test>"
    assert crisis["Auto-Submitted"] == "auto-replied"
    assert crisis["List-Unsubscribe"] is None
    crisis_text = crisis.get_body(("plain",)).get_content()
    assert crisis_text.startswith("Hi Anna,")
    assert "988" in crisis_text and "Lee Miller" in crisis_text
    # answering the crisis reply reaches the therapist too
    assert parseaddr(crisis["Reply-To"])[1] == reply_address(welcome)
    assert _rows(rt)[0].crisis_reply == CrisisReplyState.SENT


@pytest.mark.parametrize(
    ("answer", "note", "status"),
    [
        ("550 5.1.1 no such mailbox", "could not be delivered to them", InboundStatus.FORWARDED),
        ("451 4.3.0 try later", "being tried again", InboundStatus.RETRY_WAIT),
    ],
)
def test_the_forward_says_how_the_crisis_reply_went(
    rt: Runtime,
    smtp_sink: SMTPSink,
    listener: int,
    answer: str,
    note: str,
    status: InboundStatus,
) -> None:
    welcome = _welcome(rt, smtp_sink)
    smtp_sink.handler.rcpt_replies[READER] = answer
    text = "I keep thinking about suicide."
    _answer(rt, listener, reply_to(welcome, text, sender=READER), to=reply_address(welcome))
    [forward] = _forwards(smtp_sink)
    assert note in forward_text(forward)
    assert _rows(rt)[0].status == status
    if status == InboundStatus.RETRY_WAIT:
        del smtp_sink.handler.rcpt_replies[READER]
        rt.clock.advance(timedelta(minutes=2))
        tick_and_work(rt)
        assert smtp_sink.messages_to(READER)[-1]["Subject"] == "We received your message"
        assert len(_forwards(smtp_sink)) == 1  # the therapist is not told twice
        assert _rows(rt)[0].status == InboundStatus.FORWARDED


def test_the_crisis_reply_goes_out_even_to_someone_who_has_unsubscribed(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    with rt.database.session() as session:
        person = session.scalars(select(Reader)).one()
        person.status = ReaderStatus.UNSUBSCRIBED
    text = "I have been thinking about suicide."
    _answer(rt, listener, reply_to(welcome, text, sender=READER), to=reply_address(welcome))
    assert smtp_sink.messages_to(READER)[-1]["Subject"] == "We received your message"
    assert _forwards(smtp_sink)[0]["Subject"].startswith("URGENT")


def test_the_crisis_reply_goes_at_most_once_a_day_so_a_mail_loop_cannot_feed_itself(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    to = reply_address(welcome)
    for n in (1, 2):
        data = reply_to(welcome, "I want to die.", sender=READER, message_id=f"<c{n}@r.test>")
        _answer(rt, listener, data, to=to)
    crisis_replies = [
        m for m in smtp_sink.messages_to(READER) if m["Subject"] == "We received your message"
    ]
    assert len(crisis_replies) == 1
    second = _forwards(smtp_sink)[1]
    assert second["Subject"].startswith("URGENT")  # the therapist still sees it first
    assert "was not sent again" in forward_text(second)
    rt.clock.advance(timedelta(hours=25))
    data = reply_to(welcome, "I want to die.", sender=READER, message_id="<c3@r.test>")
    _answer(rt, listener, data, to=to)
    crisis_replies = [
        m for m in smtp_sink.messages_to(READER) if m["Subject"] == "We received your message"
    ]
    assert len(crisis_replies) == 2


def test_quoted_course_text_never_counts_as_words_of_danger(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    data = reply_to(welcome, "Thank you.", sender=READER)
    # a course email that quotes alarming words (step texts might) is below the reply
    data = data.replace(b"> ", b"> I wanted to end my life, once. ", 1)
    _answer(rt, listener, data, to=reply_address(welcome))
    assert not _forwards(smtp_sink)[0]["Subject"].startswith("URGENT")
    assert len(smtp_sink.messages_to(READER)) == 1


def test_a_forward_that_fails_waits_and_is_retried_until_it_arrives(
    rt: Runtime, smtp_sink: SMTPSink, listener: int, client
) -> None:
    welcome = _welcome(rt, smtp_sink)
    smtp_sink.handler.rcpt_replies[THERAPIST_TEST_EMAIL] = "451 4.2.0 mailbox busy"
    _answer(rt, listener, reply_to(welcome, "Hello?", sender=READER), to=reply_address(welcome))
    [row] = _rows(rt)
    assert row.status == InboundStatus.RETRY_WAIT and "451" in (row.last_error or "")
    assert row.next_attempt_at == rt.clock.now() + timedelta(minutes=1)
    assert client.get("/healthz").get_json()["replies_waiting"] == 1  # for monitoring
    # even a permanent refusal is retried: the therapist's inbox is the only destination
    smtp_sink.handler.rcpt_replies[THERAPIST_TEST_EMAIL] = "550 5.2.2 mailbox full"
    rt.clock.advance(timedelta(minutes=2))
    tick_and_work(rt)
    assert _rows(rt)[0].status == InboundStatus.RETRY_WAIT
    del smtp_sink.handler.rcpt_replies[THERAPIST_TEST_EMAIL]
    rt.clock.advance(timedelta(minutes=10))
    tick_and_work(rt)
    assert len(_forwards(smtp_sink)) == 1
    assert _rows(rt)[0].status == InboundStatus.FORWARDED


def test_a_reply_waits_in_the_database_while_redis_is_away(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    real = rt.settings
    rt.settings = replace(real, REDIS_URL="redis://127.0.0.1:1/0")
    rt.__dict__.pop("redis", None)
    try:
        data = reply_to(welcome, "Is anyone there?", sender=READER)
        assert send(listener, READER, [reply_address(welcome)], data) == {}
    finally:
        rt.redis.close()
        rt.settings = real
        rt.__dict__.pop("redis", None)
    [row] = _rows(rt)
    assert row.status == InboundStatus.RECEIVED and row.claimed_at is None  # handed back
    tick_and_work(rt)
    assert len(_forwards(smtp_sink)) == 1


def test_a_reply_from_an_erased_reader_still_reaches_the_therapist(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    with rt.database.session() as session:
        for table in (Delivery, Enrollment, Consent, ReaderEvent, Reader):
            session.execute(delete(table))
    data = reply_to(welcome, "Are you still there?", sender=READER)
    _answer(rt, listener, data, to=reply_address(welcome))
    [forward] = _forwards(smtp_sink)
    assert parseaddr(forward["Reply-To"])[1] == READER  # from the message's own From
    assert "no record of this person" in forward_text(forward)


def test_a_reply_to_an_erased_reader_is_refused_and_never_kept(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    from service.readers.erasure import erase

    welcome = _welcome(rt, smtp_sink)
    with rt.database.session() as session:
        reader = session.scalar(select(Reader))
        assert reader is not None
        erase(session, reader, now=rt.clock.now(), actor="desk")
    data = reply_to(welcome, "Are you still there?", sender=READER)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(listener, READER, [reply_address(welcome)], data)
    [(code, words)] = refused.value.recipients.values()
    assert code == 550 and b"no longer receives mail" in words
    work(rt)
    assert _forwards(smtp_sink) == []
    with rt.database.session() as session:
        assert session.scalar(select(func.count(InboundMessage.id))) == 0


def test_a_reply_to_the_confirmation_email_names_it(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    from service.readers import lifecycle

    with rt.database.session() as session:
        lifecycle.sign_up(
            session,
            email=READER,
            first_name=None,
            timezone="UTC",
            now=rt.clock.now(),
            mail_domain=rt.settings.mail_domain,
        )
    tick_and_work(rt)
    [confirmation] = smtp_sink.messages_to(READER)
    data = reply_to(confirmation, "Is this safe to click?", sender=READER)
    _answer(rt, listener, data, to=reply_address(confirmation))
    [forward] = _forwards(smtp_sink)
    # no first name given: the address stands in for it
    assert forward["Subject"] == (
        f'[Rebuilding Broken Trust] {READER} replied to "{confirmation["Subject"]}"'
    )


def test_a_message_nested_too_deep_is_forwarded_as_a_file(
    rt: Runtime, smtp_sink: SMTPSink, listener: int, client: FlaskClient
) -> None:
    welcome = _welcome(rt, smtp_sink)
    to = reply_address(welcome)
    data = f"From: {READER}\r\nTo: {to}\r\nSubject: deep\r\nMIME-Version: 1.0\r\n".encode()
    data += b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    for level in range(1, 400):
        data += (
            f'--b{level - 1}\r\nContent-Type: multipart/mixed; boundary="b{level}"\r\n\r\n'.encode()
        )
    _answer(rt, listener, data, to=to)
    [forward] = _forwards(smtp_sink)
    attachment = _original(forward)
    assert attachment.get_content_type() == "application/octet-stream"
    original = attachment.get_content()
    assert original.endswith(data) and original.startswith(b"Received: from ")  # + our trace
    assert "nested more than" in forward_text(forward)
    assert _rows(rt)[0].damaged
    assert client.get("/healthz").get_json()["replies_unreadable_24h"] == 1  # for monitoring


def test_hostile_mail_is_forwarded_with_its_damage_noted(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    to = reply_address(welcome)
    data = (
        f"From: =?x-unknown?q?Ann=E9?= <{READER}>\r\nTo: {to}\r\n"
        "Subject: =?utf-8?q?broken=ZZ?=\r\nX-Bad-Header: \x00\x01\r\n"
        "Content-Type: text/plain; charset=x-made-up\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + "Ça me fait du bien.\x00\r\n".encode("latin-1")
    _answer(rt, listener, data, to=to)
    [forward] = _forwards(smtp_sink)
    body = forward_text(forward)
    assert "unknown character set 'x-made-up'" in body
    assert "me fait du bien." in body
    attachment = _original(forward)
    # 8-bit and NUL bytes cannot travel as message/rfc822 everywhere: attached as a file
    original = attachment.get_content()
    assert original.endswith(data) and original.startswith(b"Received: from ")  # + our trace


def test_the_welcome_says_when_replies_are_read_once_in_the_authors_voice(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    rt.settings = replace(rt.settings, REPLIES_READ_NOTE="I answer on Tuesdays.")
    rt._renderers.clear()
    welcome = _welcome(rt, smtp_sink)
    text = welcome.get_body(("plain",)).get_content()
    assert text.count("I answer on Tuesdays.") == 1
    assert "I answer on Tuesdays." in welcome.get_body(("html",)).get_content()
    # and no footer repeats the invitation in the third person
    assert "You can reply to this email" not in text


def test_replies_command_lists_what_arrived(
    rt: Runtime, smtp_sink: SMTPSink, listener: int, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from tests.support.env import settings_env
    from workers.cli import main

    welcome = _welcome(rt, smtp_sink)
    smtp_sink.handler.rcpt_replies[THERAPIST_TEST_EMAIL] = "451 4.2.0 try later"
    _answer(rt, listener, reply_to(welcome, "Hi.", sender=READER), to=reply_address(welcome))
    result = CliRunner(env=settings_env(rt.settings)).invoke(main, ["replies"])
    assert result.exit_code == 0, result.output
    assert "retry_wait" in result.output and READER in result.output
    assert "451" in result.output  # why it is waiting
    assert reader(rt, 1).email == READER


def test_the_token_names_the_reader_and_the_email(rt: Runtime, smtp_sink: SMTPSink) -> None:
    welcome = _welcome(rt, smtp_sink)
    token = rt.addresses.read(reply_address(welcome))
    assert token is not None and token.kind == AddressKind.REPLY
    with rt.database.session() as session:
        delivery = session.get(Delivery, token.delivery_id)
        assert delivery.message_id == welcome["Message-ID"]
        assert delivery.reader_id == token.reader_id


def test_the_mail_catcher_can_answer_a_course_email_as_its_reader(
    rt: Runtime, smtp_sink: SMTPSink, listener: int, client
) -> None:
    from tests.support.http import csrf

    rt.settings = replace(rt.settings, INBOUND_SMTP_PORT=listener)
    _welcome(rt, smtp_sink)
    folder = rt.settings.caught_mail
    folder.mkdir(parents=True)
    (folder / "1.eml").write_bytes(smtp_sink.received[-1].data)
    page = client.get("/dev/mail/1").get_data(as_text=True)
    assert "Reply as the reader" in page
    sent = client.post(
        "/dev/mail/1/reply",
        data={"text": "Written from the catcher.", "csrf_token": csrf(client, "/dev/mail/1")},
    )
    assert sent.status_code == 303
    assert "Your reply went to the inbound listener" in client.get(sent.location).get_data(
        as_text=True
    )
    work(rt)
    [forward] = _forwards(smtp_sink)
    assert forward_text(forward).startswith("Written from the catcher.")
    # an empty reply, or the listener not running, gets a clear page instead of a traceback
    token = csrf(client, "/dev/mail/1")
    assert (
        client.post("/dev/mail/1/reply", data={"text": " ", "csrf_token": token}).status_code == 400
    )
    rt.settings = replace(rt.settings, INBOUND_SMTP_PORT=1)
    down = client.post("/dev/mail/1/reply", data={"text": "Hello", "csrf_token": token})
    assert down.status_code == 503 and "make run" in down.get_data(as_text=True)


def test_words_written_to_the_unsubscribe_address_still_reach_the_therapist(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    mailto = welcome["List-Unsubscribe"].split("<mailto:")[1].split("?")[0]
    data = (
        f"From: {READER}\r\nTo: {mailto}\r\nSubject: unsubscribe\r\n"
        "Message-ID: <unsub-words@reader.test>\r\n\r\n"
        "Please stop for now. My partner reads my email.\r\n"
    ).encode()
    _answer(rt, listener, data, to=mailto)
    assert _status(rt) == ReaderStatus.UNSUBSCRIBED
    [forward] = _forwards(smtp_sink)
    body = forward_text(forward)
    assert body.startswith("Please stop for now.") and "unsubscribed" in body
    assert _rows(rt)[0].category == InboundCategory.UNSUBSCRIBE


def test_a_reply_is_never_filed_under_someone_who_now_holds_the_same_row_id(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    # SQLite hands the highest id out again after a delete: another person now has row 1
    with rt.database.session() as session:
        person = session.scalars(select(Reader)).one()
        person.public_id, person.email, person.first_name = "someone-else", "new@x.test", "New"
    data = reply_to(welcome, "stop", sender=READER)
    _answer(rt, listener, data, to=reply_address(welcome))
    [forward] = _forwards(smtp_sink)
    assert parseaddr(forward["Reply-To"])[1] == READER  # not new@x.test
    assert "Earlier replies" in forward_text(forward)
    assert "New" not in forward["Subject"]
    assert _status(rt) == ReaderStatus.ACTIVE  # their "stop" does not stop someone else
    assert _rows(rt)[0].reader_id is None


def test_a_forward_held_by_a_worker_that_died_is_sent_after_the_stale_claim_time(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome = _welcome(rt, smtp_sink)
    smtp_sink.handler.rcpt_replies[THERAPIST_TEST_EMAIL] = "451 4.2.0 later"
    _answer(
        rt, listener, reply_to(welcome, "Hello again.", sender=READER), to=reply_address(welcome)
    )
    del smtp_sink.handler.rcpt_replies[THERAPIST_TEST_EMAIL]
    # a worker took it in hand (forwarding) and died before recording anything
    with rt.database.session() as session:
        row = session.scalars(select(InboundMessage)).one()
        row.status, row.claimed_at = InboundStatus.FORWARDING, rt.clock.now()
    rt.clock.advance(rt.settings.claim_timeout - timedelta(seconds=5))
    tick_and_work(rt)
    assert _forwards(smtp_sink) == []  # still held: the worker might only be slow
    rt.clock.advance(timedelta(seconds=10))
    tick_and_work(rt)
    assert len(_forwards(smtp_sink)) == 1
    assert _rows(rt)[0].status == InboundStatus.FORWARDED


def _original(forward: EmailMessage) -> EmailMessage:
    """The reader's whole message, attached to the forward as it arrived."""
    [original] = [p for p in forward.iter_attachments() if p.get_filename() == "original.eml"]
    return original
