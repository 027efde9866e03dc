"""Deliberate sends, asked for on the desk or the command line: an email sent again to its
reader, and a test of any course email to an address typed in; and the therapist's email
that course email is held (enqueued by the tick).

A resend goes to the reader on purpose, once per request, and is recorded on their
timeline. A test is never a reader's delivery: no row is written, nothing is counted, its
subject starts with ``[TEST]`` and replies to it go straight to the therapist.
"""

from __future__ import annotations

import logging

from emails import wire
from emails.alert import hold_alert
from emails.course import CourseError, default_course
from emails.message import build_message
from emails.render import Renderer
from service import spoken
from service.courses import drafts, versions
from service.desk.preview import sample_parts
from service.outbox import holds, providers
from service.outbox.resend import record_resent, resendable, why_not_resend
from service.readers import history
from service.readers.actions import ActionRefused
from service.readers.lifecycle import is_suppressed
from service.store.models import Delivery
from workers.runtime import Runtime
from workers.sending import outgoing_for
from workers.transport import DeliveryError, Outgoing

log = logging.getLogger("coursemail.desk")


def resend(rt: Runtime, delivery_id: int, *, actor: str, any_sent: bool = False) -> str:
    """Send delivery ``delivery_id`` again, now; returns the address it went to.

    ``any_sent`` (the desk) allows an email that was simply sent (a reader who lost it);
    otherwise only an ambiguous or failed one is resent (``coursemail resend``). Raises
    ``Refused`` saying why when it may not go or the server would not take it.
    """
    with rt.database.session() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            raise ActionRefused(f"there is no email #{delivery_id}")
        suppressed = is_suppressed(session, delivery.reader.email)
        if any_sent:
            resendable(session, delivery.reader, delivery_id)
            if suppressed:
                raise ActionRefused(
                    "the address is suppressed (it bounced); nothing more goes to it"
                )
        else:
            refusal = why_not_resend(delivery, suppressed=suppressed)
            if refusal:
                raise ActionRefused(refusal)
        outgoing = outgoing_for(rt, delivery)
    _send(rt, outgoing)
    with rt.database.session() as session:
        again = session.get(Delivery, delivery_id)
        assert again is not None
        now = rt.clock.now()
        record_resent(session, again, now=now, time_scale=rt.settings.COURSEMAIL_TIME_SCALE)
        what = "the confirmation" if again.step is None else f"email {again.step}"
        history.record(
            session,
            again.reader,
            "resent",
            actor=actor,
            now=now,
            detail=f"{what}, {again.message_id}",
        )
    log.info("email #%d sent again on purpose (%s)", delivery_id, actor)
    return outgoing.recipient


def send_draft_test(rt: Runtime, slug: str, step: int | None, to: str) -> str:
    """Email ``step`` of the desk's draft of ``slug`` (not yet published) as a test."""
    with rt.database.session(read_only=True) as session:
        draft = drafts.current(session, slug)
    try:
        course = versions.load(slug, draft.files)
    except CourseError as error:
        raise ActionRefused(f"the draft has a problem to fix first: {error}") from None
    return send_test(rt, step, to, course=Renderer(course, rt.contact(course)))


def send_test(rt: Runtime, step: int | None, to: str, *, course: Renderer | None = None) -> str:
    """Course email ``step`` (None: the confirmation) to ``to``, as the sample reader gets it
    on the desk, with ``[TEST]`` before its subject; returns the subject. ``course``: a
    renderer of a draft, instead of the course as published."""
    renderer = course or rt.renderer(default_course())
    course_now = renderer.course
    if step is not None and not 0 <= step < len(course_now.steps):
        raise ActionRefused(f"the course has emails 0 to {len(course_now.steps) - 1}")
    parts = sample_parts(renderer, rt.settings, step, to=to, now=rt.clock.now(), test=True)
    sender = rt.settings.MAIL_FROM
    try:
        outgoing = Outgoing.raw(sender, to, wire.write(*parts))
    except wire.Unwritable:
        outgoing = Outgoing.of(sender, to, build_message(*parts))
    _send(rt, outgoing)
    log.info("a test of email %s was sent", "confirmation" if step is None else step)
    return parts[0].subject


def _send(rt: Runtime, outgoing: Outgoing) -> None:
    transport = rt.make_transport()
    try:
        transport.send(
            outgoing.envelope_from, [outgoing.recipient], outgoing.data, smtputf8=outgoing.smtputf8
        )
    except DeliveryError as error:
        raise ActionRefused(str(error)) from None
    finally:
        transport.close()


def alert_hold(rt: Runtime, scope: str) -> str:
    """Email the therapist that course email is held (``scope``: a provider group, or all of
    it), with the words that caused it; nothing when the hold has ended meanwhile."""
    now = rt.clock.now()
    with rt.database.session() as session:
        held = holds.active_holds(session, now=now).get(scope)
        if held is None:
            return "no hold: nothing to say"
        reason, until = held.reason, held.until
    course = default_course()
    zone = rt.settings.THERAPIST_TIMEZONE or course.timezone
    contact = rt.contact(course)
    s = rt.settings
    message = hold_alert(
        course_title=course.title,
        who="" if scope == holds.COURSE else providers.spoken_provider(scope),
        words=reason,
        until=None if until is None else spoken.on_the_desk(until, zone),
        sender=s.MAIL_FROM,
        therapist=contact.therapist_email,
        domain=s.mail_domain,
        date=now,
        desk_url=f"{s.PUBLIC_URL}/admin/setup",
    )
    _send(rt, Outgoing.of(s.MAIL_FROM, contact.therapist_email, message))
    log.info("the therapist was told course email to %s is held", scope)
    return str(message["Subject"])
