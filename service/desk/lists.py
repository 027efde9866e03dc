"""The desk's lists, newest first and a page at a time (keyset: each page starts below the
last id shown, never counting or skipping rows): readers (search, filters), replies, and the
rows behind the overview's health figures (emails that may not have arrived, could not be
sent, or are held by a stopped worker, and the readers due an email in the next day)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from service.desk import search, words
from service.store.models import (
    Delivery,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    InboundCategory,
    InboundMessage,
    Reader,
    ReaderStatus,
)

#: Rows a list page shows at once.
PAGE = 50


def next_page(found: Sequence[Any]) -> int | None:
    """Where the next keyset page starts (queries fetch ``PAGE + 1`` rows to know), or None."""
    return int(found[PAGE - 1][0].id) if len(found) > PAGE else None


@dataclass(frozen=True)
class ReaderRow:
    public_id: str
    email: str
    first_name: str | None
    status: str
    next_step: int | None
    course_status: str | None
    created_at: datetime
    #: what the desk shows: plain words, never an erased reader's stand-in address
    shown_address: str = ""
    state_words: str = ""
    #: the course and version their place (``next_step``) is in
    course: str | None = None
    course_version: int | None = None


#: A reader's latest enrollment (one who left and came back has more than one).
_other = aliased(Enrollment)
latest_enrollment = (
    select(func.max(_other.id))
    .where(_other.reader_id == Reader.id)
    .correlate(Reader)
    .scalar_subquery()
)


def find_readers(
    session: Session,
    *,
    q: str = "",
    state: str = "",
    step: int | None = None,
    before: int | None = None,
    course: str | None = None,
) -> tuple[list[ReaderRow], int | None]:
    """Readers, newest first, ``PAGE`` at a time: the next page starts below the id returned
    (keyset pagination: never counts or skips rows). With ``course``, only those who joined
    it, with their place in it."""
    latest = latest_enrollment
    if course is not None:  # their latest enrollment in that course, and only theirs
        latest = (
            select(func.max(_other.id))
            .where(_other.reader_id == Reader.id, _other.course == course)
            .correlate(Reader)
            .scalar_subquery()
        )
    query = (
        select(
            Reader,
            Enrollment.next_step,
            Enrollment.status,
            Enrollment.course,
            Enrollment.course_version,
        )
        .join(Enrollment, Enrollment.id == latest, isouter=course is None)
        .order_by(Reader.id.desc())
        .limit(PAGE + 1)
    )
    if q:
        query = query.where(search.matching(session, q))
    if state:
        query = query.where(Reader.status == ReaderStatus(state))
    if step is not None:
        query = query.where(Enrollment.next_step == step)
    if before is not None:
        query = query.where(Reader.id < before)
    found = session.execute(query).all()
    rows = [
        ReaderRow(
            s.public_id,
            s.email,
            s.first_name,
            s.status.value,
            next_step,
            course.value if course else None,
            s.created_at,
            words.address(s),
            words.reader_state(s, course),
            slug,
            version,
        )
        for s, next_step, course, slug, version in found[:PAGE]
    ]
    return rows, next_page(found)


@dataclass(frozen=True)
class ReplyRow:
    id: int
    received_at: datetime
    from_address: str | None
    first_name: str | None
    step: int | None
    text: str
    urgent: bool
    status: str
    last_error: str | None
    handled: bool
    words_deleted: bool = False
    public_id: str | None = None


def new_replies(session: Session, *, limit: int = 5) -> list[ReplyRow]:
    """Replies not yet marked handled, the urgent ones first, then the newest: what the
    overview leads with."""
    rows, _ = find_replies(session, unhandled_only=True, urgent_first=True)
    return rows[:limit]


def find_replies(
    session: Session,
    *,
    urgent_only: bool = False,
    before: int | None = None,
    unhandled_only: bool = False,
    urgent_first: bool = False,
) -> tuple[list[ReplyRow], int | None]:
    """Replies from people (not auto-replies or bounces), newest first, a page at a time."""
    query = _replies_query(urgent_only=urgent_only, before=before).limit(PAGE + 1)
    if unhandled_only:
        query = query.where(InboundMessage.handled_at.is_(None))
    if urgent_first:
        query = query.order_by(None).order_by(
            InboundMessage.urgent.desc(), InboundMessage.id.desc()
        )
    found = session.execute(query).all()
    return [_reply_row(*row) for row in found[:PAGE]], next_page(found)


#: Replies read per step of a search, and at most per page of results.
SEARCH_STEP = 500
SEARCH_LIMIT = 20_000


def search_replies(
    session: Session, words: str, *, urgent_only: bool = False, before: int | None = None
) -> tuple[list[ReplyRow], int | None]:
    """Replies whose words, subject or sender hold ``words`` (any case), newest first. The
    words are sealed in the database, so there is no index to ask: each reply is opened and
    read here, ``SEARCH_STEP`` at a time, up to ``SEARCH_LIMIT`` per page (then the page
    offers to read on from where it stopped)."""
    wanted = words.casefold()
    found: list[ReplyRow] = []
    read, after = 0, before
    while read < SEARCH_LIMIT:
        batch = session.execute(
            _replies_query(urgent_only=urgent_only, before=after).limit(SEARCH_STEP)
        ).all()
        for row in batch:
            message = row[0]
            seen = " ".join(
                [message.reply_text or "", message.subject or "", message.from_address or ""]
            )
            if wanted in seen.casefold():
                found.append(_reply_row(*row))
                if len(found) == PAGE:
                    return found, message.id
        read += len(batch)
        if len(batch) < SEARCH_STEP:
            return found, None
        after = batch[-1][0].id
    return found, after


def _replies_query(
    *, urgent_only: bool, before: int | None
) -> Select[InboundMessage, str | None, int | None, str]:
    query = (
        select(InboundMessage, Reader.first_name, Delivery.step, Reader.public_id)
        .outerjoin(Reader, Reader.id == InboundMessage.reader_id)
        .outerjoin(Delivery, Delivery.id == InboundMessage.delivery_id)
        .where(InboundMessage.category == InboundCategory.REPLY)
        .order_by(InboundMessage.id.desc())
    )
    if urgent_only:
        query = query.where(InboundMessage.urgent.is_(True))
    if before is not None:
        query = query.where(InboundMessage.id < before)
    return query


def _reply_row(
    m: InboundMessage, first_name: str | None, step: int | None, public_id: str | None
) -> ReplyRow:
    return ReplyRow(
        m.id,
        m.received_at,
        m.from_address,
        first_name,
        step,
        m.reply_text or "",
        m.urgent,
        m.status.value,
        m.last_error,
        m.handled_at is not None,
        m.words_deleted_at is not None,
        public_id,
    )


#: What each list shows, by the name in its address.
LISTS = {
    "ambiguous": "Emails that may not have arrived",
    "failed_permanent": "Emails that could not be sent",
    "bounced": "Emails returned by the receiving server after they were sent",
    "stale": "Emails taking longer than they should to go out",
    "due": "Emails due in the next 24 hours",
}


@dataclass(frozen=True)
class EmailRow:
    id: int
    public_id: str
    email: str
    #: which email: a course step (0 = the welcome), or None (the confirmation or a note)
    step: int | None
    when: datetime | None
    #: a delivery's state, or "due" for an email not yet made
    state: str
    #: the technical detail (the server's answer), for the desk to keep one click away
    reason: str
    erased: bool = False


def find_emails(
    session: Session, state: str, *, now: datetime, claim_timeout: timedelta, before: int | None
) -> tuple[list[EmailRow], int | None]:
    if state == "due":
        return _due(session, now=now, before=before)
    query = (
        select(Delivery, Reader.public_id, Reader.email, Reader.erased_at)
        .join(Reader, Reader.id == Delivery.reader_id)
        .order_by(Delivery.id.desc())
        .limit(PAGE + 1)
    )
    if state == "stale":
        query = query.where(
            Delivery.status.in_((DeliveryStatus.CLAIMED, DeliveryStatus.SENDING)),
            Delivery.claimed_at < now - claim_timeout,
        )
    else:
        query = query.where(Delivery.status == DeliveryStatus(state))
    if before is not None:
        query = query.where(Delivery.id < before)
    found = session.execute(query).all()
    rows = [
        EmailRow(
            d.id,
            public_id,
            email,
            d.step,
            d.sent_at or d.claimed_at,
            d.status.value,
            d.last_error or "",
            erased is not None,
        )
        for d, public_id, email, erased in found[:PAGE]
    ]
    return rows, next_page(found)


def _due(
    session: Session, *, now: datetime, before: int | None
) -> tuple[list[EmailRow], int | None]:
    query = (
        select(Enrollment, Reader.public_id, Reader.email)
        .join(Reader, Reader.id == Enrollment.reader_id)
        .where(
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.next_send_at <= now + timedelta(hours=24),
        )
        .order_by(Enrollment.id.desc())
        .limit(PAGE + 1)
    )
    if before is not None:
        query = query.where(Enrollment.id < before)
    found = session.execute(query).all()
    rows = [
        EmailRow(e.id, public_id, email, e.next_step, e.next_send_at, "due", "")
        for e, public_id, email in found[:PAGE]
    ]
    return rows, next_page(found)
