"""One reader's story for the desk, oldest first: signed up (with the consent given),
confirmed, each email and its state, each reply and its forward, what was done to their
record (paused, resumed, erased...), unsubscribed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from emails.course import Course, CourseError, course_version, published_slugs
from service.desk.words import email_state
from service.outbox.resend import may_resend
from service.readers.history import HOW
from service.store.models import (
    Consent,
    Delivery,
    DeliveryKind,
    Enrollment,
    InboundCategory,
    InboundMessage,
    Reader,
    ReaderEvent,
)

#: How each recorded action reads on the timeline.
EVENT_WORDS = {
    "joined": "Joined another course",
    "left_course": "Left one course",
    "paused": "Course paused",
    "resumed": "Course resumed",
    "next_now": "Next email brought forward",
    "already_reminded": "Signed up again: sent a note with their preferences link",
    "resent": "An email sent again",
    "unsubscribed": "Unsubscribed for them",
    "erased": "Their data was erased",
    "imported": "Imported",
    "hour_chosen": "Chose the hour their emails arrive",
    "slowed": "Slowed their course down",
    "usual_pace": "Back to the usual pace",
    "discreet_on": "Discreet mode on",
    "discreet_off": "Discreet mode off",
    "private_link_asked": "Asked for a private link (to their replies, data or erasing)",
    "private_link_used": "Opened their private link",
    "answered": "You answered them from the desk",
    "bounced_hard": "Their address does not exist (a hard bounce): nothing more is sent",
    "bounced_soft": "An email came back (a full mailbox, or the relay gave up): counted",
    "marked_as_spam": "Marked one of the emails as spam: nothing more is sent to them",
    "refused_by_provider": (
        "Their mail provider refused an email for our sending setup or reputation, not for "
        "their address: see Sending setup"
    ),
}


@dataclass(frozen=True)
class Event:
    at: datetime
    what: str
    detail: str = ""
    #: a link inside the desk (a reply), if any
    reply_id: int | None = None
    #: the technical detail (a Message-ID, the server's answer), shown one click away
    more: str = ""
    #: the order of events stamped with the same moment (a test clock, a fast course)
    rank: int = 0
    #: an email that may be sent again on purpose: its delivery id
    resend_id: int | None = None


def _email_event(d: Delivery, reader: Reader, course: Course) -> Event:
    several = d.enrollment is not None and len(published_slugs()) > 1
    if d.enrollment is not None:  # the words and shape of the version they are on
        course = _course_of(d.enrollment, course)
    name = course.email_name(d.step) if d.kind == DeliveryKind.STEP else _kind_name(d.kind)
    if several:
        name = f"{course.title}: {name}"
    subject = ""
    if d.step is not None and d.step < len(course.steps):
        subject = f" · “{course.step(d.step).subject}”"
    more = f"{d.status.value}: {d.last_error}; " if d.last_error else f"{d.status.value}; "
    return Event(
        d.sent_at or d.created_at,
        name,
        email_state(d.status) + subject,
        rank=1 if d.kind == DeliveryKind.CONFIRMATION else 3 + (d.step or 0),
        resend_id=d.id if may_resend(d, reader) else None,
        more=more + f"Message-ID {d.message_id}",
    )


def _course_of(enrollment: Enrollment, fallback: Course) -> Course:
    try:
        return course_version(enrollment.course, enrollment.course_version)
    except CourseError:
        return fallback


def _kind_name(kind: DeliveryKind) -> str:
    return {
        DeliveryKind.CONFIRMATION: "The confirmation",
        DeliveryKind.ALREADY: "A note with their preferences link",
        DeliveryKind.JOIN: "The confirmation to join another course",
        DeliveryKind.PRIVATE_LINK: "Their private link",
        DeliveryKind.ANSWER: "Your answer",
    }.get(kind, kind.value)


def timeline(session: Session, public_id: str, course: Course) -> tuple[Reader, list[Event]] | None:
    """The reader and their events, oldest first; None if there is no such reader."""
    reader = session.scalar(select(Reader).where(Reader.public_id == public_id))
    if reader is None:
        return None
    events = [
        Event(
            c.created_at,
            "Signed up",
            f"form {c.form_version}, from {c.ip or 'an unknown address'}: “{c.consent_text}”",
        )
        for c in session.scalars(select(Consent).where(Consent.reader_id == reader.id))
    ]
    if reader.confirmed_at:
        events.append(Event(reader.confirmed_at, "Confirmed their address", rank=2))
    deliveries = session.scalars(select(Delivery).where(Delivery.reader_id == reader.id))
    events.extend(_email_event(d, reader, course) for d in deliveries)
    for m in session.scalars(
        select(InboundMessage).where(
            InboundMessage.reader_id == reader.id,
            InboundMessage.category == InboundCategory.REPLY,
        )
    ):
        flag = "URGENT · " if m.urgent else ""
        handled = ", you marked it handled" if m.handled_at else ""
        text = (m.reply_text or "")[:200]
        events.append(
            Event(
                m.received_at,
                f"{flag}Replied",
                f"“{text}”{handled}",
                m.id,
                rank=100,
                more=f"forward: {m.status.value}" + (f" ({m.last_error})" if m.last_error else ""),
            )
        )
    kinds = set()
    for e in session.scalars(select(ReaderEvent).where(ReaderEvent.reader_id == reader.id)):
        kinds.add(e.kind)
        if e.kind == "confirmed":
            continue  # "Confirmed their address" above says it
        by = HOW.get(e.actor, e.actor)
        detail = f"{e.detail} ({by})" if e.detail else by
        what = EVENT_WORDS.get(e.kind, e.kind)
        if e.kind == "unsubscribed" and e.actor not in ("desk", "cli"):
            what = "Unsubscribed"
        events.append(Event(e.at, what, detail, rank=150))
    if reader.unsubscribed_at and "unsubscribed" not in kinds:  # (before the record began)
        events.append(Event(reader.unsubscribed_at, "Unsubscribed", rank=200))
    events.sort(key=lambda e: (e.at, e.rank))
    return reader, events
