"""``coursemail worker`` runs WORKERS warm worker processes, starts again any that dies, and
stops them all when asked; the batches they send are the same emails, each once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rq import Worker

from tests.support.env import process_env
from tests.support.harness import enrolled
from tests.support.procs import kill_all_with
from tests.support.smtp import SMTPSink
from tests.support.waiting import wait_for
from workers import tick
from workers.runtime import Runtime


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.slow
def test_the_pool_keeps_its_workers_running_and_stops_them_when_asked(
    rt: Runtime, smtp_sink: SMTPSink, tmp_path: Path
) -> None:
    env = process_env(rt.settings, WORKERS="2")
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        pool = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: len(Worker.all(connection=rt.redis)) == 2, 60, "two workers")
        first = _children(pool.pid)
        assert len(first) == 2

        for n in range(120):
            enrolled(rt, f"reader{n}@example.test", timezone="UTC")
        assert tick.run_once(rt).enqueued == 120
        wait_for(lambda: len(smtp_sink.received) == 120, 60, "every email sent")
        assert sorted(r.rcpt_tos[0] for r in smtp_sink.received) == sorted(
            f"reader{n}@example.test" for n in range(120)
        )  # each once, though two processes and four connections shared the batches

        os.kill(first[0], signal.SIGKILL)  # one worker dies (out of memory, say)
        wait_for(
            lambda: len(_children(pool.pid)) == 2 and first[0] not in _children(pool.pid),
            30,
            "a new worker in its place",
        )
        assert b"starting another" in log.read_bytes()
        assert pool.poll() is None

        pool.send_signal(signal.SIGTERM)
        assert pool.wait(40) == 0, log.read_text()
        assert all(not Path(f"/proc/{pid}").exists() for pid in _children(pool.pid))
    finally:
        if pool.poll() is None:
            kill_all_with(f"COURSEMAIL_INSTANCE={rt.settings.instance_path}")


@pytest.mark.slow
def test_no_worker_outlives_its_pool_even_a_killed_one(rt: Runtime, tmp_path: Path) -> None:
    env = process_env(rt.settings, WORKERS="2")
    pool = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(Worker.all(connection=rt.redis)) == 2, 60, "two workers")
        children = _children(pool.pid)
        pool.kill()  # SIGKILL: the pool cannot pass anything on itself
        pool.wait(10)
        wait_for(lambda: not any(_alive(pid) for pid in children), 30, "its workers to stop too")
    finally:
        kill_all_with(f"COURSEMAIL_INSTANCE={rt.settings.instance_path}")


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
