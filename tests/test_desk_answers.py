"""Answering from the desk: the therapist writes on the reply's page; the answer goes from the
course's address (the discreet name for a discreet reader), threaded to the reader's message,
its subject their own, nothing of the desk's notes in it; it is on their timeline and the
audit log, and a reply to it comes back to the same reader on the desk."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import parseaddr

from flask.testing import FlaskClient
from sqlalchemy import select

from service.store.models import DeskAudit, InboundMessage, Reader
from tests.support.desk import reply_form, sign_in, token
from tests.support.harness import enrolled, tick_and_work, work
from tests.support.mail import reply_address, reply_to, send
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

ADDRESS = "noa@example.test"
ANSWER = "Thank you for writing, Noa. What you describe takes courage to say."


def _reply(
    rt: Runtime, smtp_sink: SMTPSink, listener: int, *, discreet: bool = False, subject: str = ""
) -> tuple[EmailMessage, int]:
    reader_id = enrolled(rt, ADDRESS, timezone="UTC", first_name="Noa")
    with rt.database.session() as session:
        reader = session.get(Reader, reader_id)
        assert reader is not None
        reader.discreet = discreet
    tick_and_work(rt)
    welcome = smtp_sink.messages_to(ADDRESS)[-1]
    headers = {"Subject": subject} if subject else None
    data = reply_to(
        welcome, "I found out last month.", sender=ADDRESS, headers=headers, message_id="<r1@noa>"
    )
    assert send(listener, ADDRESS, [reply_address(welcome)], data) == {}
    work(rt)
    with rt.database.session() as session:
        row = session.scalar(select(InboundMessage))
        assert row is not None
        row.notes = "DESK-NOTE: looks like a hard week"  # what the desk knows, never sent
        return welcome, row.id


def _answer(desk: FlaskClient, reply_id: int, text: str):  # type: ignore[no-untyped-def]
    page = f"/admin/replies/{reply_id}"
    return desk.post(f"{page}/answer", data={"text": text, **reply_form(desk, reply_id)})


def test_an_answer_goes_threaded_from_the_course_and_its_reply_comes_back(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome, reply_id = _reply(rt, smtp_sink, listener)
    sign_in(desk)
    page = desk.get(f"/admin/replies/{reply_id}").get_data(as_text=True)
    assert "Answer Noa" in page and f"Re: {welcome['Subject']}" in page
    assert _answer(desk, reply_id, ANSWER).status_code == 303
    tick_and_work(rt)
    answer = smtp_sink.messages_to(ADDRESS)[-1]
    assert answer["Subject"] == f"Re: {welcome['Subject']}"
    assert parseaddr(answer["From"])[1] == rt.settings.MAIL_FROM
    assert answer["In-Reply-To"] == "<r1@noa>"
    assert answer["References"] == f"{welcome['Message-ID']} <r1@noa>"
    assert parseaddr(answer["Reply-To"])[1] == reply_address(welcome)
    body = answer.get_body(("plain",))
    assert body is not None and ANSWER in body.get_content()
    assert "DESK-NOTE" not in answer.as_string() and "I found out" not in answer.as_string()
    # on the desk: the answer under the reply, the reader's timeline, the audit log
    page = desk.get(f"/admin/replies/{reply_id}").get_data(as_text=True)
    assert "Your answers" in page and ANSWER in page
    with rt.database.session(read_only=True) as session:
        public_id = session.scalar(select(Reader.public_id))
        assert session.scalar(select(DeskAudit.action).where(DeskAudit.action == "answer"))
    timeline = desk.get(f"/admin/readers/{public_id}").get_data(as_text=True)
    assert "You answered them from the desk" in timeline and "Your answer" in timeline
    # their reply to the answer comes back to them on the desk
    again = reply_to(answer, "Thank you.", sender=ADDRESS, message_id="<r2@noa>")
    assert send(listener, ADDRESS, [reply_address(answer)], again) == {}
    work(rt)
    with rt.database.session(read_only=True) as session:
        rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
        assert [r.reader_id for r in rows] == [rows[0].reader_id] * 2
    assert (
        len(
            re.findall(
                r"/admin/replies/\d+",
                desk.get(f"/admin/readers/{public_id}").get_data(as_text=True),
            )
        )
        >= 2
    )


def test_a_discreet_readers_answer_names_nothing_of_the_course(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    welcome, reply_id = _reply(
        rt, smtp_sink, listener, discreet=True, subject="Re: Rebuilding Broken Trust, the welcome"
    )
    sign_in(desk)
    _answer(desk, reply_id, ANSWER)
    tick_and_work(rt)
    answer = smtp_sink.messages_to(ADDRESS)[-1]
    assert answer["Subject"] == "Re: Notes, 1 of 8"
    assert str(answer["From"]).startswith("Weekly notes")
    assert "Trust" not in str(answer["From"]) + str(answer["Subject"])


def test_an_empty_answer_or_an_erased_writer_is_refused_plainly(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    from service.readers.erasure import erase

    _, reply_id = _reply(rt, smtp_sink, listener)
    sign_in(desk)
    empty = _answer(desk, reply_id, "   ")
    assert empty.status_code == 400 and "Write your answer first" in empty.get_data(as_text=True)
    long = _answer(desk, reply_id, "x" * 20_001)
    assert long.status_code == 400 and "x" * 100 in long.get_data(as_text=True)  # kept in the form
    form = {"csrf_token": token(desk, "/admin/account"), "text": ANSWER}
    assert desk.post("/admin/replies/999/answer", data=form).status_code == 409
    with rt.database.session() as session:
        reader = session.scalar(select(Reader))
        assert reader is not None
        erase(session, reader, now=rt.clock.now(), actor="desk")
    sent_before = len(smtp_sink.received)
    assert desk.get(f"/admin/replies/{reply_id}").status_code == 404  # erased with them
    gone = desk.post(f"/admin/replies/{reply_id}/answer", data=form)
    assert gone.status_code == 409 and ANSWER in gone.get_data(as_text=True)  # her words kept
    tick_and_work(rt)
    assert len(smtp_sink.received) == sent_before


def test_an_answer_written_to_an_erased_reply_never_reaches_whoever_took_its_number(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    """SQLite hands a freed row number to the next row: the reply page she opened before an
    erase must not send her answer to the next reader whose reply took that number."""
    from service.readers.erasure import erase

    _, reply_id = _reply(rt, smtp_sink, listener)
    sign_in(desk)
    opened = reply_form(desk, reply_id)  # her page, open in a tab
    with rt.database.session() as session:
        reader = session.scalar(select(Reader).where(Reader.email == ADDRESS))
        assert reader is not None
        erase(session, reader, now=rt.clock.now(), actor="desk")
    enrolled(rt, "other@example.test", timezone="UTC", first_name="Ota")
    tick_and_work(rt)
    welcome = smtp_sink.messages_to("other@example.test")[-1]
    data = reply_to(welcome, "Something else entirely.", sender="other@example.test")
    assert send(listener, "other@example.test", [reply_address(welcome)], data) == {}
    work(rt)
    with rt.database.session() as session:
        newest = session.scalar(select(InboundMessage).order_by(InboundMessage.id.desc()))
        assert newest is not None and newest.from_address == "other@example.test"
        taken = newest.id
    answer = desk.post(f"/admin/replies/{taken}/answer", data={**opened, "text": ANSWER})
    assert answer.status_code == 409
    assert "nothing went to anyone" in answer.get_data(as_text=True)
    assert ANSWER in answer.get_data(as_text=True)
    tick_and_work(rt)
    assert not [m for m in smtp_sink.messages_to("other@example.test") if ANSWER in str(m)]
