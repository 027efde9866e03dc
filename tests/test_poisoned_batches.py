"""One bad record never holds up anyone else: a failure is contained to its delivery (or
its reply), ends in a terminal state with its reason, and the batch goes on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select

from emails.course import default_course
from service.outbox import claims
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
)
from tests.support.harness import enrolled, tick_and_work
from tests.support.smtp import SMTPSink
from workers import tick
from workers.runtime import Runtime

WELCOME = default_course().steps[0].subject


def _steps(rt: Runtime) -> dict[int, Delivery]:
    with rt.database.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.kind == DeliveryKind.STEP))
        return {row.reader_id: row for row in rows}


def test_a_poisoned_batch_delivers_every_other_member_on_the_first_pass(
    rt: Runtime, smtp_sink: SMTPSink, caplog: pytest.LogCaptureFixture
) -> None:
    readers = [enrolled(rt, f"reader{i}@example.test", timezone="UTC") for i in range(5)]
    poisoned = enrolled(rt, "poisoned@example.test", timezone="UTC")
    with rt.database.session() as session:
        # a course folder renamed after people enrolled: this one email cannot be composed
        enrollment = session.scalars(
            select(Enrollment).where(Enrollment.reader_id == poisoned)
        ).one()
        enrollment.course = "a-course-that-was-removed"

    report = tick_and_work(rt)

    assert report.jobs == 1  # all six shared one batch
    for i in range(5):
        [message] = smtp_sink.messages_to(f"reader{i}@example.test")
        assert message["Subject"] == WELCOME
    rows = _steps(rt)
    assert {rows[r].status for r in readers} == {DeliveryStatus.SENT}
    bad = rows[poisoned]
    assert bad.status == DeliveryStatus.FAILED_PERMANENT
    assert (bad.last_error or "").startswith("could not build the message:")
    assert "a-course-that-was-removed" in (bad.last_error or "")
    assert f"item {bad.id} failed unexpectedly" in caplog.text
    with rt.database.session() as session:
        status = session.scalar(select(Enrollment.status).where(Enrollment.reader_id == poisoned))
    assert status == EnrollmentStatus.STALLED
    # and it is not taken again
    rt.clock.advance(claims.STALE_CLAIM_AFTER + timedelta(minutes=1))
    assert tick.run_once(rt).enqueued == 0


def test_a_delivery_whose_worker_dies_every_time_is_given_up_at_the_limit(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader = enrolled(rt, "sam@example.test", timezone="UTC")
    for attempt in range(1, claims.MAX_ATTEMPTS + 1):
        report = tick.run_once(rt)
        assert report.enqueued == 1, f"attempt {attempt} was not taken"
        Redis.from_url(rt.settings.REDIS_URL).flushdb()  # the job dies with its worker
        assert _steps(rt)[reader].attempts == attempt  # counted as it was taken
        rt.clock.advance(claims.STALE_CLAIM_AFTER + timedelta(seconds=1))
    assert tick.run_once(rt).enqueued == 0
    row = _steps(rt)[reader]
    assert row.status == DeliveryStatus.FAILED_PERMANENT
    assert row.attempts == claims.MAX_ATTEMPTS
    assert "without an outcome" in (row.last_error or "")
    assert smtp_sink.received == []


@pytest.mark.parametrize(
    "away", ["sqlite:////nonexistent/folder/coursemail.db", "postgresql://nobody@127.0.0.1:1/x"]
)
def test_a_database_that_is_away_stops_the_batch_without_blaming_its_items(
    rt: Runtime, away: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The database gone (restarting, unreachable, its disk full) is not the item's fault:
    recording a failure against it would end an email that is only waiting. The batch stops
    with one log line and the rest is left claimed, for the tick to take again."""
    from sqlalchemy import create_engine, text

    from workers.batches import over_one_connection

    handled: list[int] = []
    blamed: list[int] = []

    def handle(_rt: Runtime, _transport: object, one_id: int) -> str:
        if one_id == 2:
            with create_engine(away).connect() as conn:  # a real driver's refusal
                conn.execute(text("SELECT 1"))
        handled.append(one_id)
        return "sent"

    def blame(_rt: Runtime, one_id: int, _error: Exception) -> str:
        blamed.append(one_id)
        return "failed"

    with caplog.at_level("ERROR", logger="coursemail.batch"):
        outcomes = over_one_connection(
            rt,
            [1, 2, 3, 4],
            handle,  # type: ignore[arg-type]
            what="batch",
            on_error=blame,
            beat=claims.refresh_claims,
        )
    assert outcomes == {"sent": 1, "database_away": 3}
    assert handled == [1] and blamed == []
    [line] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "the database is away (OperationalError" in line.getMessage()
    assert line.exc_info is None  # one line, not a traceback
