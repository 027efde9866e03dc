"""Redis may vanish for minutes: the real ``coursemail worker`` process waits and carries on,
and the batch it was sending when Redis died is recorded in the database."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.clock import ManualClock
from service.store.models import Delivery, DeliveryKind, DeliveryStatus
from tests.support.env import process_env
from tests.support.harness import enrolled
from tests.support.procs import kill_all_with
from tests.support.smtp import SMTPSink
from tests.support.waiting import wait_for
from workers import tick
from workers.redis_server import EmbeddedRedis
from workers.runtime import Runtime


@pytest.fixture
def clock() -> ManualClock:
    # the worker subprocess runs on the real clock: start the test's clock there too
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    """A redis-server this test may stop and start again on the same socket."""
    folder = Path(tempfile.mkdtemp(prefix="cm-out-"))  # unix socket paths must stay short
    server = EmbeddedRedis(folder).start()
    yield server
    server.stop()


def _sent(rt: Runtime) -> int:
    with rt.database.session() as session:
        return int(
            session.scalar(
                select(func.count(Delivery.id)).where(
                    Delivery.kind == DeliveryKind.STEP, Delivery.status == DeliveryStatus.SENT
                )
            )
            or 0
        )


@pytest.mark.slow
def test_the_worker_outlives_a_redis_outage_in_the_middle_of_a_batch(
    rt: Runtime, smtp_sink: SMTPSink, own_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    rt.settings = replace(rt.settings, REDIS_URL=own_redis.url)
    rt.__dict__.pop("redis", None)  # the fixture's runtime, now on this test's own Redis
    for n in range(3):
        enrolled(rt, f"reader{n}@example.test", timezone="UTC")
    smtp_sink.handler.gate = threading.Event()  # the server stalls at the first RCPT TO
    log = tmp_path / "worker.log"
    env = process_env(rt.settings)
    marker = f"COURSEMAIL_INSTANCE={rt.settings.instance_path}"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        assert tick.run_once(rt).enqueued == 3
        assert smtp_sink.handler.in_rcpt.wait(30), "the worker never started sending"
        own_redis.stop()  # Redis goes away while the batch is on the wire
        smtp_sink.handler.gate.set()
        wait_for(lambda: _sent(rt) == 3, 30, "the batch in flight to be recorded")
        wait_for(lambda: b"Redis is not answering" in log.read_bytes(), 60, "the worker to wait")
        assert worker.poll() is None, log.read_text()

        own_redis.start()  # back, empty: it kept nothing
        enrolled(rt, "after@example.test", timezone="UTC")
        assert tick.run_once(rt).enqueued == 1
        wait_for(lambda: _sent(rt) == 4, 60, "the worker to take work again")
        assert worker.poll() is None
        assert len(smtp_sink.received) == 4  # nothing sent twice

        worker.send_signal(signal.SIGTERM)  # and it still stops when asked
        assert worker.wait(30) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            kill_all_with(marker)
