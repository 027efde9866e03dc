"""The reply listener's manners (issue 21), over real SMTP: postmaster@ (bare too), abuse@
and fbl@ are taken; HELP names neither AUTH nor VRFY (VRFY still answers 252); every refusal
carries an enhanced status code; a complaint report (ARF, RFC 5965) sent to abuse@ suppresses
the reader it quotes, and course email carries the Feedback-ID those reports are grouped by."""

from __future__ import annotations

import smtplib

from flask.testing import FlaskClient
from sqlalchemy import select

from service.store.models import InboundCategory, InboundMessage, Reader, ReaderEvent, ReaderStatus
from tests.conftest import THERAPIST_TEST_EMAIL
from tests.support.harness import enrolled, tick_and_work, work
from tests.support.mail import reply_address, send
from tests.support.smtp import SMTPSink
from workers.listener import with_enhanced_code
from workers.runtime import Runtime

READER = "fay@reader.example.test"


def test_help_enhanced_codes_and_the_mailboxes_every_domain_keeps(
    rt: Runtime, listener: int
) -> None:
    domain = rt.settings.REPLY_DOMAIN
    with smtplib.SMTP("127.0.0.1", listener, timeout=10) as smtp:
        smtp.ehlo("mx.example.test")
        assert smtp.has_extn("enhancedstatuscodes") and not smtp.has_extn("auth")
        code, said = smtp.docmd("HELP")
        assert code == 250 and b"AUTH" not in said and b"VRFY" not in said and b"RCPT" in said
        assert smtp.docmd("VRFY", "someone")[0] == 252
        smtp.mail("mailer@example.test")
        for mailbox in (f"postmaster@{domain}", "Postmaster", f"abuse@{domain}", f"fbl@{domain}"):
            assert smtp.rcpt(mailbox)[0] == 250, mailbox
        code, said = smtp.rcpt(f"nobody@{domain}")
        assert code == 550 and said.startswith(b"5.1.1")
        code, said = smtp.rcpt("postmaster@elsewhere.example")
        assert code == 550 and said.startswith(b"5.7.1")
        assert smtp.docmd("BOGUS")[1].startswith(b"5.5.")
    assert with_enhanced_code("552 Error: Too much mail data") == (
        "552 5.3.4 Error: Too much mail data"
    )
    assert with_enhanced_code("250 OK") == "250 OK"
    assert with_enhanced_code("451 4.3.0 Try again") == "451 4.3.0 Try again"


def test_mail_to_postmaster_reaches_the_therapist(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    to = f"postmaster@{rt.settings.REPLY_DOMAIN}"
    data = (
        f"From: Ops <ops@isp.example>\r\nTo: {to}\r\nSubject: Your server\r\n"
        "Message-ID: <pm-1@isp.example>\r\n\r\nYour mail server is sending to us.\r\n"
    ).encode()
    assert send(listener, "ops@isp.example", [to], data) == {}
    work(rt)
    with rt.database.session(read_only=True) as session:
        row = session.scalars(select(InboundMessage)).one()
        assert row.category == InboundCategory.POSTMASTER
    assert smtp_sink.messages_to(THERAPIST_TEST_EMAIL), "the therapist heard of it"


def _arf(to: str, quoted: str) -> bytes:
    return (
        f"From: Feedback Loop <fbl@isp.example>\r\nTo: {to}\r\nSubject: Complaint\r\n"
        "Message-ID: <arf-1@isp.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
        "--B\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: isp-fbl/1.0\r\nVersion: 1\r\n\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{quoted}\r\n--B--\r\n"
    ).encode()


def test_a_complaint_report_to_abuse_suppresses_the_reader_it_quotes(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    enrolled(rt, READER, timezone="UTC", first_name="Fay")
    tick_and_work(rt)
    welcome = smtp_sink.messages_to(READER)[-1]
    assert welcome["Feedback-ID"].endswith(":course:coursemail")
    assert welcome["Feedback-ID"].startswith("step-0:")
    quoted = "".join(
        f"{name}: {welcome[name]}\r\n" for name in ("From", "Subject", "Reply-To", "Feedback-ID")
    )
    quoted += "To: redacted@isp.example\r\n"
    abuse = f"abuse@{rt.settings.REPLY_DOMAIN}"
    before = len(smtp_sink.received)
    assert send(listener, "fbl@isp.example", [abuse], _arf(abuse, quoted)) == {}
    work(rt)
    with rt.database.session(read_only=True) as session:
        reader = session.scalars(select(Reader)).one()
        assert reader.status == ReaderStatus.BOUNCED  # suppressed: never mailed again
        kinds = list(session.scalars(select(ReaderEvent.kind)))
        assert "marked_as_spam" in kinds
        row = session.scalars(select(InboundMessage)).one()
        assert row.category == InboundCategory.COMPLAINT
    assert len(smtp_sink.received) == before  # nothing forwarded, nothing sent to them
    assert reply_address(welcome) in quoted  # (the tracked address that named them)
    # the same reader reported again (a retry, or reports they write themselves): once
    again = _arf(abuse, quoted).replace(b"<arf-1@", b"<arf-2@")
    assert send(listener, "fbl@isp.example", [abuse], again) == {}
    work(rt)
    with rt.database.session(read_only=True) as session:
        kinds = list(session.scalars(select(ReaderEvent.kind)))
        assert kinds.count("marked_as_spam") == 1


def test_a_discreet_readers_feedback_id_names_nothing_of_the_course(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader_id = enrolled(rt, READER, timezone="UTC", first_name="Fay")
    with rt.database.session() as session:
        reader = session.get(Reader, reader_id)
        assert reader is not None
        reader.discreet = True
    tick_and_work(rt)
    welcome = smtp_sink.messages_to(READER)[-1]
    assert welcome["Feedback-ID"] == "step-0:notes:course:coursemail"


def test_yes_please_to_the_confirmation_brings_a_fresh_link_and_no_joined_label(
    rt: Runtime, client: FlaskClient, smtp_sink: SMTPSink, listener: int
) -> None:
    from tests.support.desk import token
    from tests.support.mail import reply_to

    answer = client.post(
        "/",
        data={
            "email": READER,
            "first_name": "Fay",
            "timezone": "UTC",
            "csrf_token": token(client, "/"),
        },
    )
    assert answer.status_code == 303
    work(rt)
    [confirmation] = smtp_sink.messages_to(READER)
    data = reply_to(confirmation, "Yes please!", sender=READER)
    assert send(listener, READER, [reply_address(confirmation)], data) == {}
    work(rt)
    tick_and_work(rt)
    again = smtp_sink.messages_to(READER)
    assert len(again) == 2 and "/confirm/" in str(again[-1].get_body(("plain",)))
    [forward] = smtp_sink.messages_to(THERAPIST_TEST_EMAIL)  # her words reach the therapist
    told = str(forward)
    assert "Joined the course" not in told and "have not confirmed their address yet" in told
    with rt.database.session(read_only=True) as session:
        assert session.scalars(select(Reader.status)).one() == ReaderStatus.PENDING


def test_a_report_naming_only_an_address_suppresses_nobody_and_confirmations_are_capped(
    rt: Runtime, client: FlaskClient, smtp_sink: SMTPSink, listener: int
) -> None:
    """Anyone can write a complaint report quoting any To: address: without one of our signed
    addresses it suppresses nobody. An autoresponder answering each confirmation gets one
    more link in a day, not a loop."""
    from tests.support.desk import token
    from tests.support.mail import reply_to

    enrolled(rt, "victim@reader.example.test", timezone="UTC")
    abuse = f"abuse@{rt.settings.REPLY_DOMAIN}"
    forged = _arf(abuse, "To: victim@reader.example.test\r\nSubject: anything\r\n")
    assert send(listener, "someone@evil.example", [abuse], forged) == {}
    work(rt)
    with rt.database.session(read_only=True) as session:
        victim = session.scalars(select(Reader)).one()
        assert victim.status == ReaderStatus.ACTIVE

    answer = client.post(
        "/",
        data={"email": READER, "timezone": "UTC", "csrf_token": token(client, "/")},
    )
    assert answer.status_code == 303
    work(rt)
    [confirmation] = smtp_sink.messages_to(READER)
    for n in range(4):  # a helpdesk's "ticket received", without Auto-Submitted
        data = reply_to(
            confirmation, "Ticket received.", sender=READER, message_id=f"<t{n}@help.example>"
        )
        assert send(listener, READER, [reply_address(confirmation)], data) == {}
        work(rt)
        tick_and_work(rt)
    assert len(smtp_sink.messages_to(READER)) == 2
