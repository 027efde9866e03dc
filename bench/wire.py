"""The 08:00 burst, end to end: due readers in the database, the Procfile's tick and worker as
subprocesses, real rendering, an aiosmtpd sink that only counts. Beside it, in the same run:

- the wire: plain ``smtplib`` pushing a course email's bytes over two reused connections (two
  processes) into the same kind of sink, the most any sender could do here;
- the naive design: one RQ job per email on RQ's forking worker, a new SMTP connection per
  email (two worker processes), with our own claim, render and record code.
"""

from __future__ import annotations

import multiprocessing
import smtplib
import subprocess
import sys
import time
from dataclasses import dataclass

from rq import Queue

from bench.common import progress
from bench.reliability.stack import Stack
from emails.course import default_course
from emails.message import Envelope, build_message, to_bytes
from emails.render import Contact, Renderer
from service import deliveries
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

NAIVE_QUEUE = "bench-naive"


@dataclass(frozen=True)
class Burst:
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def sample_bytes() -> bytes:
    """A course email of the size readers get (step 2, about 11 KB)."""
    contact = Contact("Lee Miller", "lee@example.test", "(310) 614-0323", "1 Main St")
    rendered = Renderer(default_course(), contact).render_step(
        2, first_name="Sam", unsubscribe_url="https://x.example.test/u/token"
    )
    envelope = Envelope(
        "Lee Miller", "course@example.test", "sam@example.test", "Sam",
        ("Lee Miller", "r@example.test"), "<i@example.test>", _now(),
        ("https://x.example.test/u/token", None), ("Course", "c.example.test"),
    )  # fmt: skip
    return to_bytes(build_message(rendered, envelope))


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _push(port: int, data: bytes, count: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        for i in range(count):
            client.sendmail("course@example.test", [f"w{i}@example.test"], data)


def wire(count: int, *, connections: int = 2) -> Burst:
    """``count`` messages over ``connections`` reused smtplib connections, one process each."""
    sink = SMTPSink().start()
    data = sample_bytes()
    try:
        context = multiprocessing.get_context("fork")
        start = time.monotonic()
        senders = [
            context.Process(target=_push, args=(sink.port, data, count // connections))
            for _ in range(connections)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        last = max(r.at for r in sink.received)
        return Burst(len(sink.received), last - start)
    finally:
        sink.stop()


def ours(count: int, *, workers: int = 2, database: str = "sqlite") -> Burst:
    """``count`` welcome emails due at once, sent by the Procfile's tick and workers."""
    stack = Stack(database, WORKERS=str(workers))
    try:
        stack.start("tick")
        stack.start("worker")
        _wait_for_workers(stack, workers)
        expected = stack.seed(count)
        start = time.monotonic()
        return _until_all(stack, expected, start)
    finally:
        stack.close()


def naive(count: int, *, workers: int = 2) -> Burst:
    """One RQ job per email, forking workers, a new SMTP connection per email."""
    stack = Stack("sqlite")
    try:
        for _ in range(workers):
            command = [sys.executable, "-m", "bench.naive_worker", NAIVE_QUEUE]
            log = (stack.folder / "naive.log").open("ab")
            stack.processes.append(
                ("naive", subprocess.Popen(command, env=stack.env, stdout=log, stderr=log))
            )
        _wait_for_workers(stack, workers)
        expected = stack.seed(count)
        start = time.monotonic()
        rt = Runtime(stack.settings)
        try:
            with rt.database.session() as session:
                deliveries.create_due_step_deliveries(
                    session, now=rt.clock.now(), mail_domain="example.test", limit=count,
                    postgres=False,
                )  # fmt: skip
            with rt.database.session() as session:
                claimed = deliveries.claim_ready(session, now=rt.clock.now(), limit=count)
            queue = Queue(NAIVE_QUEUE, connection=rt.redis)
            queue.enqueue_many(
                [
                    Queue.prepare_data("bench.naive_worker.send_one", args=(i,), result_ttl=60)
                    for i in claimed.steps
                ]
            )
        finally:
            rt.database.dispose()
        return _until_all(stack, expected, start)
    finally:
        stack.close()


def _wait_for_workers(stack: Stack, count: int, timeout: float = 60) -> None:
    from rq import Worker

    redis = stack.redis_client()
    deadline = time.monotonic() + timeout
    while len(Worker.all(connection=redis)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers did not start:\n{stack.logs()[-3000:]}")
        time.sleep(0.1)
    redis.close()


def _until_all(stack: Stack, expected: list[str], start: float, stall: float = 60) -> Burst:
    """Wait for every email; give up when none has arrived for ``stall`` seconds."""
    seen, last_change = 0, time.monotonic()
    while (got := len(stack.sink_handler.received)) < len(expected):
        if got != seen:
            seen, last_change = got, time.monotonic()
        elif time.monotonic() - last_change > stall:
            raise RuntimeError(f"only {got} of {len(expected)} arrived:\n{stack.logs()[-3000:]}")
        time.sleep(0.05)
    last = max(r.at for r in stack.sink_handler.received)
    return Burst(len(expected), last - start)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    which = sys.argv[2:] or ["wire", "ours", "naive"]
    for name in which:
        progress(f"{name}: {n} emails")
        burst = {"wire": wire, "ours": ours, "naive": naive}[name](n)
        print(f"{name}: {burst.count} in {burst.seconds:.2f}s = {burst.rate:,.0f}/s", flush=True)
