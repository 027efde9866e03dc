"""What a reader tells the therapist stays between them: with the default REPLY_FORWARD
(notify) her inbox hears who replied to which email, never a word of what they wrote; with
off, nothing reaches it but an urgent reply's notice; the desk holds the words."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.settings import Settings
from tests.conftest import THERAPIST_TEST_EMAIL
from tests.support.harness import enrolled, tick_and_work, work
from tests.support.mail import reply_address, reply_to, send
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

MARKER = "Zk4-only-the-desk-may-read-this-7Qw"


def _answer(rt: Runtime, smtp_sink: SMTPSink, listener: int, words: str) -> None:
    welcome = smtp_sink.messages_to("ana@example.test")[0]
    data = reply_to(welcome, words, sender="ana@example.test", message_id=f"<{hash(words)}@r>")
    assert send(listener, "ana@example.test", [reply_address(welcome)], data) == {}
    work(rt)


def _therapist_inbox(smtp_sink: SMTPSink) -> str:
    return "\n".join(
        received.data.decode("utf-8", "replace")
        for received in smtp_sink.received
        if THERAPIST_TEST_EMAIL in received.rcpt_tos
    )


def test_by_default_the_therapists_inbox_holds_no_word_a_reader_wrote(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    assert (
        Settings.from_env({"COURSEMAIL_INSTANCE": str(rt.settings.instance_path)}).REPLY_FORWARD
        == "notify"
    )
    rt.settings = replace(rt.settings, REPLY_FORWARD="notify")
    enrolled(rt, "ana@example.test", timezone="UTC", first_name="Ana")
    tick_and_work(rt)
    _answer(rt, smtp_sink, listener, f"I have never said this out loud. {MARKER}")
    _answer(rt, smtp_sink, listener, f"Some nights I want to die. {MARKER}")
    [notice, urgent] = smtp_sink.messages_to(THERAPIST_TEST_EMAIL)
    inbox = _therapist_inbox(smtp_sink)
    assert MARKER not in inbox and "never said" not in inbox and "want to die" not in inbox
    assert str(notice["Subject"]).startswith("Ana replied to")
    body = notice.get_body(("plain",)).get_content()
    assert f"{rt.settings.PUBLIC_URL}/admin/replies/" in body
    assert list(notice.iter_attachments()) == [] and notice["Reply-To"] is None
    assert str(urgent["Subject"]).startswith("URGENT: Ana replied to")
    assert urgent["Importance"] == "high"
    # the reader still got the crisis reply, at once
    assert smtp_sink.messages_to("ana@example.test")[-1]["Auto-Submitted"] == "auto-replied"
    # what a reply did is said (never the words that were found)
    urgent_body = urgent.get_body(("plain",)).get_content()
    assert "want to die" not in urgent_body and "their words" not in urgent_body
    _answer(rt, smtp_sink, listener, "stop")
    stopped = smtp_sink.messages_to(THERAPIST_TEST_EMAIL)[-1].get_body(("plain",)).get_content()
    assert "Note: they asked to stop, so they have been unsubscribed from the course." in stopped


@pytest.mark.parametrize(("urgent", "notices"), [(False, 0), (True, 1)])
def test_with_forwarding_off_only_an_urgent_reply_reaches_her_inbox(
    rt: Runtime, smtp_sink: SMTPSink, listener: int, urgent: bool, notices: int
) -> None:
    rt.settings = replace(rt.settings, REPLY_FORWARD="off")
    enrolled(rt, "ana@example.test", timezone="UTC", first_name="Ana")
    tick_and_work(rt)
    words = "I keep thinking about ending it all." if urgent else f"Thank you. {MARKER}"
    _answer(rt, smtp_sink, listener, words)
    assert len(smtp_sink.messages_to(THERAPIST_TEST_EMAIL)) == notices
    assert MARKER not in _therapist_inbox(smtp_sink)


def test_a_replys_words_are_deleted_after_the_retention_and_the_fact_stays(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from service.inbox import answers
    from service.store.models import DeskAnswer, InboundMessage

    enrolled(rt, "ana@example.test", timezone="UTC", first_name="Ana")
    tick_and_work(rt)
    _answer(rt, smtp_sink, listener, f"Thank you. {MARKER}")
    with rt.database.session() as session:  # and the therapist answered it from the desk
        reply = session.scalars(select(InboundMessage)).one()
        answers.queue(
            session,
            reply,
            text="Her answer",
            subject="Re: what I found",
            now=rt.clock.now(),
            mail_domain="example.test",
            by_user="lee",
        )
    rt.clock.advance(timedelta(days=rt.settings.REPLY_RETENTION_DAYS - 1))
    tick_and_work(rt)
    with rt.database.session() as session:
        kept = session.scalars(select(InboundMessage)).one()
        assert MARKER in (kept.reply_text or "") and kept.words_deleted_at is None
    rt.clock.advance(timedelta(days=2))
    tick_and_work(rt)
    with rt.database.session() as session:
        gone = session.scalars(select(InboundMessage)).one()
        assert gone.reply_text is None and gone.raw == b"" and gone.subject is None
        assert gone.words_deleted_at == rt.clock.now()
        assert gone.from_address == "ana@example.test"  # the fact that they replied stays
        answer = session.scalars(select(DeskAnswer)).one()
        assert answer.body is None and answer.subject == ""
