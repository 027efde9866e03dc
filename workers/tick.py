"""The tick: find due work in the database, claim it, enqueue it in batches.

One pass: (1) due enrollments become pending step deliveries; (2) pending rows, retries
now due and stale claims are claimed; (3) claimed ids are enqueued, one RQ job per batch.
If Redis is away, the claims are handed back and the next pass tries again. Run it as a
long-lived loop (``coursemail tick``); running two at once is safe, as every claim is a
conditional update.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from emails.course import default_course
from service.courses import catalog
from service.desk import accounts, audit, snapshot
from service.dns_lookup import resolver_for
from service.inbox import inbound, retention
from service.inbox.handoff import enqueue_replies
from service.outbox import claims, holds, outcomes, pacing, providers
from service.outbox.handoff import enqueue_desk_job, enqueue_or_release
from service.queues import ALERT_HOLD, QUEUE_COURSE, QUEUE_TRANSACTIONAL
from service.readers import actions, erasure
from workers.runtime import Runtime

log = logging.getLogger("coursemail.tick")

#: Rows one pass claims at most; a pass that hits it runs again at once.
CLAIM_LIMIT = 2000


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


def run_once(rt: Runtime) -> TickReport:
    now = rt.clock.now()
    db = rt.database
    catalog.refresh(db)  # the course as published now: its shape decides what is due
    with db.session() as session:  # pauses a reader asked to end by themselves
        actions.resume_rested(session, now=now)
    with db.session() as session:
        created = claims.create_due_step_deliveries(
            session,
            now=now,
            mail_domain=rt.settings.mail_domain,
            limit=CLAIM_LIMIT,
            postgres=not db.is_sqlite,
            time_scale=rt.settings.COURSEMAIL_TIME_SCALE,
        )
    with db.session() as session:
        orphans = outcomes.settle_orphans(
            session,
            now=now,
            claim_timeout=rt.settings.claim_timeout,
            time_scale=rt.settings.COURSEMAIL_TIME_SCALE,
            postgres=not db.is_sqlite,
            limit=CLAIM_LIMIT,
        )
    if orphans:
        log.warning("%d stale claims ended (ambiguous or failed; see coursemail status)", orphans)
    _learn_providers(rt, now)
    enqueued, jobs, released = _claim_and_enqueue(rt, now)
    _alert_holds(rt, now)
    with db.session() as session:
        inbound_ids = inbound.claim_work(
            session, now=now, limit=CLAIM_LIMIT, claim_timeout=rt.settings.claim_timeout
        )
    reply_jobs = enqueue_replies(rt, inbound_ids)
    _forget_old(rt, now)
    _refresh_desk(rt, now)
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


def _forget_old(rt: Runtime, now: datetime) -> None:
    """What is kept only so long: readers' words (REPLY_RETENTION_DAYS), the desk's audit
    log (a year) and its ended sessions; and, on PostgreSQL, what an erase left in the
    table files (VACUUM)."""
    with rt.database.session() as session:
        retention.forget_old_words(session, now=now, days=rt.settings.REPLY_RETENTION_DAYS)
        audit.prune(session, now)
        accounts.prune_sessions(session, now)
    erasure.vacuum_after_erase(rt.database)


def _refresh_desk(rt: Runtime, now: datetime) -> None:
    """The desk's snapshot, when it is due; a failure here never stops the sending."""
    try:
        snapshot.refresh_if_due(
            rt.database, now=now, step_titles=snapshot.step_titles(default_course())
        )
    except SQLAlchemyError as error:
        log.warning("the desk's figures were not refreshed (%s); next tick tries again", error)


def _claim_and_enqueue(rt: Runtime, now: datetime) -> tuple[int, int, int]:
    """Claim the deliveries ready to go and hand them to the queues, confirmations first.

    Returns (enqueued, jobs, handed back)."""
    with rt.database.session() as session:
        claimed = claims.claim_ready(
            session,
            now=now,
            limit=CLAIM_LIMIT,
            claim_timeout=rt.settings.claim_timeout,
            postgres=not rt.database.is_sqlite,
            limits=pacing.Limits.of(rt.settings),
            time_scale=rt.settings.COURSEMAIL_TIME_SCALE,
        )
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
    return enqueued, jobs, released


def _learn_providers(rt: Runtime, now: datetime) -> None:
    """With a per-provider limit, learn who receives the waiting emails' domains (MX), a few
    per pass, outside any transaction (a slow name server never holds the database)."""
    if not rt.settings.SEND_RATE_PER_PROVIDER:
        return
    with rt.database.session() as session:
        domains = providers.domains_to_learn(session, now=now, limit=providers.MX_LOOKUPS_PER_PASS)
    if not domains:
        return
    try:
        lookup = resolver_for(rt.settings.DNS_NAMESERVER, timeout=providers.MX_TIMEOUT)
        learned = providers.look_up(domains, lookup)
    except Exception as error:  # noqa: BLE001 - what DNS says never stops the sending
        log.warning("could not learn who receives %d domains' mail (%r)", len(domains), error)
        return
    if learned:
        with rt.database.session() as session:
            providers.remember(session, learned, now=now)


def _alert_holds(rt: Runtime, now: datetime) -> None:
    """Tell the therapist, once, of each new hold on course email (a worker sends it)."""
    with rt.database.session() as session:
        scopes = holds.claim_alerts(session, now=now)
    for scope in scopes:
        if not enqueue_desk_job(rt, ALERT_HOLD, scope):
            with rt.database.session() as session:
                holds.unclaim_alerts(session, [scope])


def run_forever(rt: Runtime, *, stop: threading.Event, interval: float | None = None) -> None:
    """Tick every ``TICK_INTERVAL`` seconds until ``stop`` is set.

    A failing pass (database away) is logged and retried next interval: the loop itself
    must outlive any outage, since nothing is lost while it waits.
    """
    interval = rt.settings.TICK_INTERVAL if interval is None else interval
    log.info("tick every %.1fs", interval)
    while not stop.is_set():
        try:
            report = run_once(rt)
        except (SQLAlchemyError, RedisError, OSError) as error:
            # an outage: one line per interval, not a traceback every few seconds
            reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
            log.error(
                "tick failed; trying again in %.1fs (%s: %s)",
                interval,
                type(error).__name__,
                reason,
            )
            report = TickReport()
        except Exception:  # noqa: BLE001 - the loop must outlive anything; it is logged
            log.exception("tick failed; trying again in %.1fs", interval)
            report = TickReport()
        if report.created < CLAIM_LIMIT and report.enqueued < CLAIM_LIMIT:
            stop.wait(interval)  # else more is due right now: go again at once
