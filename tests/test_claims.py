"""Claims and their heartbeat: lost work is retaken within CLAIM_TIMEOUT, and work a live job
still holds is never taken from it, however slow it is."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from service.store.models import Delivery, DeliveryKind, DeliveryStatus
from tests.support.harness import enrolled, tick_and_work, work
from tests.support.smtp import SMTPSink
from tests.support.waiting import wait_for
from workers import sending, tick
from workers.runtime import Runtime


def _claims(rt: Runtime) -> list[tuple[DeliveryStatus, object]]:
    with rt.database.session() as session:
        return [
            (row.status, row.claimed_at)
            for row in session.scalars(
                select(Delivery).where(Delivery.kind == DeliveryKind.STEP).order_by(Delivery.id)
            )
        ]


def test_work_lost_with_redis_is_retaken_after_the_claim_timeout(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    rt.settings = replace(rt.settings, CLAIM_TIMEOUT=30)
    enrolled(rt, "sam@example.test", timezone="UTC")
    assert tick.run_once(rt).enqueued == 1
    rt.redis.flushdb()  # Redis restarted empty: the job is gone
    rt.clock.advance(timedelta(seconds=29))
    assert tick.run_once(rt).enqueued == 0  # not yet: a live job might still hold it
    rt.clock.advance(timedelta(seconds=2))
    assert tick.run_once(rt).enqueued == 1  # 31 s after the claim, it is on its way again


def test_a_slow_live_batch_keeps_its_claims_with_a_heartbeat(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    rt.settings = replace(rt.settings, CLAIM_TIMEOUT=10)  # a beat every 3.3 s
    ids = [enrolled(rt, f"reader{n}@example.test", timezone="UTC") for n in range(3)]
    assert tick.run_once(rt).enqueued == 3
    rt.redis.flushdb()  # this test runs the batch itself, below
    with rt.database.session() as session:
        delivery_ids = list(session.scalars(select(Delivery.id).where(Delivery.step == 0)))
    smtp_sink.handler.gate = threading.Event()  # the relay stalls at the first RCPT TO
    job = threading.Thread(target=sending.send_batch, args=(rt, delivery_ids))
    job.start()
    try:
        assert smtp_sink.handler.in_rcpt.wait(10)
        claimed_at = rt.clock.now()
        rt.clock.advance(timedelta(minutes=5))  # long past CLAIM_TIMEOUT
        wait_for(
            lambda: all(at is not None and at > claimed_at for _, at in _claims(rt)),
            15,
            "the heartbeat to refresh every claim of the batch",
        )
        assert tick.run_once(rt).enqueued == 0  # nothing is taken from the live job
    finally:
        smtp_sink.handler.gate.set()
        job.join(30)
    assert [status for status, _ in _claims(rt)] == [DeliveryStatus.SENT] * 3
    assert sorted(r.rcpt_tos[0] for r in smtp_sink.received) == [
        f"reader{n}@example.test" for n in range(len(ids))
    ]


def test_a_step_that_already_has_its_email_is_skipped_not_the_whole_pass(
    rt: Runtime, smtp_sink: SMTPSink, caplog: pytest.LogCaptureFixture
) -> None:
    from service.store.models import Enrollment

    ids = [enrolled(rt, f"reader{n}@example.test", timezone="UTC") for n in range(3)]
    tick_and_work(rt)  # three welcomes
    with rt.database.session() as session:  # an edited database: reader 0 due the welcome again
        enrollment = session.scalars(select(Enrollment).where(Enrollment.reader_id == ids[0])).one()
        enrollment.next_step, enrollment.next_send_at = 0, rt.clock.now()
    rt.clock.advance(timedelta(days=3))  # and the others' next email is due
    with caplog.at_level("WARNING", logger="coursemail.tick"):
        report = tick.run_once(rt)
    assert report.created == 2  # the other two go on
    assert "already has its email" in caplog.text
    work(rt)
    welcomes = [r for r in smtp_sink.received if r.rcpt_tos == ["reader0@example.test"]]
    assert len(welcomes) == 1  # never twice
    assert len(smtp_sink.received) == 5
