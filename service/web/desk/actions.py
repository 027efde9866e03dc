"""The desk’s actions on one reader (pause, resume, next email now, resend one, unsubscribe,
erase) and on one reply (mark handled). A link opens a page that says what will happen; only
its form’s POST (with CSRF) changes anything, so a stray click or a link checker never does.
Registered on the desk’s blueprint, so the sign-in guard covers every one of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from service import queues
from service.inbox import answers
from service.outbox import handoff, resend
from service.readers import actions, erasure, lifecycle
from service.readers.actions import ActionRefused
from service.store.models import InboundCategory, InboundMessage, Reader
from service.web.desk import bp
from service.web.shared import context


class Action(NamedTuple):
    label: str
    #: what happens, said before it does
    warning: str
    run: Callable[..., str] | None


ACTIONS = {
    "pause": Action(
        "Pause their course",
        "Nothing more goes to them until you resume it. An email already being handed to the "
        "mail server may still arrive.",
        actions.pause,
    ),
    "resume": Action(
        "Resume their course",
        "The course goes on where it stopped, keeping the wait that was left.",
        actions.resume,
    ),
    "next": Action(
        "Send their next email now",
        "Their next email goes out within a minute; the one after keeps its usual wait.",
        actions.next_now,
    ),
    "unsubscribe": Action(
        "Unsubscribe them",
        "Nothing more goes to them. They can sign up again themselves.",
        actions.unsubscribe,
    ),
    "erase": Action(
        "Erase their data",
        "Their address, name, consent records and replies are deleted for good, and they are "
        "unsubscribed; a reply they send later is refused, never kept. An anonymous row stays "
        "so the course’s numbers stay true. This cannot be undone. What it cannot reach: the "
        "service’s backups until they are replaced, the emails they received, and any reply "
        "forwarded whole to your own inbox (REPLY_FORWARD=full): delete those there.",
        erasure.erase,
    ),
    "resend": Action(
        "Send this email again",
        "The email goes to them once more, now, exactly as before.",
        None,  # a worker sends it: see _resend
    ),
}


def _reader(session: Session, public_id: str) -> Reader:
    reader = lifecycle.find_by_public_id(session, public_id[:64])
    if reader is None:
        abort(404, description="There is no reader with that link.")
    return reader


def _action(name: str) -> Action:
    if name not in ACTIONS:
        abort(404, description="There is no such action.")
    return ACTIONS[name]


def _delivery_id() -> int | None:
    raw = request.values.get("delivery", "")
    return int(raw) if raw.isdecimal() and raw.isascii() and len(raw) < 12 else None


@bp.get("/readers/<public_id>/<name>")
def confirm_action(public_id: str, name: str) -> ResponseReturnValue:
    action = _action(name)
    delivery_id = _delivery_id()
    if name == "resend" and delivery_id is None:
        abort(400, description="Say which email to send again.")
    with context().database.session(read_only=True) as session:
        reader = _reader(session, public_id)
        label = reader.first_name or reader.email
    return render_template(
        "desk/confirm.html",
        action=action,
        name=name,
        public_id=public_id,
        label=label,
        delivery_id=delivery_id,
    )


@bp.post("/readers/<public_id>/<name>")
def take_action(public_id: str, name: str) -> ResponseReturnValue:
    action = _action(name)
    ctx = context()
    back = redirect(url_for("desk.reader", public_id=public_id), 303)
    if action.run is None:
        _resend(public_id)
        return back
    try:
        with ctx.database.session() as session:
            message = action.run(
                session, _reader(session, public_id), now=ctx.clock.now(), actor="desk"
            )
    except ActionRefused as refusal:
        flash(f"Nothing was changed: {refusal}", "error")
        return back
    if name == "erase":
        erasure.after_erase(ctx.database)
    flash(message, "done")
    return back


def _resend(public_id: str) -> None:
    ctx = context()
    delivery_id = _delivery_id()
    if delivery_id is None:
        abort(400, description="Say which email to send again.")
    try:
        with ctx.database.session(read_only=True) as session:
            resend.resendable(session, _reader(session, public_id), delivery_id)
    except ActionRefused as refusal:
        flash(f"Nothing was sent: {refusal}", "error")
        return
    if handoff.enqueue_desk_job(ctx, queues.RESEND, delivery_id, "desk"):
        flash("On its way again: it appears below once the mail server has it.", "done")
    else:
        flash("Nothing was sent: the queue is not answering. Try again in a minute.", "error")


@bp.post("/replies/<int:reply_id>/handled")
def mark_handled(reply_id: int) -> ResponseReturnValue:
    ctx = context()
    handled = request.form.get("handled", "1") == "1"
    with ctx.database.session() as session:
        message = session.get(InboundMessage, reply_id)
        if message is None or message.category != InboundCategory.REPLY:
            abort(404, description="There is no reply with that number.")
        if request.form.get("reply", "") != answers.fingerprint(message):
            abort(409, description="That reply is no longer the one you opened: nothing changed.")
        message.handled_at = ctx.clock.now() if handled else None
    flash("Marked handled." if handled else "Marked as not handled yet.", "done")
    return redirect(url_for("desk.reply", reply_id=reply_id), 303)
