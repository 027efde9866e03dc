"""A real ``coursemail worker`` process, killed with SIGKILL while it holds a batch."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from service.clock import ManualClock
from service.outbox.claims import STALE_CLAIM_AFTER
from service.store.models import Delivery, DeliveryKind, DeliveryStatus
from tests.support.env import process_env
from tests.support.harness import enrolled, work
from tests.support.procs import kill_all_with, processes_with
from tests.support.smtp import SMTPSink
from tests.support.waiting import wait_for
from workers import tick
from workers.runtime import Runtime
from workers.sending import CONNECTIONS


@pytest.fixture
def clock() -> ManualClock:
    # the worker subprocess runs on the real clock: start the test's clock there too
    return ManualClock(datetime.now(UTC))


def _in_hand(rt: Runtime) -> int:
    with rt.database.session() as session:
        return len(
            session.scalars(
                select(Delivery.id).where(Delivery.status == DeliveryStatus.SENDING)
            ).all()
        )


@pytest.mark.slow
def test_worker_killed_mid_batch_sends_the_rest_and_leaves_the_one_in_hand_ambiguous(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    for n in range(3):
        enrolled(rt, f"reader{n}@example.test", timezone="UTC")
    assert tick.run_once(rt).enqueued == 3  # one batch job in Redis

    smtp_sink.handler.gate = threading.Event()  # the server stalls at the first RCPT TO
    worker = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "worker", "--burst"],
        env=process_env(rt.settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker = f"COURSEMAIL_INSTANCE={rt.settings.instance_path}"
    try:
        assert smtp_sink.handler.in_rcpt.wait(30), "the worker never started sending"
        # each of the job's connections takes its first email in hand and stalls at RCPT
        wait_for(lambda: _in_hand(rt) == min(CONNECTIONS, 3), 30, "every connection sending")
        # the machine dies: the worker (and any work-horse, which leaves the group by setsid)
        kill_all_with(marker)
        worker.wait(10)
    finally:
        kill_all_with(marker)
    assert processes_with(marker) == []
    smtp_sink.handler.gate.set()
    assert smtp_sink.received == []

    with rt.database.session() as session:
        statuses = sorted(
            session.scalars(select(Delivery.status).where(Delivery.kind == DeliveryKind.STEP))
        )
    # each of the job's connections had taken its first email in hand when the machine died
    in_hand = min(CONNECTIONS, 3)
    assert statuses == sorted(
        [DeliveryStatus.SENDING] * in_hand + [DeliveryStatus.CLAIMED] * (3 - in_hand)
    )

    # RQ parks the dead job; the tick finds the stale claims in the database instead. The
    # killed worker stamped its claim with the real clock: count staleness from the newest.
    with rt.database.session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.status, Delivery.claimed_at).where(
                Delivery.kind == DeliveryKind.STEP
            )
        ).all()
    oldest = min(claimed_at for _, _, claimed_at in rows)
    newest = max(claimed_at for _, _, claimed_at in rows)
    rt.clock.set(oldest + STALE_CLAIM_AFTER - timedelta(seconds=1))
    assert tick.run_once(rt).enqueued == 0  # not stale yet: the worker might still be alive
    rt.clock.set(newest + STALE_CLAIM_AFTER + timedelta(seconds=1))
    report = tick.run_once(rt)
    # the ones it had not touched are sent again; those it was handing to the server (the
    # server may have them) are recorded ambiguous, not resent blindly: never twice
    assert report.enqueued == 3 - in_hand, f"re-found {report.enqueued} of {rows}"
    work(rt)
    held_ids = [d for d, status, _ in rows if status == DeliveryStatus.SENDING]
    with rt.database.session() as session:
        for held_id in held_ids:
            held = session.get(Delivery, held_id)
            assert held is not None and held.status == DeliveryStatus.AMBIGUOUS
            assert "its worker stopped" in (held.last_error or "")
        others = sorted(
            d.reader.email
            for d in session.scalars(select(Delivery).where(Delivery.id.not_in(held_ids)))
            if d.kind == DeliveryKind.STEP
        )
    assert sorted(r.rcpt_tos[0] for r in smtp_sink.received) == others
