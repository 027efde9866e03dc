"""The 08:00 burst, end to end: due readers in the database, the Procfile's tick and worker as
subprocesses, real rendering, an aiosmtpd sink that only counts. Beside it, in the same run:

- the wire: plain ``smtplib`` pushing a course email's bytes over two reused connections (two
  processes) into the same kind of sink, the most any sender could do here;
- the naive design: one RQ job per email on RQ's forking worker, a new SMTP connection per
  email (two worker processes), with our own claim, render and record code.

The worker's memory is read from /proc after the first 1,000 emails and after the last.
"""

from __future__ import annotations

import multiprocessing
import smtplib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rq import Queue, Worker

from bench.common import progress
from bench.profile import Profile, record
from bench.reliability.stack import Stack
from bench.stats import Figure
from emails.course import default_course
from emails.message import Envelope, build_message, to_bytes
from emails.render import Contact, Renderer
from service.outbox import claims
from tests.support.smtp import Received, SinkHandler, SMTPSink
from workers.runtime import Runtime

NAIVE_QUEUE = "bench-naive"


class CountingHandler(SinkHandler):
    """Accepts everything and keeps only who it was for and when (not the bytes)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), b"", None))
        return "250 Message accepted"


def sample_bytes() -> bytes:
    """A course email of the size readers get (step 2, about 11 KB)."""
    contact = Contact("Lee Miller", "lee@example.test", "(310) 614-0323", "1 Main St")
    rendered = Renderer(default_course(), contact).render_step(
        2, first_name="Sam", unsubscribe_url="https://x.example.test/u/token"
    )
    envelope = Envelope(
        "Lee Miller",
        "course@example.test",
        "sam@example.test",
        "Sam",
        ("Lee Miller", "r@example.test"),
        "<i@example.test>",
        datetime.now(UTC),
        ("https://x.example.test/u/token", None),
        ("Course", "c.example.test"),
    )
    return to_bytes(build_message(rendered, envelope))


def _push(port: int, data: bytes, count: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        for i in range(count):
            client.sendmail("course@example.test", [f"w{i}@example.test"], data)


def wire(count: int, *, reps: int, connections: int = 2) -> Figure:
    """``count`` messages over ``connections`` reused smtplib connections, one process each."""
    handler = CountingHandler()
    sink = SMTPSink(handler=handler).start()
    data = sample_bytes()
    rates = []
    try:
        context = multiprocessing.get_context("fork")
        for _ in range(reps):
            handler.received.clear()
            start = time.monotonic()
            senders = [
                context.Process(target=_push, args=(sink.port, data, count // connections))
                for _ in range(connections)
            ]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join()
            rates.append(len(handler.received) / (handler.received[-1].at - start))
    finally:
        sink.stop()
    return Figure.of(rates)


@dataclass
class Burst:
    rates: Figure
    sent: int
    #: each worker process's resident memory (KiB) after the first 1,000 emails, and at the end
    rss_first: list[int] = field(default_factory=list)
    rss_end: list[int] = field(default_factory=list)
    profile: Profile | None = None


def ours(count: int, *, reps: int, workers: int = 2, database: str = "sqlite") -> Burst:
    """``reps`` bursts of ``count`` welcome emails due at once, one after the other, sent by
    the Procfile's tick and worker (``WORKERS`` processes) into one stack."""
    handler = CountingHandler()
    stack = Stack(database, sink_handler=handler, WORKERS=str(workers))
    try:
        stack.start("tick")
        pool = stack.start("worker")
        wait_for_workers(stack, workers)
        children = stack.worker_pids(pool)
        burst = Burst(Figure.of([0.0]), 0)
        rates = []
        for rep in range(reps):
            stack.seed(count)
            start = time.monotonic()
            spy = record(children[0], seconds=8) if rep == 1 else None
            if rep == 0:
                until(stack, 1000)
                burst.rss_first = [_rss(pid) for pid in children]
            last = until(stack, (rep + 1) * count)
            rates.append(count / (last - start))
            if spy is not None:
                burst.profile = spy.result()
            progress(f"  burst {rep + 1}/{reps}: {rates[-1]:,.0f}/s")
        burst.rates, burst.sent = Figure.of(rates), reps * count
        burst.rss_end = [_rss(pid) for pid in children]
        return burst
    finally:
        stack.close()


def naive(count: int, *, reps: int, workers: int = 2) -> Figure:
    """One RQ job per email, forking workers, a new SMTP connection per email."""
    stack = Stack("sqlite", sink_handler=CountingHandler())
    rt = Runtime(stack.settings)
    try:
        for _ in range(workers):
            command = [sys.executable, "-m", "bench.naive_worker", NAIVE_QUEUE]
            log = (stack.folder / "naive.log").open("ab")
            stack.processes.append(
                ("naive", subprocess.Popen(command, env=stack.env, stdout=log, stderr=log))
            )
        wait_for_workers(stack, workers)
        rates = []
        for rep in range(reps):
            stack.seed(count)
            start = time.monotonic()
            _enqueue_one_per_email(rt, count)
            rates.append(count / (until(stack, (rep + 1) * count) - start))
        return Figure.of(rates)
    finally:
        rt.database.dispose()
        stack.close()


def _enqueue_one_per_email(rt: Runtime, count: int) -> None:
    now = rt.clock.now()
    with rt.database.session() as session:
        claims.create_due_step_deliveries(
            session, now=now, mail_domain="example.test", limit=count, postgres=False
        )
    with rt.database.session() as session:
        claimed = claims.claim_ready(session, now=now, limit=count)
    Queue(NAIVE_QUEUE, connection=rt.redis).enqueue_many(
        [
            Queue.prepare_data("bench.naive_worker.send_carefully", args=(i,), result_ttl=60)
            for i in claimed.steps
        ]
    )


def wait_for_workers(stack: Stack, count: int, timeout: float = 60) -> None:
    redis = stack.redis_client()
    deadline = time.monotonic() + timeout
    while len(Worker.all(connection=redis)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers did not start:\n{stack.logs()[-3000:]}")
        time.sleep(0.1)
    redis.close()


def until(stack: Stack, total: int, stall: float = 60) -> float:
    """Wait until the sink holds ``total`` emails; the arrival time of the last one. Gives up
    when none has arrived for ``stall`` seconds."""
    received = stack.sink_handler.received
    seen, last_change = 0, time.monotonic()
    while (got := len(received)) < total:
        if got != seen:
            seen, last_change = got, time.monotonic()
        elif time.monotonic() - last_change > stall:
            raise RuntimeError(f"only {got} of {total} arrived:\n{stack.logs()[-3000:]}")
        time.sleep(0.05)
    return received[total - 1].at


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for name in sys.argv[2:] or ["wire", "ours", "naive"]:
        progress(f"{name}: {n} emails")
        if name == "ours":
            result = ours(n, reps=2)
            print(f"ours: {result.rates.show()}", result.profile, flush=True)
        else:
            print(f"{name}: {(wire if name == 'wire' else naive)(n, reps=2).show()}", flush=True)
