"""The delivery state machine (DESIGN decision 3), as conditional updates.

    pending ─▶ claimed ─▶ sending ─▶ sent | retry_wait | failed_permanent | ambiguous
       ▲          │                          │
       └──────────┘ (enqueue failed)         └─▶ claimed again when due

Every transition is ``UPDATE … WHERE status = <expected>``: whoever changes the row owns
the next move, so two ticks or two jobs never both send the same email. This module claims
the work; ``service.outbox.outcomes`` records what happened to it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from functools import partial
from typing import Any

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from emails.course import CourseError, shipped_course
from service.outbox import holds, pacing
from service.schedule import Timing, may_send
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Reader,
)

log = logging.getLogger("coursemail.tick")

#: A claim untouched this long belongs to a worker that died or a job Redis lost: retake it.
#: The default of ``CLAIM_TIMEOUT``; a live job keeps its claims fresh (``refresh_claims``).
STALE_CLAIM_AFTER = timedelta(seconds=45)
#: Transient failures (SMTP 4xx, connection errors) are retried this many times in all.
MAX_ATTEMPTS = 6
#: Wait before attempt n+1 (real time): quick at first, then patient.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)


@dataclass(frozen=True)
class Claimed:
    """Ids moved to ``claimed`` by one tick, ready to enqueue, by kind."""

    #: the transactional ones: confirmations and notes a reader just asked for
    confirmations: list[int]
    steps: list[int]

    def __bool__(self) -> bool:
        return bool(self.confirmations or self.steps)


def create_due_step_deliveries(
    session: Session,
    *,
    now: datetime,
    mail_domain: str,
    limit: int,
    postgres: bool,
    time_scale: float = 1.0,
) -> int:
    """Turn due enrollments into pending deliveries; returns how many.

    A few statements whatever the count: one conditional UPDATE claims up to ``limit`` due
    enrollments (clearing ``next_send_at`` is the claim, so a second tick's update finds
    nothing; the unique (enrollment, step) pair backs it up) and returns them; one query reads
    their readers' zones, and those in their quiet hours are moved to the morning; one
    multi-row INSERT writes the others' deliveries. The due query uses the ``(status,
    next_send_at)`` index, so the cost follows what is due, not the size of the list.
    """
    due = Enrollment.status == EnrollmentStatus.ACTIVE, Enrollment.next_send_at <= now
    chosen = select(Enrollment.id).where(*due).order_by(Enrollment.next_send_at).limit(limit)
    if postgres:
        chosen = chosen.with_for_update(skip_locked=True)
    claimed = session.execute(
        update(Enrollment)
        .where(Enrollment.id.in_(chosen.scalar_subquery()), *due)
        .values(next_send_at=None)
        .returning(Enrollment.id, Enrollment.reader_id, Enrollment.next_step)
        .execution_options(synchronize_session=False)
    ).all()
    if not claimed:
        return 0
    if time_scale == 1:  # (a demo's compressed days have no nights to keep quiet)
        claimed = _hold_the_night(session, claimed, now=now)
    # (a demo compresses this day as it does the waits between emails)
    claimed = _one_course_email_a_day(session, claimed, now=now, day=ONE_DAY / time_scale)
    return _write_deliveries(session, claimed, now=now, mail_domain=mail_domain, postgres=postgres)


#: A reader taking two courses gets at most one course email in this long: the later waits.
ONE_DAY = timedelta(days=1)


def _one_course_email_a_day(
    session: Session, claimed: Sequence[Any], *, now: datetime, day: timedelta
) -> list[Any]:
    """The claimed rows that may go now; a reader taking two courses gets one course email a
    day: an email due from one course the same day as another's (already gone, or due in this
    same pass) waits a day. One query finds the claimed readers with another course at all
    (almost always none); only theirs are looked at further."""
    ids = [row.id for row in claimed]
    other = aliased(Enrollment)
    siblings = session.execute(
        select(Enrollment.id, other.id)
        .join(other, and_(other.reader_id == Enrollment.reader_id, other.id != Enrollment.id))
        .where(Enrollment.id.in_(ids), other.course != Enrollment.course)
    ).all()
    if not siblings:
        return list(claimed)
    others: dict[int, set[int]] = {}
    for enrollment_id, sibling_id in siblings:
        others.setdefault(enrollment_id, set()).add(sibling_id)
    lately = {
        row.enrollment_id
        for row in session.execute(
            select(Delivery.enrollment_id).where(
                Delivery.enrollment_id.in_(sorted(set().union(*others.values()))),
                Delivery.kind == DeliveryKind.STEP,
                Delivery.created_at > now - day,
                Delivery.status != DeliveryStatus.CANCELLED,
            )
        )
    }
    go, wait, going_to = [], [], set()
    for row in sorted(claimed, key=lambda r: r.id):  # the earlier course first
        siblings_of = others.get(row.id, set())
        if siblings_of & lately or row.reader_id in going_to:
            wait.append({"id": row.id, "next_send_at": now + day})
            continue
        go.append(row)
        if siblings_of:
            going_to.add(row.reader_id)
    if wait:
        session.execute(update(Enrollment), wait)
        log.info("%d course emails wait a day: their readers had another course's today", len(wait))
    return go


def _write_deliveries(
    session: Session, claimed: Sequence[Any], *, now: datetime, mail_domain: str, postgres: bool
) -> int:
    """One pending delivery per claimed enrollment, in one compiled INSERT; returns how many."""
    if not claimed:
        return 0
    # a step is sent once: should a row for it exist already (an edited database, say), that
    # one reader is skipped with a warning, never the whole pass (which would stop everyone)
    dialect_insert = postgresql_insert if postgres else sqlite_insert
    statement = (
        dialect_insert(Delivery)
        .on_conflict_do_nothing(index_elements=["enrollment_id", "step"])
        .returning(Delivery.enrollment_id)
    )  # one compiled statement; SQLAlchemy sends the rows in multi-row batches
    rows = [
        {
            "kind": DeliveryKind.STEP,
            "reader_id": reader_id,
            "enrollment_id": enrollment_id,
            "step": step,
            "status": DeliveryStatus.PENDING,
            "message_id": make_msgid(domain=mail_domain),
            "created_at": now,
            "attempts": 0,
        }
        for enrollment_id, reader_id, step in sorted(claimed)
    ]
    written = session.execute(statement, rows).all()
    if len(written) < len(claimed):
        done = {row.enrollment_id for row in written}
        skipped = sorted(e for e, _, _ in claimed if e not in done)
        log.warning(
            "enrollments %s were due a step that already has its email; not sent twice", skipped
        )
    return len(written)


def claim_ready(
    session: Session,
    *,
    now: datetime,
    limit: int,
    claim_timeout: timedelta = STALE_CLAIM_AFTER,
    postgres: bool = False,
    limits: pacing.Limits = pacing.NO_LIMITS,
    time_scale: float = 1.0,
) -> Claimed:
    """Claim what is ready to send: pending rows, retries now due, and stale claims that
    were never taken in hand (``outcomes.settle_orphans`` ends the other stale ones).

    One conditional UPDATE … RETURNING, whatever the count: the condition is repeated in
    the update itself, so a row another tick took in the meantime is not taken twice. With
    pacing limits or a hold in force, ``pacing.choose`` first picks which of the ready rows
    may go now; the others wait where they are.
    """
    stale_before = now - claim_timeout
    ready = or_(
        Delivery.status == DeliveryStatus.PENDING,
        and_(Delivery.status == DeliveryStatus.RETRY_WAIT, Delivery.next_attempt_at <= now),
        and_(
            Delivery.status == DeliveryStatus.CLAIMED,
            Delivery.claimed_at < stale_before,
            # taken this often without an outcome: outcomes.settle_orphans ends it instead
            Delivery.attempts < MAX_ATTEMPTS,
        ),
    )
    held = holds.active_holds(session, now=now)
    chosen: Any
    if limits.any or held:
        chosen = pacing.choose(
            session,
            ready,
            now=now,
            limit=limit,
            limits=limits,
            held=held,
            may_go=partial(_awake, now=now) if time_scale == 1 else lambda row: True,
        )
        if not chosen:
            return Claimed(confirmations=[], steps=[])
    else:
        chosen = select(Delivery.id).where(ready).order_by(Delivery.id).limit(limit)
        if postgres:
            chosen = chosen.with_for_update(skip_locked=True)
        chosen = chosen.scalar_subquery()
    rows = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(chosen), ready)
        # the attempt is counted as it is taken: whatever fails later, even a crash that
        # records nothing, no delivery is taken more than MAX_ATTEMPTS times
        .values(
            status=DeliveryStatus.CLAIMED,
            claimed_at=now,
            next_attempt_at=None,
            attempts=Delivery.attempts + 1,
        )
        .returning(Delivery.id, Delivery.kind)
        .execution_options(synchronize_session=False)
    ).all()
    confirmations: list[int] = []
    steps: list[int] = []
    for delivery_id, kind in sorted(rows):
        # a person waiting (a confirmation, a note they just asked for) goes first
        (steps if kind == DeliveryKind.STEP else confirmations).append(delivery_id)
    return Claimed(confirmations=confirmations, steps=steps)


def claim_pending_confirmation(session: Session, reader_id: int, *, now: datetime) -> int | None:
    """Claim this reader's waiting confirmation email, to send it without waiting."""
    row = session.execute(
        update(Delivery)
        .where(
            Delivery.reader_id == reader_id,
            Delivery.kind == DeliveryKind.CONFIRMATION,
            Delivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.CLAIMED, claimed_at=now, attempts=Delivery.attempts + 1)
        .returning(Delivery.id)
    ).first()
    return None if row is None else int(row.id)


def refresh_claims(session: Session, ids: Sequence[int], *, now: datetime) -> None:
    """A live job's heartbeat: the claims it still holds are not stale."""
    session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(ids),
            Delivery.status.in_((DeliveryStatus.CLAIMED, DeliveryStatus.SENDING)),
        )
        .values(claimed_at=now)
    )


def release(session: Session, ids: Sequence[int]) -> None:
    """Enqueueing failed (Redis away): hand the rows back so the next tick tries again."""
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == DeliveryStatus.CLAIMED)
        .values(status=DeliveryStatus.PENDING, claimed_at=None)
    )


def begin_sending(session: Session, delivery_id: int, *, now: datetime) -> Delivery | None:
    """Take a claimed delivery in hand; None if another job has it or it is finished."""
    changed = _rowcount(
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.CLAIMED)
            .values(status=DeliveryStatus.SENDING, claimed_at=now)
        )
    )
    if changed != 1:
        return None
    return session.get(Delivery, delivery_id)


def _rowcount(result: Any) -> int:
    """Rows an UPDATE changed: the proof that this caller won a conditional transition."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


#: A welcome this soon after the reader confirmed goes at once, whatever the hour (and
#: whatever the pacing): they are there, waiting for it.
WELCOME_GRACE = pacing.WELCOME_GRACE


def _awake(row: Any, *, now: datetime) -> bool:
    """Whether a course email that waited (pacing, a hold) may go now: in its reader's
    waking hours and days, or a welcome they are waiting for (``WELCOME_GRACE``)."""
    if row.step == 0 and row.enrolled_at >= now - WELCOME_GRACE:
        return True
    try:
        course = shipped_course(row.course)
    except CourseError:  # the sender records this one's failure; the night is no matter
        return True
    return may_send(now, Timing.of(course, row).zone, weekends=course.weekends)


def _hold_the_night(session: Session, claimed: Sequence[Any], *, now: datetime) -> list[Any]:
    """The claimed rows that may go now; the others (due in their reader's quiet hours, or
    on a weekend their course skips) get a new due time, their next morning, in one
    statement. One query reads the readers' time zones and hours."""
    readers = {
        row.id: row
        for row in session.execute(
            select(
                Enrollment.id,
                Enrollment.course,
                Enrollment.created_at,
                Reader.timezone,
                Reader.send_hour,
            )
            .join(Reader, Reader.id == Enrollment.reader_id)
            .where(Enrollment.id.in_([c.id for c in claimed]))
        )
    }
    go, held = [], []
    for row in claimed:
        reader = readers[row.id]
        try:
            course = shipped_course(reader.course)
        except CourseError:  # the sender records this one's failure; the night is no matter
            go.append(row)
            continue
        timing = Timing.of(course, reader)
        just_confirmed = row.next_step == 0 and reader.created_at >= now - WELCOME_GRACE
        if just_confirmed or may_send(now, timing.zone, weekends=course.weekends):
            go.append(row)
            continue
        held.append({"id": row.id, "next_send_at": timing.morning(now)})
    if held:
        session.execute(update(Enrollment), held)  # one executemany, by primary key
        log.info("%d emails due in their readers' quiet hours wait for the morning", len(held))
    return go
