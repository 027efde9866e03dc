"""The desk's actions on a reader, end to end through the engine and a real SMTP sink: pause
(nothing goes until resumed, never a second row for a step), resume, next email now (exactly
one), resend one, unsubscribe, erase (nothing that names the person is left, the counts stay);
and replies marked handled. Each action is a POST behind a confirming page, and is recorded."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select

from emails.course import default_course
from service.store.models import (
    Consent,
    Delivery,
    Enrollment,
    EnrollmentStatus,
    InboundMessage,
    Reader,
    ReaderEvent,
)
from tests.support.desk import join_by_web, reply_form, sign_in, token
from tests.support.harness import enrolled, run_course, tick_and_work, work
from tests.support.mail import reply_address, reply_to, send
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

STEPS = len(default_course().steps)


def _public_id(rt: Runtime, reader_id: int) -> str:
    with rt.database.session() as session:
        reader = session.get(Reader, reader_id)
        assert reader is not None
        return reader.public_id


def act(desk: FlaskClient, public_id: str, name: str, **form: str) -> str:
    """Open the action's confirming page, then press its button; returns the timeline."""
    query = "?" + "&".join(f"{k}={v}" for k, v in form.items()) if form else ""
    path = f"/admin/readers/{public_id}/{name}"
    page = desk.get(path + query)
    assert page.status_code == 200, page.get_data(as_text=True)
    answer = desk.post(path, data={"csrf_token": token(desk, path + query), **form})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return desk.get(answer.headers["Location"]).get_data(as_text=True)


def _steps_sent(rt: Runtime, reader_id: int) -> list[int]:
    with rt.database.session() as session:
        return sorted(
            session.scalars(
                select(Delivery.step).where(
                    Delivery.reader_id == reader_id,
                    Delivery.step.is_not(None),
                    Delivery.status == "sent",
                )
            )
        )


def test_a_paused_reader_gets_nothing_until_resumed_then_the_rest_once(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader = enrolled(rt, "paula@example.test", timezone="UTC")
    tick_and_work(rt)  # the welcome
    sign_in(desk)
    public_id = _public_id(rt, reader)
    # the confirming page changes nothing by itself
    desk.get(f"/admin/readers/{public_id}/pause")
    with rt.database.session() as session:
        assert session.scalar(select(Enrollment.status)) == EnrollmentStatus.ACTIVE
    page = act(desk, public_id, "pause")
    assert "Paused" in page and "Course paused" in page and "on the therapist" in page
    run_course(rt, days=30)
    assert _steps_sent(rt, reader) == [0]
    assert len(smtp_sink.messages_to("paula@example.test")) == 1

    page = act(desk, public_id, "resume")
    assert "Course resumed" in page
    run_course(rt, days=30)
    assert _steps_sent(rt, reader) == list(range(STEPS))
    assert len(smtp_sink.messages_to("paula@example.test")) == STEPS


def test_pausing_holds_an_email_already_waiting_and_resuming_sends_that_same_one(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader = enrolled(rt, "held@example.test", timezone="UTC")
    tick_and_work(rt)  # the welcome
    rt.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    from workers import tick

    with rt.database.session() as session:  # the tick turns the due step into a row...
        from service.outbox.claims import create_due_step_deliveries

        assert (
            create_due_step_deliveries(
                session,
                now=rt.clock.now(),
                mail_domain="x.test",
                limit=10,
                postgres=not rt.database.is_sqlite,
            )
            == 1
        )  # ...which waits for a worker
    sign_in(desk)
    public_id = _public_id(rt, reader)
    act(desk, public_id, "pause")
    tick.run_once(rt)
    work(rt)
    assert len(smtp_sink.messages_to("held@example.test")) == 1  # only the welcome
    act(desk, public_id, "resume")
    tick_and_work(rt)
    assert _steps_sent(rt, reader) == [0, 1]
    with rt.database.session() as session:  # one row per step, never a second
        rows = session.scalar(
            select(func.count(Delivery.id)).where(Delivery.reader_id == reader, Delivery.step == 1)
        )
    assert rows == 1


def test_next_now_sends_exactly_one_email_and_the_one_after_keeps_its_wait(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader = enrolled(rt, "nina@example.test", timezone="UTC")
    tick_and_work(rt)
    sign_in(desk)
    page = act(desk, _public_id(rt, reader), "next")
    assert "Next email brought forward" in page
    tick_and_work(rt)
    tick_and_work(rt)
    assert _steps_sent(rt, reader) == [0, 1]
    assert len(smtp_sink.messages_to("nina@example.test")) == 2
    with rt.database.session() as session:
        due = session.scalar(select(Enrollment.next_send_at))
    assert due is not None and due > rt.clock.now() + timedelta(hours=12)


def test_one_email_is_sent_again_on_purpose_and_recorded(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader = enrolled(rt, "rita@example.test", timezone="UTC")
    tick_and_work(rt)
    first_sent = rt.clock.now()
    rt.clock.advance(timedelta(hours=3))  # she asks for it again later that day
    sign_in(desk)
    public_id = _public_id(rt, reader)
    timeline = desk.get(f"/admin/readers/{public_id}").get_data(as_text=True)
    link = re.search(r'href="(/admin/readers/[^"]+/resend\?delivery=(\d+))"', timeline)
    assert link, timeline
    page = act(desk, public_id, "resend", delivery=link.group(2))
    assert "On its way again" in page
    work(rt)
    [first, again] = smtp_sink.messages_to("rita@example.test")
    assert first["Subject"] == again["Subject"] and first["Message-ID"] == again["Message-ID"]
    later = desk.get(f"/admin/readers/{public_id}").get_data(as_text=True)
    assert "An email sent again" in later
    # the first send keeps its own moment on the timeline, the resend has its own
    with rt.database.session() as session:
        assert session.scalar(select(Delivery.sent_at).where(Delivery.step == 0)) == first_sent
    welcome_at = later.index("The welcome")
    assert later.index("An email sent again") > welcome_at
    # an email that has not gone out yet is not "sent again"
    refused = act(desk, public_id, "resend", delivery="999999")
    assert "Nothing was sent" in refused


def test_unsubscribing_for_them_stops_everything(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader = enrolled(rt, "uma@example.test", timezone="UTC")
    tick_and_work(rt)
    sign_in(desk)
    public_id = _public_id(rt, reader)
    assert "Unsubscribed for them" in act(desk, public_id, "unsubscribe")
    run_course(rt)
    assert len(smtp_sink.messages_to("uma@example.test")) == 1
    # a second time says why nothing changed
    assert "Nothing was changed" in act(desk, public_id, "unsubscribe")


def test_erase_leaves_nothing_that_names_the_person_and_the_counts_stay(
    desk: FlaskClient, rt: Runtime, client: FlaskClient, smtp_sink: SMTPSink, listener: int
) -> None:
    join_by_web(client, rt, smtp_sink, "erin@example.test", first_name="Erin")
    assert len(smtp_sink.messages_to("erin@example.test")) == 1  # the confirmation
    tick_and_work(rt)
    welcome = smtp_sink.messages_to("erin@example.test")[-1]
    data = reply_to(welcome, "Thank you, Erin here.", sender="erin@example.test")
    assert send(listener, "erin@example.test", [reply_address(welcome)], data) == {}
    work(rt)
    sign_in(desk)
    before = desk.get("/admin").get_data(as_text=True)
    with rt.database.session() as session:
        reader = session.scalar(select(Reader))
        assert reader is not None
        public_id, reader_id = reader.public_id, reader.id
        reader.pending_first_name = "Erin again"  # typed on the form, awaiting confirmation
        reader.pending_timezone = "Europe/Oslo"
    page = act(desk, public_id, "erase")
    assert "Their data was erased" in page and "erin@example.test" not in page
    with rt.database.session() as session:
        reader = session.get(Reader, reader_id)
        assert reader is not None and reader.erased_at is not None
        assert reader.first_name is None and "erin" not in reader.email
        assert reader.pending_first_name is None and reader.pending_timezone is None
        assert session.scalar(select(func.count(Consent.id))) == 0
        assert session.scalar(select(func.count(InboundMessage.id))) == 0
        kinds = list(session.scalars(select(ReaderEvent.kind).order_by(ReaderEvent.id)))
        assert kinds == ["confirmed", "unsubscribed", "erased"]
        # nothing left anywhere in the database names her
        for table in ("subscribers", "consents", "inbound_messages", "deliveries", "reader_events"):
            rows = session.execute(select(Reader.metadata.tables[table])).all()
            assert "erin" not in repr(rows).lower(), table
    after = desk.get("/admin").get_data(as_text=True)
    signed_up = re.compile(r"Signed up</th>\s*<td>(\d+)")
    assert signed_up.findall(before) == signed_up.findall(after) == ["1"]
    assert "erin@" not in desk.get("/admin/readers?q=erin").get_data(as_text=True).lower()
    assert "Nothing was changed" in act(desk, public_id, "erase")


def test_actions_need_the_form_token_and_a_known_reader_and_action(
    desk: FlaskClient, rt: Runtime
) -> None:
    reader = enrolled(rt, "tess@example.test", timezone="UTC")
    sign_in(desk)
    public_id = _public_id(rt, reader)
    assert desk.post(f"/admin/readers/{public_id}/pause").status_code == 400
    assert desk.get(f"/admin/readers/{public_id}/explode").status_code == 404
    assert desk.get("/admin/readers/nobody/pause").status_code == 404
    assert desk.get(f"/admin/readers/{public_id}/resend").status_code == 400
    with rt.database.session() as session:
        assert session.scalar(select(Enrollment.status)) == EnrollmentStatus.ACTIVE
    # resuming a course that is not paused says why
    assert "Nothing was changed" in act(desk, public_id, "resume")
    # digits that are not 0-9 ("²" is a digit to Python, not to int()) are a plain refusal
    for path in ("/admin/replies?before=²", "/admin/audit?before=²", "/admin/readers?before=²"):
        assert desk.get(path).status_code == 400, path
    assert desk.get("/admin/course/²").status_code == 404


def test_a_reply_is_marked_handled_and_back(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    enrolled(rt, "hal@example.test", timezone="UTC")
    tick_and_work(rt)
    welcome = smtp_sink.messages_to("hal@example.test")[-1]
    data = reply_to(welcome, "A question for you.", sender="hal@example.test")
    assert send(listener, "hal@example.test", [reply_address(welcome)], data) == {}
    work(rt)
    sign_in(desk)
    with rt.database.session() as session:
        reply_id = session.scalar(select(InboundMessage.id))
    path = f"/admin/replies/{reply_id}"
    answer = desk.post(path + "/handled", data={**reply_form(desk, reply_id), "handled": "1"})
    assert answer.status_code == 303
    page = desk.get(path).get_data(as_text=True)
    assert "You marked this handled" in page
    assert "handled" in desk.get("/admin/replies").get_data(as_text=True)
    desk.post(path + "/handled", data={**reply_form(desk, reply_id), "handled": "0"})
    assert "Mark handled" in desk.get(path).get_data(as_text=True)
    # a form without the reply's fingerprint (an old page, a number since reused) changes nothing
    stale = desk.post(path + "/handled", data={"csrf_token": token(desk, path), "reply": "old"})
    assert stale.status_code == 409
    assert "Mark handled" in desk.get(path).get_data(as_text=True)
    assert (
        desk.post(
            "/admin/replies/99999/handled", data={"csrf_token": token(desk, path)}
        ).status_code
        == 404
    )


def test_when_the_queue_is_away_the_desk_says_so_and_nothing_is_sent(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    from redis import Redis

    reader = enrolled(rt, "quinn@example.test", timezone="UTC")
    tick_and_work(rt)
    sign_in(desk)
    public_id = _public_id(rt, reader)
    timeline = desk.get(f"/admin/readers/{public_id}").get_data(as_text=True)
    link = re.search(r"/resend\?delivery=(\d+)", timeline)
    assert link
    working = rt.redis
    rt.redis = Redis.from_url("redis://127.0.0.1:9", socket_connect_timeout=0.5)  # type: ignore[misc]
    try:
        page = act(desk, public_id, "resend", delivery=link.group(1))
        assert "the queue is not answering" in page
        path = "/admin/course/1"
        desk.post(path + "/test", data={"csrf_token": token(desk, path), "to": "l@example.test"})
        assert "the queue is not answering" in desk.get(path).get_data(as_text=True)
        # the actions that need no worker go on: pausing writes only to the database
        assert "Course paused" in act(desk, public_id, "pause")
    finally:
        rt.redis.close()
        rt.redis = working  # type: ignore[misc]
    work(rt)
    assert len(smtp_sink.messages_to("quinn@example.test")) == 1
    assert smtp_sink.messages_to("l@example.test") == []
