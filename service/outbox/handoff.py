"""Handing claimed work to the workers through Redis, and back to the database when Redis
refuses: a claim is never stranded in a queue that is not there (the next tick takes it)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from service.context import Context
from service.outbox import claims
from service.queues import BATCH_SIZE, QUEUE_TRANSACTIONAL, SEND_BATCH, enqueue_batches

log = logging.getLogger("coursemail.queues")


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
        enqueue_batches(ctx.queue(queue_name), batches, job=job)
    except RedisError as error:
        log.warning("could not enqueue %d ids for %s (%s); handing them back", len(ids), job, error)
        with ctx.database.session() as session:
            release(session, ids)
        return 0
    return len(batches)


def send_confirmation_now(ctx: Context, reader_id: int) -> bool:
    """Send a new sign-up's confirmation at once rather than at the next tick.

    Best effort: if Redis is away the row goes back to the outbox for the tick.
    """
    with ctx.database.session() as session:
        delivery_id = claims.claim_pending_confirmation(session, reader_id, now=ctx.clock.now())
    if delivery_id is None:
        return False
    return enqueue_or_release(ctx, QUEUE_TRANSACTIONAL, [delivery_id]) > 0


def enqueue_desk_job(ctx: Context, job: str, *args: object) -> bool:
    """Hand one of the desk's deliberate sends to a worker; False if Redis refused (the desk
    says so and nothing is recorded, so asking again is safe)."""
    try:
        ctx.queue(QUEUE_TRANSACTIONAL).enqueue(job, *args, job_timeout=60, result_ttl=3600)
    except RedisError as error:
        log.warning("could not enqueue %s (%s)", job, error)
        return False
    return True
