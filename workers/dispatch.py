"""The dispatcher tick: find due work in the database, claim it, enqueue it in batches.

One pass: (1) due enrollments become pending step deliveries; (2) pending rows, retries
now due and stale claims are claimed; (3) claimed ids are enqueued, one RQ job per batch.
If Redis is away, the claims are handed back and the next pass tries again. Run it as a
long-lived loop (``coursemail tick``); running two at once is safe, as every claim is a
conditional update.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy.orm import Session

from service import deliveries, inbox
from workers.runtime import QUEUE_COURSE, QUEUE_TRANSACTIONAL, Runtime

log = logging.getLogger("coursemail.tick")

#: Deliveries per RQ job: one SMTP connection carries this many messages.
BATCH_SIZE = 50
#: Rows one pass claims at most; a pass that hits it runs again at once.
CLAIM_LIMIT = 2000
#: An RQ job's time limit, well below the stale-claim timeout so a re-found claim is dead.
JOB_TIMEOUT = 300


@dataclass(frozen=True)
class TickReport:
    created: int = 0
    enqueued: int = 0
    jobs: int = 0
    released: int = 0
    replies: int = 0

    @property
    def busy(self) -> bool:
        return self.created + self.enqueued + self.released + self.replies > 0


def tick(rt: Runtime) -> TickReport:
    now = rt.clock.now()
    db = rt.database
    with db.session() as session:
        created = deliveries.create_due_step_deliveries(
            session,
            now=now,
            mail_domain=rt.settings.mail_domain,
            limit=CLAIM_LIMIT,
            postgres=not db.is_sqlite,
        )
    with db.session() as session:
        claimed = deliveries.claim_ready(session, now=now, limit=CLAIM_LIMIT)
    enqueued = jobs = released = 0
    for queue_name, ids in (
        (QUEUE_TRANSACTIONAL, claimed.confirmations),
        (QUEUE_COURSE, claimed.steps),
    ):
        batches = enqueue_or_release(rt, queue_name, ids)
        if batches:
            enqueued += len(ids)
            jobs += batches
        else:
            released += len(ids)
    with db.session() as session:
        inbound_ids = inbox.claim_work(session, now=now, limit=CLAIM_LIMIT)
    reply_jobs = enqueue_replies(rt, inbound_ids)
    report = TickReport(
        created=created,
        enqueued=enqueued,
        jobs=jobs + reply_jobs,
        released=released + (len(inbound_ids) if inbound_ids and not reply_jobs else 0),
        replies=len(inbound_ids) if reply_jobs else 0,
    )
    if report.busy:
        log.info(
            "tick: %d due, %d enqueued, %d replies, in %d jobs, %d handed back",
            created,
            enqueued,
            report.replies,
            report.jobs,
            report.released,
        )
    return report


def enqueue_or_release(
    rt: Runtime,
    queue_name: str,
    ids: list[int],
    *,
    job: str = "workers.jobs.send_batch",
    release: Callable[[Session, list[int]], None] = deliveries.release,
) -> int:
    """Enqueue claimed ids in batches; returns the number of jobs, 0 if Redis refused.

    When Redis is away the claims are handed back at once, so the next tick tries again
    (instead of waiting for them to go stale).
    """
    if not ids:
        return 0
    batches = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
    try:
        _enqueue(rt.queue(queue_name), batches, job=job)
    except RedisError as error:
        log.warning("could not enqueue %d ids for %s (%s); handing them back", len(ids), job, error)
        with rt.database.session() as session:
            release(session, ids)
        return 0
    return len(batches)


def enqueue_replies(rt: Runtime, inbound_ids: list[int]) -> int:
    """Enqueue claimed inbound messages for the reply job (0, and handed back, if Redis refused).

    Replies share the transactional queue: a person who wrote is waiting, like a sign-up.
    """
    return enqueue_or_release(
        rt,
        QUEUE_TRANSACTIONAL,
        inbound_ids,
        job="workers.jobs.handle_replies",
        release=inbox.release,
    )


def send_confirmation_now(rt: Runtime, subscriber_id: int) -> bool:
    """Send a new sign-up's confirmation at once rather than at the next tick.

    Best effort: if Redis is away the row goes back to the outbox for the tick.
    """
    with rt.database.session() as session:
        delivery_id = deliveries.claim_pending_confirmation(
            session, subscriber_id, now=rt.clock.now()
        )
    if delivery_id is None:
        return False
    return enqueue_or_release(rt, QUEUE_TRANSACTIONAL, [delivery_id]) > 0


def _enqueue(
    queue: Queue, batches: list[list[int]], *, job: str = "workers.jobs.send_batch"
) -> None:
    queue.enqueue_many(
        [
            Queue.prepare_data(
                job,
                args=(batch,),
                timeout=JOB_TIMEOUT,
                result_ttl=3600,
                description=f"{job.rpartition('.')[2]}: {len(batch)} ids",
            )
            for batch in batches
        ]
    )


def run_forever(rt: Runtime, *, stop: threading.Event, interval: float | None = None) -> None:
    """Tick every ``DISPATCH_INTERVAL`` seconds until ``stop`` is set.

    A failing pass (database away) is logged and retried next interval: the loop itself
    must outlive any outage, since nothing is lost while it waits.
    """
    interval = rt.settings.DISPATCH_INTERVAL if interval is None else interval
    log.info("tick every %.1fs", interval)
    while not stop.is_set():
        try:
            report = tick(rt)
        except Exception:  # noqa: BLE001 - the loop must survive an outage; it is logged
            log.exception("tick failed; trying again in %.1fs", interval)
            report = TickReport()
        if report.created < CLAIM_LIMIT and report.enqueued < CLAIM_LIMIT:
            stop.wait(interval)  # else more is due right now: go again at once
