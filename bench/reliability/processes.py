"""Scenarios 1-3: workers and their processes killed, Redis lost, many processes racing."""

from __future__ import annotations

import os
import random
import signal
import time

from bench.reliability.stack import Row, Stack
from workers.sending import CONNECTIONS

#: Every scenario gives up waiting after this long (a bounded suite).
PATIENCE = 240.0


def _finish(stack: Stack, row: Row, expected: list[str], fault_ended: float) -> Row:
    stack.wait(lambda: stack.settled(expected), PATIENCE)
    return stack.outcome(row, expected, fault_ended)


def kill_workers(database: str, *, horse: bool, rng: random.Random) -> Row:
    """kill -9 five times during 1,000 due sends: of the whole ``coursemail worker`` (its
    pool and every worker process, as when the machine's process dies; a supervisor, here this
    function, starts it again at once, as systemd would), or of one of its worker processes
    (``horse``; the pool starts another)."""
    what = "one worker process" if horse else "the whole worker"
    stack = Stack(database)
    try:
        stack.start("tick")
        stack.start("worker")
        expected = stack.seed(1000)
        kills = doubt_allowed = 0
        while kills < 5 and len(stack.arrivals()) < 950:
            time.sleep(rng.uniform(0.2, 1.2))
            [pool] = stack.running("worker")
            children = stack.children(pool)
            if not children:
                continue
            for pid in children[:1] if horse else [pool.pid, *children]:
                os.kill(pid, signal.SIGKILL)
            kills += 1
            # each worker process killed may leave one email per SMTP connection in doubt
            doubt_allowed += CONNECTIONS * (1 if horse else len(children))
            if not horse:
                pool.wait()
                stack.start("worker")
        fault_ended = time.monotonic()
        row = Row(
            f"kill -9 {what}", f"{kills} kills at random moments", database, 0, 0, 0, 0, 0, None
        )
        row = _finish(stack, row, expected, fault_ended)
        if row.ambiguous > doubt_allowed:
            row.problems.append(f"{row.ambiguous} ambiguous, more than {doubt_allowed} in hand")
        return row
    finally:
        stack.close()


def redis_faults(kind: str) -> Row:
    """Redis stopped for 30 s, flushed, or restarted empty, while 600 emails are going out."""
    stack = Stack("sqlite")
    try:
        stack.start("tick")
        stack.start("worker")
        expected = stack.seed(600)
        stack.wait(lambda: len(stack.arrivals()) >= 150, PATIENCE)
        if kind == "stopped":
            stack.redis.stop()
            time.sleep(30)
            stack.redis.start()
            inflicted = "redis-server stopped for 30 s mid-course"
        elif kind == "flushed":
            stack.redis_client().flushall()
            inflicted = "FLUSHALL mid-course"
        else:
            stack.redis.stop()
            stack.redis.start()
            inflicted = "redis-server restarted empty mid-course"
        fault_ended = time.monotonic()
        row = Row(f"Redis {kind}", inflicted, "sqlite", 0, 0, 0, 0, 0, None)
        row = _finish(stack, row, expected, fault_ended)
        if not stack.running("worker") or not stack.running("tick"):
            row.problems.append("a process exited")
        return row
    finally:
        stack.close()


def racing(database: str) -> Row:
    """Two ticks and four workers on 5,000 due emails: each claimed and sent once."""
    stack = Stack(database)
    try:
        expected = stack.seed(5000)
        for kind in ("tick", "tick", "worker", "worker", "worker", "worker"):
            stack.start(kind)
        started = time.monotonic()
        row = Row("2 ticks, 4 workers racing", "5,000 due at once", database, 0, 0, 0, 0, 0, None)
        row = _finish(stack, row, expected, started)
        logs = stack.logs()
        for trouble in ("IntegrityError", "database is locked", "Traceback"):
            if trouble in logs:
                row.problems.append(f"'{trouble}' in the logs")
        row.notes.append(f"all sent {row.delay or 0:.0f} s after the start")
        row.delay = None  # no fault here: the figure is throughput, in the notes
        return row
    finally:
        stack.close()
