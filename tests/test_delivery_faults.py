"""What happens when things go wrong: SMTP refusals, dropped connections, lost Redis,
an unsubscribe mid-flight, two dispatchers at once. Nothing is lost, nothing is sent twice."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from redis import Redis
from sqlalchemy import func, select

from emails.course import default_course
from service.outbox import claims
from service.readers import lifecycle
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Reader,
    ReaderStatus,
    Suppression,
)
from tests.support.harness import enrolled, reader, run_course, tick_and_work, work
from tests.support.smtp import SMTPSink, free_port
from workers import tick
from workers.runtime import Runtime

COURSE = default_course()
STEPS = len(COURSE.steps)


def _step_deliveries(rt: Runtime) -> list[Delivery]:
    with rt.database.session() as session:
        return list(
            session.scalars(
                select(Delivery).where(Delivery.kind == DeliveryKind.STEP).order_by(Delivery.id)
            )
        )


def test_smtp_4xx_is_retried_with_backoff_then_sent(rt: Runtime, smtp_sink: SMTPSink) -> None:
    smtp_sink.handler.data_replies = ["451 4.3.0 try again later"] * 2
    enrolled(rt, "sam@example.test", timezone="America/Los_Angeles")
    start = rt.clock.now()

    tick_and_work(rt)
    first = _step_deliveries(rt)[0]
    assert first.status == DeliveryStatus.RETRY_WAIT
    assert first.next_attempt_at == start + claims.BACKOFF[0]
    assert "451" in (first.last_error or "")

    run_course(rt)
    welcome = _step_deliveries(rt)[0]
    assert welcome.status == DeliveryStatus.SENT and welcome.attempts == 3
    assert len(smtp_sink.messages_to("sam@example.test")) == STEPS


def test_smtp_4xx_gives_up_after_the_limit_and_keeps_the_address(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    smtp_sink.handler.rcpt_replies["sam@example.test"] = "452 4.2.2 mailbox full"
    reader_id = enrolled(rt, "sam@example.test", timezone="America/Los_Angeles")
    run_course(rt)

    (welcome,) = _step_deliveries(rt)
    assert welcome.status == DeliveryStatus.FAILED_PERMANENT
    assert welcome.attempts == claims.MAX_ATTEMPTS
    assert smtp_sink.received == []
    with rt.database.session() as session:
        assert session.scalars(select(Enrollment.status)).one() == EnrollmentStatus.STALLED
        assert session.scalar(select(func.count()).select_from(Suppression)) == 0
    assert reader(rt, reader_id).status == ReaderStatus.ACTIVE


def test_smtp_5xx_fails_at_once_and_suppresses_the_address(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    smtp_sink.handler.rcpt_replies["gone@example.test"] = "550 5.1.1 no such user"
    gone = enrolled(rt, "gone@example.test", timezone="America/Los_Angeles")
    enrolled(rt, "here@example.test", timezone="America/Los_Angeles")
    run_course(rt)

    assert reader(rt, gone).status == ReaderStatus.BOUNCED
    with rt.database.session() as session:
        suppression = session.scalars(select(Suppression)).one()
        assert suppression.email == "gone@example.test" and suppression.reason == "hard_bounce"
        attempts = session.scalars(
            select(Delivery).where(Delivery.reader_id == gone, Delivery.step.is_not(None))
        ).all()
        assert [(d.status, d.attempts) for d in attempts] == [(DeliveryStatus.FAILED_PERMANENT, 1)]
        statuses = dict(session.execute(select(Enrollment.reader_id, Enrollment.status)).all())
        assert statuses[gone] == EnrollmentStatus.CANCELLED
    # one bad address in a batch does not hold back the others on the same connection
    assert len(smtp_sink.messages_to("here@example.test")) == STEPS

    # signing up again later sends nothing to a suppressed address
    with rt.database.session() as session:
        result = lifecycle.sign_up(
            session,
            email="gone@example.test",
            first_name=None,
            timezone="UTC",
            now=rt.clock.now(),
            mail_domain="example.test",
        )
        assert result.queued is None


def test_connection_lost_after_the_final_dot_is_ambiguous_and_not_resent(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    smtp_sink.handler.drop_after_data = 1
    enrolled(rt, "sam@example.test", timezone="America/Los_Angeles")
    run_course(rt)

    rows = _step_deliveries(rt)
    assert rows[0].status == DeliveryStatus.AMBIGUOUS
    assert "after the message was sent" in (rows[0].last_error or "")
    assert [r.status for r in rows[1:]] == [DeliveryStatus.SENT] * (STEPS - 1)
    # the welcome was never re-sent blindly; the course carried on
    subjects = [m["Subject"] for m in smtp_sink.messages_to("sam@example.test")]
    assert subjects == [s.subject for s in COURSE.steps[1:]]


def test_unreachable_smtp_server_means_retry_not_loss(rt: Runtime, smtp_sink: SMTPSink) -> None:
    good_url = rt.settings.SMTP_URL
    rt.settings = replace(rt.settings, SMTP_URL=f"smtp://127.0.0.1:{free_port()}")
    enrolled(rt, "a@example.test", timezone="UTC")
    enrolled(rt, "b@example.test", timezone="UTC")
    tick_and_work(rt)
    assert {d.status for d in _step_deliveries(rt)} == {DeliveryStatus.RETRY_WAIT}

    rt.settings = replace(rt.settings, SMTP_URL=good_url)
    rt.clock.advance(claims.BACKOFF[0])
    tick_and_work(rt)
    assert {d.status for d in _step_deliveries(rt)} == {DeliveryStatus.SENT}
    assert len(smtp_sink.received) == 2


def test_unsubscribe_between_claim_and_send_stops_the_send(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader_id = enrolled(rt, "sam@example.test", timezone="America/Los_Angeles")
    report = tick.run_once(rt)
    assert report.enqueued == 1  # claimed and in Redis
    with rt.database.session() as session:
        sub = session.get(Reader, reader_id)
        assert sub is not None
        lifecycle.mark_unsubscribed(session, sub, now=rt.clock.now(), how="page")
    work(rt)
    run_course(rt)

    assert smtp_sink.received == []
    (welcome,) = _step_deliveries(rt)
    assert welcome.status == DeliveryStatus.CANCELLED


def test_an_unsubscribe_cancels_waiting_retries(rt: Runtime, smtp_sink: SMTPSink) -> None:
    smtp_sink.handler.data_replies = ["421 4.7.0 busy"]
    reader_id = enrolled(rt, "sam@example.test", timezone="UTC")
    tick_and_work(rt)
    assert _step_deliveries(rt)[0].status == DeliveryStatus.RETRY_WAIT
    with rt.database.session() as session:
        sub = session.get(Reader, reader_id)
        assert sub is not None
        lifecycle.mark_unsubscribed(session, sub, now=rt.clock.now(), how="page")
    run_course(rt)
    assert smtp_sink.received == []
    assert _step_deliveries(rt)[0].status == DeliveryStatus.CANCELLED


def test_two_ticks_at_once_claim_each_delivery_once(rt: Runtime, smtp_sink: SMTPSink) -> None:
    for n in range(40):
        enrolled(rt, f"reader{n}@example.test", timezone="UTC")
    barrier = threading.Barrier(2)
    reports: list[tick.TickReport] = []
    errors: list[BaseException] = []

    def one_tick() -> None:
        try:
            barrier.wait()
            reports.append(tick.run_once(rt))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=one_tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sum(r.created for r in reports) == 40
    assert sum(r.enqueued for r in reports) == 40
    work(rt)
    assert sorted(r.rcpt_tos[0] for r in smtp_sink.received) == sorted(
        f"reader{n}@example.test" for n in range(40)
    )


def test_redis_losing_everything_loses_no_email(rt: Runtime, smtp_sink: SMTPSink) -> None:
    enrolled(rt, "sam@example.test", timezone="UTC")
    assert tick.run_once(rt).enqueued == 1
    Redis.from_url(rt.settings.REDIS_URL).flushdb()  # a restart with nothing on disk
    work(rt)
    assert smtp_sink.received == []

    rt.clock.advance(claims.STALE_CLAIM_AFTER - timedelta(seconds=1))
    assert tick.run_once(rt).enqueued == 0  # not stale yet: the job may still be coming
    rt.clock.advance(seconds=2)
    assert tick.run_once(rt).enqueued == 1
    work(rt)
    assert len(smtp_sink.received) == 1


def test_redis_down_at_tick_hands_claims_back(rt: Runtime, smtp_sink: SMTPSink, tmp_path) -> None:
    enrolled(rt, "sam@example.test", timezone="UTC")
    down = Runtime(
        replace(rt.settings, REDIS_URL=f"unix://{tmp_path}/nobody-here.sock"), clock=rt.clock
    )
    report = tick.run_once(down)
    down.database.dispose()
    assert (report.created, report.enqueued, report.released) == (1, 0, 1)
    assert _step_deliveries(rt)[0].status == DeliveryStatus.PENDING

    tick_and_work(rt)  # Redis is back: the very next tick sends it
    assert _step_deliveries(rt)[0].status == DeliveryStatus.SENT
    assert len(smtp_sink.received) == 1


def test_confirmation_goes_from_the_outbox_and_nothing_else_before_confirming(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    with rt.database.session() as session:
        lifecycle.sign_up(
            session,
            email="new@example.test",
            first_name="Ada",
            timezone="UTC",
            now=rt.clock.now(),
            mail_domain=rt.settings.mail_domain,
        )
    run_course(rt)
    (message,) = smtp_sink.messages_to("new@example.test")
    assert message["Subject"] == "Please confirm: Rebuilding Broken Trust"
    assert message["List-Unsubscribe"] is None
    text = message.get_body(("plain",)).get_content()
    assert "http://127.0.0.1:5999/confirm/" in text
    html = message.get_body(("html",)).get_content()
    assert 'href="http://127.0.0.1:5999/confirm/' in html
    with rt.database.session() as session:
        kinds = session.scalars(select(Delivery.kind)).all()
        assert kinds == [DeliveryKind.CONFIRMATION]


def test_a_sent_delivery_is_never_sent_again_by_a_duplicate_job(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    enrolled(rt, "sam@example.test", timezone="UTC")
    tick.run_once(rt)
    (delivery,) = _step_deliveries(rt)
    # the same id enqueued twice (a re-found claim whose first job was only slow)
    rt.queue("coursemail-course").enqueue("workers.jobs.send_batch", [delivery.id])
    work(rt)
    assert len(smtp_sink.received) == 1


def test_after_two_days_without_workers_each_reader_gets_one_email_per_pass_in_order(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    readers = [f"r{n}@example.test" for n in range(4)]
    for n, address in enumerate(readers):
        enrolled(rt, address, timezone=["UTC", "Asia/Tokyo", "America/Los_Angeles", "UTC"][n])
    tick_and_work(rt)  # the welcomes
    rt.clock.advance(timedelta(hours=48))  # every worker and the tick are down for two days
    tick_and_work(rt)  # the first pass after they return, at 17:00 UTC: 02:00 in Tokyo
    for address in readers:
        # one catch-up email each, not two; in Tokyo it waits for the reader's morning
        assert len(smtp_sink.messages_to(address)) == (1 if address == readers[1] else 2)
    with rt.database.session() as session:
        held = session.get(Enrollment, 2)
        assert held is not None and held.next_send_at is not None
        assert held.next_send_at.astimezone(ZoneInfo("Asia/Tokyo")).hour == COURSE.send_hour
    run_course(rt)
    for address in readers:
        subjects = [m["Subject"] for m in smtp_sink.messages_to(address)]
        assert subjects == [step.subject for step in COURSE.steps]  # none skipped, in order
