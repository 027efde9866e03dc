"""A real ``coursemail worker`` process, killed with SIGKILL while it holds a batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from service.clock import ManualClock
from service.deliveries import STALE_CLAIM_AFTER
from service.models import Delivery, DeliveryKind, DeliveryStatus
from tests.support.harness import enrolled, work
from tests.support.smtp import SMTPSink
from workers import dispatch
from workers.runtime import Runtime


@pytest.fixture
def clock() -> ManualClock:
    # the worker subprocess runs on the real clock: start the test's clock there too
    return ManualClock(datetime.now(UTC))


def _worker_env(rt: Runtime) -> dict[str, str]:
    s = rt.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSEMAIL", "DATABASE"))}
    env.update(
        COURSEMAIL_ENV="test",
        COURSEMAIL_INSTANCE=str(s.instance_path),
        DATABASE_URL=s.DATABASE_URL,
        REDIS_URL=s.REDIS_URL,
        SMTP_URL=s.SMTP_URL,
        SECRET_KEY=s.SECRET_KEY,
        THERAPIST_EMAIL=s.THERAPIST_EMAIL,
        POSTAL_ADDRESS=s.POSTAL_ADDRESS,
        PUBLIC_URL=s.PUBLIC_URL,
        REPLY_DOMAIN=s.REPLY_DOMAIN,
        MAIL_FROM=s.MAIL_FROM,
    )
    return env


@pytest.mark.slow
def test_worker_killed_mid_batch_loses_nothing(rt: Runtime, smtp_sink: SMTPSink) -> None:
    for n in range(3):
        enrolled(rt, f"reader{n}@example.test", timezone="UTC")
    assert dispatch.tick(rt).enqueued == 3  # one batch job in Redis

    smtp_sink.handler.gate = threading.Event()  # the server stalls at the first RCPT TO
    worker = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "worker", "--burst"],
        env=_worker_env(rt),
        start_new_session=True,  # its own group: the kill reaches RQ's work-horse too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert smtp_sink.handler.in_rcpt.wait(30), "the worker never started sending"
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    smtp_sink.handler.gate.set()
    assert smtp_sink.received == []

    with rt.database.session() as session:
        statuses = sorted(
            session.scalars(select(Delivery.status).where(Delivery.kind == DeliveryKind.STEP))
        )
    assert statuses == sorted([DeliveryStatus.SENDING] + [DeliveryStatus.CLAIMED] * 2)

    # RQ parks the dead job; the tick finds the stale claims in the database instead
    rt.clock.advance(STALE_CLAIM_AFTER)
    rt.clock.advance(seconds=5)
    assert dispatch.tick(rt).enqueued == 3
    work(rt)
    assert sorted(r.rcpt_tos[0] for r in smtp_sink.received) == [
        f"reader{n}@example.test" for n in range(3)
    ]
