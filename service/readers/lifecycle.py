"""The reader lifecycle: sign up, confirm (enroll), mark unsubscribed, suppress.

Plain functions over a session: blueprints, jobs and the CLI are thin shells around them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from emails.course import Course, CourseError, course_or_first, is_published, shipped_course
from service.readers.history import record
from service.schedule import Timing
from service.store.models import (
    UNDER_WAY,
    Consent,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Reader,
    ReaderStatus,
    Suppression,
)

#: Deliveries that have not gone out yet and can still be stopped.
UNSENT = (
    DeliveryStatus.PENDING,
    DeliveryStatus.CLAIMED,
    DeliveryStatus.RETRY_WAIT,
)


@dataclass(frozen=True)
class SignUpResult:
    reader: Reader
    #: what this call put in the outbox: a confirmation, a note for a reader already on the
    #: course, or nothing
    queued: DeliveryKind | None
    #: that email's delivery, already claimed to be handed to a worker now (``claim=True``)
    claimed_email: Delivery | None = None


def find_by_email(session: Session, email: str) -> Reader | None:
    return session.scalar(select(Reader).where(func.lower(Reader.email) == email.lower()))


def find_by_public_id(session: Session, public_id: str) -> Reader | None:
    return session.scalar(select(Reader).where(Reader.public_id == public_id))


def find_by_unsubscribe_token(session: Session, token: str) -> Reader | None:
    return session.scalar(select(Reader).where(Reader.unsubscribe_token == token))


def is_suppressed(session: Session, email: str) -> bool:
    found = session.scalar(
        select(Suppression.id).where(func.lower(Suppression.email) == email.lower())
    )
    return found is not None


def sign_up(
    session: Session,
    *,
    email: str,
    first_name: str | None,
    timezone: str,
    now: datetime,
    mail_domain: str,
    claim: bool = False,
    discreet: bool = False,
    course: str | None = None,
) -> SignUpResult:
    """Record a sign-up for ``course`` (a slug; None: the first course) and queue the
    confirmation email; never a second row per address.

    An active reader already on that course is left alone (a note says so); one taking
    another course is asked to confirm joining this one; a pending one gets the
    confirmation again unless one is already on its way; one who left (or bounced and was
    un-suppressed) starts over.
    With ``claim``, the confirmation is written already claimed, in this same transaction, for
    the caller to enqueue at once (``outbox.handoff.enqueue_or_release`` hands it back to the
    outbox if Redis refuses; if the caller dies first, the claim goes stale and the tick
    sends it).
    """
    email = email.strip().lower()
    reader = find_by_email(session, email)
    new = reader is None
    if reader is None:
        reader, new = _new_reader(session, email, first_name, timezone, now)
    if discreet:
        _keep_discreet(session, reader, now=now)
    if not new and reader.status == ReaderStatus.ACTIVE:
        if course is None or _on_course(session, reader, course):
            return _already(session, reader, course, now=now, mail_domain=mail_domain, claim=claim)
        return _join(session, reader, course, now=now, mail_domain=mail_domain, claim=claim)
    reader.pending_course = course
    if not new:
        reader.status = ReaderStatus.PENDING
        # whoever typed the address: what they typed waits for the reader's confirmation
        reader.pending_first_name = first_name
        reader.pending_timezone = timezone
    if is_suppressed(session, email):
        return SignUpResult(reader, queued=None)
    # (a reader new this moment has nothing in flight)
    if not new and _confirmation_in_flight(session, reader):
        return SignUpResult(reader, queued=None)
    delivery = _confirmation(reader, now=now, mail_domain=mail_domain, claim=claim)
    delivery.course = course
    session.add(delivery)
    return SignUpResult(
        reader, queued=DeliveryKind.CONFIRMATION, claimed_email=delivery if claim else None
    )


#: A reader taking the course who signs up again gets at most one note a day saying so.
ALREADY_EVERY = timedelta(days=1)


def _already(
    session: Session,
    reader: Reader,
    course: str | None,
    *,
    now: datetime,
    mail_domain: str,
    claim: bool,
) -> SignUpResult:
    """They are on the course already: the page says "we’ve sent you an email" whoever
    typed the address, so a short note goes with their preferences link (never more than
    one a day, so a stranger cannot fill their inbox)."""
    recent = session.scalar(
        select(Delivery.id).where(
            Delivery.reader_id == reader.id,
            Delivery.kind == DeliveryKind.ALREADY,
            Delivery.created_at > now - ALREADY_EVERY,
        )
    )
    if recent is not None or is_suppressed(session, reader.email):
        return SignUpResult(reader, queued=None)
    note = _confirmation(reader, now=now, mail_domain=mail_domain, claim=claim)
    note.kind = DeliveryKind.ALREADY
    note.course = course
    session.add(note)
    return SignUpResult(reader, queued=DeliveryKind.ALREADY, claimed_email=note if claim else None)


def _on_course(session: Session, reader: Reader, slug: str) -> bool:
    """Whether they are taking this course, or have finished it."""
    found = session.scalar(
        select(Enrollment.id).where(
            Enrollment.reader_id == reader.id,
            Enrollment.course == slug,
            Enrollment.status.in_(UNDER_WAY + (EnrollmentStatus.COMPLETED,)),
        )
    )
    return found is not None


def _join(
    session: Session, reader: Reader, slug: str, *, now: datetime, mail_domain: str, claim: bool
) -> SignUpResult:
    """A reader taking one course asked for another: that course's confirmation goes, and
    its button enrolls them (anyone can type an address, so nothing starts before that).
    At most ``CONFIRMATIONS_A_DAY`` a day, so a stranger cannot fill their inbox."""
    recent = session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.reader_id == reader.id,
            Delivery.kind == DeliveryKind.JOIN,
            Delivery.created_at > now - timedelta(days=1),
        )
    )
    if int(recent or 0) >= CONFIRMATIONS_A_DAY or is_suppressed(session, reader.email):
        return SignUpResult(reader, queued=None)
    reader.pending_course = slug
    note = _confirmation(reader, now=now, mail_domain=mail_domain, claim=claim)
    note.kind = DeliveryKind.JOIN
    note.course = slug
    session.add(note)
    return SignUpResult(reader, queued=DeliveryKind.JOIN, claimed_email=note if claim else None)


def course_asked_for(reader: Reader, slug: str | None = None) -> Course:
    """The course a confirmation is for: ``slug`` (what its email and link name), else the
    one the reader last asked for on a form, else the first course (a sign-up from before
    there were several, or a course since gone)."""
    asked = next((s for s in (slug, reader.pending_course) if s and is_published(s)), None)
    return course_or_first(asked)


def _new_reader(
    session: Session, email: str, first_name: str | None, timezone: str, now: datetime
) -> tuple[Reader, bool]:
    """A new row (and True), or, when another sign-up of the same address committed one a
    moment ago (two at once on PostgreSQL), that row (and False): the second sign-up then
    answers like the first, never with an error."""
    reader = Reader(email=email, first_name=first_name, timezone=timezone, created_at=now)
    try:
        with session.begin_nested():
            session.add(reader)
            session.flush()
    except IntegrityError:
        found = find_by_email(session, email)
        if found is None:
            raise
        return found, False
    return reader, True


def _confirmation_in_flight(session: Session, reader: Reader) -> bool:
    found = session.scalar(
        select(Delivery.id).where(
            Delivery.reader_id == reader.id,
            Delivery.kind == DeliveryKind.CONFIRMATION,
            Delivery.status.in_(UNSENT + (DeliveryStatus.SENDING,)),
        )
    )
    return found is not None


#: Confirmation emails one address may get in a day (the first and one sent again).
CONFIRMATIONS_A_DAY = 2


def confirm_again(session: Session, reader: Reader, *, now: datetime, mail_domain: str) -> bool:
    """A fresh confirmation email for a reader who has not confirmed (they replied to the
    first one instead of pressing its button); False when one is already on its way."""
    if reader.status != ReaderStatus.PENDING or _confirmation_in_flight(session, reader):
        return False
    # the first one and one more a day at most: an autoresponder answering each confirmation
    # must not be able to keep a loop going
    recent = session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.reader_id == reader.id,
            Delivery.kind == DeliveryKind.CONFIRMATION,
            Delivery.created_at > now - timedelta(days=1),
        )
    )
    if int(recent or 0) >= CONFIRMATIONS_A_DAY:
        return False
    session.add(_confirmation(reader, now=now, mail_domain=mail_domain, claim=False))
    return True


def _confirmation(reader: Reader, *, now: datetime, mail_domain: str, claim: bool) -> Delivery:
    """A confirmation email for the outbox; already claimed when the caller sends it now."""
    return Delivery(
        kind=DeliveryKind.CONFIRMATION,
        reader_id=reader.id,
        status=DeliveryStatus.CLAIMED if claim else DeliveryStatus.PENDING,
        claimed_at=now if claim else None,
        attempts=1 if claim else 0,
        message_id=make_msgid(domain=mail_domain),
        created_at=now,
    )


def _keep_discreet(session: Session, reader: Reader, *, now: datetime) -> None:
    """Set before the confirmation is written, so it is discreet too. The form only ever
    turns it on: anyone can type an address, and only the reader may turn it off."""
    if not reader.discreet:
        reader.discreet = True
        record(session, reader, "discreet_on", actor="form", now=now)


def confirm(
    session: Session,
    reader: Reader,
    *,
    course: Course | None = None,
    now: datetime,
    how: str = "link",
) -> bool:
    """Activate a pending reader and enroll them in ``course`` (None: the one they asked
    for), or enroll an active reader in the other course they asked to join; False when
    there was nothing to confirm.

    Only a pending sign-up can be confirmed: an old link must never undo an unsubscribe.
    """
    course = course or course_asked_for(reader)
    if reader.status == ReaderStatus.ACTIVE and not _on_course(session, reader, course.slug):
        if reader.pending_course == course.slug:
            reader.pending_course = None
        enroll(session, reader, course=course, now=now)
        record(session, reader, "joined", actor=how, now=now, detail=course.title)
        return True
    if reader.status != ReaderStatus.PENDING:
        return False
    if reader.pending_timezone:  # what was typed when they signed up again, now theirs
        reader.first_name = reader.pending_first_name or reader.first_name
        reader.timezone = reader.pending_timezone
    reader.pending_first_name = reader.pending_timezone = reader.pending_course = None
    reader.status = ReaderStatus.ACTIVE
    reader.confirmed_at = now
    reader.unsubscribed_at = None
    enroll(session, reader, course=course, now=now)
    record(session, reader, "confirmed", actor=how, now=now)
    return True


def waiting_to_join(session: Session, reader: Reader, slug: str | None = None) -> bool:
    """An active reader asked to join another course (``slug``, what their link names, or
    the one they last asked for) and has not yet pressed its button."""
    asked = slug or reader.pending_course
    return bool(asked) and not _on_course(session, reader, course_asked_for(reader, asked).slug)


def leave_course(session: Session, reader: Reader, slug: str, *, now: datetime, how: str) -> bool:
    """Stop one course for this reader (their others go on); False if they were not on it."""
    stopped = session.execute(
        update(Enrollment)
        .where(
            Enrollment.reader_id == reader.id,
            Enrollment.course == slug,
            Enrollment.status.in_(UNDER_WAY),
        )
        .values(status=EnrollmentStatus.CANCELLED, next_send_at=None, paused_at=None)
        .returning(Enrollment.id)
    ).all()
    if not stopped:
        return False
    session.execute(
        update(Delivery)
        .where(
            Delivery.enrollment_id.in_([row.id for row in stopped]),
            Delivery.status.in_(UNSENT),
        )
        .values(status=DeliveryStatus.CANCELLED, next_attempt_at=None)
    )
    try:
        title = shipped_course(slug).title
    except CourseError:
        title = slug
    record(session, reader, "left_course", actor=how, now=now, detail=title)
    return True


def enroll(session: Session, reader: Reader, *, course: Course, now: datetime) -> Enrollment:
    """A fresh enrollment whose first email is due as the course says (the welcome: now)."""
    enrollment = Enrollment(
        **enrollment_values(reader.id, reader.timezone, course, now, chosen_hour=reader.send_hour)
    )
    session.add(enrollment)
    session.flush()
    return enrollment


def enrollment_values(
    reader_id: int,
    timezone: str,
    course: Course,
    now: datetime,
    *,
    chosen_hour: int | None = None,
) -> dict[str, object]:
    """The columns of a new enrollment (for ``enroll``, and for bulk inserts)."""
    timing = Timing.of(course, _Whom(timezone, chosen_hour))
    return {
        "reader_id": reader_id,
        "course": course.slug,
        "course_version": course.version,
        "next_step": 0,
        "next_send_at": timing.due(now, course.steps[0].delay_days),
        "status": EnrollmentStatus.ACTIVE,
        "created_at": now,
    }


@dataclass(frozen=True)
class _Whom:
    timezone: str
    send_hour: int | None


def mark_unsubscribed(session: Session, reader: Reader, *, now: datetime, how: str) -> bool:
    """Stop everything for this reader at once, and record how they left (one of
    ``consent_record.HOW``); False if they had already left."""
    if reader.status in (ReaderStatus.UNSUBSCRIBED, ReaderStatus.BOUNCED):
        return False
    reader.status = ReaderStatus.UNSUBSCRIBED
    reader.unsubscribed_at = now
    _stop_everything(session, reader.id)
    record(session, reader, "unsubscribed", actor=how, now=now)
    return True


def suppress(session: Session, reader: Reader, *, reason: str, detail: str, now: datetime) -> None:
    """A hard bounce: never mail this address again, and stop what was planned."""
    if not is_suppressed(session, reader.email):
        session.add(Suppression(email=reader.email, reason=reason, detail=detail, created_at=now))
    reader.status = ReaderStatus.BOUNCED
    _stop_everything(session, reader.id)


def _stop_everything(session: Session, reader_id: int) -> None:
    session.execute(
        update(Enrollment)
        .where(
            Enrollment.reader_id == reader_id,
            Enrollment.status.in_(UNDER_WAY),
        )
        .values(status=EnrollmentStatus.CANCELLED, next_send_at=None, paused_at=None)
    )
    session.execute(
        update(Delivery)
        .where(Delivery.reader_id == reader_id, Delivery.status.in_(UNSENT))
        .values(status=DeliveryStatus.CANCELLED, next_attempt_at=None)
    )


def record_consent(
    session: Session,
    reader: Reader,
    *,
    now: datetime,
    ip: str | None,
    user_agent: str | None,
    form_version: str,
    consent_text: str,
) -> None:
    """Keep proof of the sign-up: when, from where, on which form, agreeing to which words."""
    session.add(
        Consent(
            reader_id=reader.id,
            created_at=now,
            ip=(ip or "")[:45] or None,
            user_agent=(user_agent or "")[:400] or None,
            form_version=form_version,
            consent_text=consent_text,
        )
    )


def meant_for(kind: DeliveryKind) -> ReaderStatus:
    """The reader an email of this kind is for: a confirmation goes to someone still to
    confirm, a course email to someone taking the course."""
    return ReaderStatus.PENDING if kind == DeliveryKind.CONFIRMATION else ReaderStatus.ACTIVE
