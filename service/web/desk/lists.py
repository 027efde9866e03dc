"""The desk’s lists: readers (search, filters, keyset pages) and replies (newest first, the
urgent ones marked and filterable, each readable whole and downloadable as it arrived).
Registered on the desk’s blueprint, so the sign-in guard covers every one of them."""

from __future__ import annotations

from flask import Response, abort, redirect, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from emails.course import course_version, published_slugs, shipped_course
from service.desk import lists
from service.desk.timeline import timeline
from service.inbox import answers
from service.readers.actions import current_enrollment
from service.store.models import (
    UNDER_WAY,
    Enrollment,
    EnrollmentStatus,
    InboundCategory,
    InboundMessage,
    Reader,
    ReaderStatus,
)
from service.web.desk import bp, desk_time
from service.web.shared import context, course

STATES = [s.value for s in ReaderStatus]


def _int(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not (raw.isdecimal() and raw.isascii()) or len(raw) > 12:
        abort(400, description=f"{name} must be a whole number")
    return int(raw)


@bp.get("/subscribers", defaults={"rest": ""})
@bp.get("/subscribers/<path:rest>")
def old_address(rest: str) -> ResponseReturnValue:
    """The readers' pages were once under /admin/subscribers: a bookmark still opens them."""
    query = request.query_string.decode("ascii", "replace")
    target = "/admin/readers" + (f"/{rest}" if rest else "") + (f"?{query}" if query else "")
    return redirect(target, 301)


@bp.get("/readers")
def readers() -> ResponseReturnValue:
    q = request.args.get("q", "").strip()[:200]
    state = request.args.get("state", "")
    if state and state not in STATES:
        abort(400, description="state must be one of " + ", ".join(STATES))
    step, before = _int("step"), _int("before")
    only = request.args.get("course", "")[:64] or None  # (checked by the desk's guard)
    with context().database.session(read_only=True) as session:
        rows, more = lists.find_readers(
            session, q=q, state=state, step=step, before=before, course=only
        )
    return render_template(
        "desk/readers.html",
        rows=rows,
        more=more,
        q=q,
        state=state,
        step=step,
        states=STATES,
        steps=range(len(course().steps)),
        only=only,
        courses=[(slug, shipped_course(slug).title) for slug in published_slugs()],
    )


@bp.get("/readers/<public_id>")
def reader(public_id: str) -> ResponseReturnValue:
    with context().database.session(read_only=True) as session:
        found = timeline(session, public_id[:64], course())
        if found is None:
            abort(404, description="There is no reader with that link.")
        reader, events = found
        enrollment = current_enrollment(session, reader)
        taking = _courses_of(session, reader)
    course_status = enrollment.status.value if enrollment else None
    return render_template(
        "desk/reader.html",
        reader=reader,
        events=events,
        course_status=course_status,
        actions=_actions(reader, course_status),
        taking=taking,
    )


def _courses_of(session: Session, reader: Reader) -> list[tuple[str, str]]:
    """Each course they joined (the latest time, if more than once) and where they are in
    it: "completed" per course, as the overview counts it."""
    latest: dict[str, Enrollment] = {}
    for enrollment in session.scalars(
        select(Enrollment).where(Enrollment.reader_id == reader.id).order_by(Enrollment.id)
    ):
        latest[enrollment.course] = enrollment
    found = []
    for slug, enrollment in latest.items():
        loaded = course_version(slug, enrollment.course_version)
        status = enrollment.status
        if status == EnrollmentStatus.COMPLETED:
            where = "completed" + (
                f" {desk_time(enrollment.completed_at)}" if enrollment.completed_at else ""
            )
        elif status == EnrollmentStatus.CANCELLED:
            where = "left"
        elif status in UNDER_WAY and enrollment.next_step < len(loaded.steps):
            where = f"{loaded.email_name(enrollment.next_step)} next" + (
                " (paused)" if status == EnrollmentStatus.PAUSED else ""
            )
        else:
            where = status.value
        found.append((loaded.title, where))
    return found


#: Whose emails may be sent again: a reader taking the course, or one still to confirm.
RESEND_TO = (ReaderStatus.ACTIVE, ReaderStatus.PENDING)


def _actions(reader: Reader, course_status: str | None) -> list[tuple[str, str]]:
    """The actions that make sense for this reader now, as (name, label)."""
    if reader.erased_at is not None:
        return []
    found = []
    if reader.status == ReaderStatus.ACTIVE and course_status == "active":
        found += [("pause", "Pause"), ("next", "Send the next email now")]
    if reader.status == ReaderStatus.ACTIVE and course_status == "paused":
        found.append(("resume", "Resume"))
    if reader.status in RESEND_TO:
        found.append(("unsubscribe", "Unsubscribe"))
    return [*found, ("erase", "Erase their data")]


@bp.get("/replies")
def replies() -> ResponseReturnValue:
    urgent = request.args.get("urgent") == "1"
    words = request.args.get("q", "").strip()[:200]
    with context().database.session(read_only=True) as session:
        if words:
            rows, more = lists.search_replies(
                session, words, urgent_only=urgent, before=_int("before")
            )
        else:
            rows, more = lists.find_replies(session, urgent_only=urgent, before=_int("before"))
    return render_template("desk/replies.html", rows=rows, more=more, urgent=urgent, q=words)


def _reply(reply_id: int) -> InboundMessage:
    with context().database.session(read_only=True) as session:
        message = session.get(InboundMessage, reply_id)
        if message is None or message.category != InboundCategory.REPLY:
            abort(404, description="There is no reply with that number.")
        return message


@bp.get("/replies/<int:reply_id>")
def reply(reply_id: int) -> ResponseReturnValue:
    return reply_page(reply_id)


def reply_page(reply_id: int, *, draft: str = "", error: str = "") -> str:
    """One reply, the answers given to it, and the form to answer (``draft``: what she had
    written when it could not go, and ``error`` why)."""
    from service.web.desk.answering import answer_subject

    message = _reply(reply_id)
    with context().database.session(read_only=True) as session:
        given = answers.for_reply(session, reply_id)
        writer = answers.writer_of(session, message)
        subject = answer_subject(session, message, writer) if writer else ""
        return render_template(
            "desk/reply.html",
            message=message,
            answers=given,
            writer=writer,
            answer_subject=subject,
            fingerprint=answers.fingerprint(message),
            draft=draft,
            answer_error=error,
        )


@bp.get("/replies/<int:reply_id>.eml")
def reply_original(reply_id: int) -> ResponseReturnValue:
    message = _reply(reply_id)
    return Response(
        message.raw,
        mimetype="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="reply-{reply_id}.eml"'},
    )


@bp.get("/emails")
def deliveries() -> ResponseReturnValue:
    state = request.args.get("state", "")
    if state not in lists.LISTS:
        abort(400, description="state must be one of " + ", ".join(lists.LISTS))
    ctx = context()
    with ctx.database.session(read_only=True) as session:
        rows, more = lists.find_emails(
            session,
            state,
            now=ctx.clock.now(),
            claim_timeout=ctx.settings.claim_timeout,
            before=_int("before"),
        )
    return render_template(
        "desk/emails.html", rows=rows, more=more, state=state, title=lists.LISTS[state]
    )
