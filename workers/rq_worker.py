"""The ``coursemail worker`` process: RQ's worker, kept alive through Redis outages.

RQ 3's ``Worker.work`` ends when Redis vanishes while a job runs ("found an unhandled
exception, quitting"), and its teardown then raises, since it needs Redis too; under honcho
one exiting process stops every other one, so a Redis blip took the whole site down. Here the
worker waits for Redis (one log line per try) and starts working again, and leaves only when
it is asked to (SIGTERM, SIGINT) or, in burst mode, when the queues are empty. A job in
flight records what it sent in the database, which does not need Redis.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from redis.exceptions import RedisError
from rq import SimpleWorker

from emails.course import default_course
from service.queues import QUEUES
from workers.runtime import Runtime

log = logging.getLogger("coursemail.worker")

#: Seconds between two tries to reach Redis while it is away.
REDIS_RETRY_INTERVAL = 5.0


class _Worker(SimpleWorker):
    """RQ's non-forking worker, remembering whether someone asked it to stop.

    It runs each job in its own process, already warm (imports done, templates compiled),
    instead of forking a work-horse per job that imports and compiles everything again. The
    trade-off: a job that kills the process (out of memory, a crash in C) takes the worker
    with it. Nothing is lost: the job's claims stop beating and the tick takes them back after
    ``CLAIM_TIMEOUT``, and ``coursemail worker`` starts the process again (``workers.pool``).
    """

    stop_asked = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_asked = True
        super().request_stop(signum, frame)


def run(rt: Runtime, *, burst: bool = False, retry_interval: float = REDIS_RETRY_INTERVAL) -> None:
    stop = threading.Event()
    warm(rt)
    while True:
        _stop_on_signals(stop)
        if not wait_for_redis(rt, stop, interval=retry_interval):
            return
        worker = _Worker([rt.queue(name) for name in QUEUES], connection=rt.redis)
        try:
            worker.work(burst=burst, logging_level="INFO")
        except RedisError as error:
            log.warning("lost Redis while working (%s)", error)
        if burst or worker.stop_asked or stop.is_set():
            return
        log.warning("the worker stopped without being asked to; starting again once Redis answers")


def warm(rt: Runtime) -> None:
    """Import the jobs and compile every course template before the first job arrives."""
    from workers import jobs  # noqa: F401 - imported now, not inside the first job

    course = default_course()
    renderer = rt.renderer(course)
    for index in range(len(course.steps)):
        renderer.render_step(index, first_name="Warm", unsubscribe_url="https://warm.invalid/")
    renderer.render_confirmation(first_name="Warm", confirm_url="https://warm.invalid/")


def wait_for_redis(rt: Runtime, stop: threading.Event, *, interval: float) -> bool:
    """Wait until Redis answers (True), or until asked to stop (False)."""
    while not stop.is_set():
        try:
            rt.redis.ping()
            return True
        except RedisError as error:
            log.warning(
                "Redis is not answering (%s); trying again in %.0fs", type(error).__name__, interval
            )
        stop.wait(interval)
    return False


def _stop_on_signals(stop: threading.Event) -> None:
    """Between two runs of RQ's loop (which installs its own), SIGTERM and SIGINT stop us."""

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
