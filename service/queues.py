"""The queues, the jobs by dotted name, and handing claimed work to them.

RQ enqueues a job by its dotted name, so the web app and the tick hand work to the workers
without importing them: the names below are the whole contract (a test checks each one
resolves to a function in ``workers.jobs``). Jobs carry ids only, never rows or bodies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy.orm import Session

from service.context import Context
from service.inbox import inbound
from service.outbox import claims

log = logging.getLogger("coursemail.queues")

#: Confirmation emails and replies wait in their own queue so a course batch never delays them.
QUEUE_TRANSACTIONAL = "coursemail-transactional"
QUEUE_COURSE = "coursemail-course"
#: Workers listen in this order: a person waiting for their confirmation comes first.
QUEUES = (QUEUE_TRANSACTIONAL, QUEUE_COURSE)

#: Sends claimed deliveries (ids) over one SMTP connection.
SEND_BATCH = "workers.jobs.send_batch"
#: Parses stored inbound messages (ids) and forwards the replies to the therapist.
HANDLE_REPLIES = "workers.jobs.handle_replies"
#: Sends one of a reader's emails again, on purpose (the desk).
RESEND = "workers.jobs.resend"
#: Sends a ``[TEST]`` copy of a course email to an address typed in on the desk.
SEND_TEST = "workers.jobs.send_test"
JOBS = (SEND_BATCH, HANDLE_REPLIES, RESEND, SEND_TEST)

#: Ids per RQ job: one SMTP connection carries this many messages.
BATCH_SIZE = 50
#: An RQ job's time limit: a job stuck this long is killed, its heartbeat stops, and its
#: claims go stale after CLAIM_TIMEOUT for the tick to take again.
JOB_TIMEOUT = 300


def enqueue_or_release(
    ctx: Context,
    queue_name: str,
    ids: Sequence[int],
    *,
    job: str = SEND_BATCH,
    release: Callable[[Session, Sequence[int]], None] = claims.release,
) -> int:
    """Enqueue claimed ids in batches; returns the number of jobs, 0 if Redis refused.

    When Redis is away the claims are handed back at once, so the next tick tries again
    (instead of waiting for them to go stale).
    """
    if not ids:
        return 0
    batches = [list(ids[i : i + BATCH_SIZE]) for i in range(0, len(ids), BATCH_SIZE)]
    try:
        _enqueue(ctx.queue(queue_name), batches, job=job)
    except RedisError as error:
        log.warning("could not enqueue %d ids for %s (%s); handing them back", len(ids), job, error)
        with ctx.database.session() as session:
            release(session, ids)
        return 0
    return len(batches)


def enqueue_replies(ctx: Context, inbound_ids: Sequence[int]) -> int:
    """Enqueue claimed inbound messages for the reply job (0, and handed back, if Redis refused).

    Replies share the transactional queue: a person who wrote is waiting, like a sign-up.
    """
    return enqueue_or_release(
        ctx, QUEUE_TRANSACTIONAL, inbound_ids, job=HANDLE_REPLIES, release=inbound.release
    )


def send_confirmation_now(ctx: Context, reader_id: int) -> bool:
    """Send a new sign-up's confirmation at once rather than at the next tick.

    Best effort: if Redis is away the row goes back to the outbox for the tick.
    """
    with ctx.database.session() as session:
        delivery_id = claims.claim_pending_confirmation(session, reader_id, now=ctx.clock.now())
    if delivery_id is None:
        return False
    return enqueue_or_release(ctx, QUEUE_TRANSACTIONAL, [delivery_id]) > 0


def _enqueue(queue: Queue, batches: list[list[int]], *, job: str) -> None:
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


def enqueue_desk_job(ctx: Context, job: str, *args: object) -> bool:
    """Hand one of the desk's deliberate sends to a worker; False if Redis refused (the desk
    says so and nothing is recorded, so asking again is safe)."""
    try:
        ctx.queue(QUEUE_TRANSACTIONAL).enqueue(job, *args, job_timeout=60, result_ttl=3600)
    except RedisError as error:
        log.warning("could not enqueue %s (%s)", job, error)
        return False
    return True
