"""The queues and the jobs by dotted name: the whole contract between the service and the
workers.

RQ enqueues a job by its dotted name, so the web app and the tick hand work to the workers
without importing them (a test checks each name resolves to a function in ``workers.jobs``).
Jobs carry ids only, never rows or bodies. Handing claimed work over, and handing it back to
the database when Redis refuses, is ``service.outbox.handoff``.
"""

from __future__ import annotations

from rq import Queue

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
#: Tells the therapist that course email is held back (``service.outbox.pacing``), and why.
ALERT_HOLD = "workers.jobs.alert_hold"
#: Sending setup's live tests: one to the therapist, one round the reply path.
SEND_SETUP_TESTS = "workers.jobs.send_setup_tests"
#: Sends a ``[TEST]`` copy of an email of the desk's draft (not yet published).
SEND_DRAFT_TEST = "workers.jobs.send_draft_test"
JOBS = (
    SEND_BATCH,
    HANDLE_REPLIES,
    RESEND,
    SEND_TEST,
    ALERT_HOLD,
    SEND_SETUP_TESTS,
    SEND_DRAFT_TEST,
)

#: Ids per RQ job: one SMTP connection carries this many messages.
BATCH_SIZE = 50
#: An RQ job's time limit: a job stuck this long is killed, its heartbeat stops, and its
#: claims go stale after CLAIM_TIMEOUT for the tick to take again.
JOB_TIMEOUT = 300


def enqueue_batches(queue: Queue, batches: list[list[int]], *, job: str) -> None:
    """One job per batch of ids, in one round trip (raises ``RedisError`` if Redis refuses)."""
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
