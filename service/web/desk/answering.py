"""``POST /admin/replies/<id>/answer``: the therapist answers a reply from the desk. The
answer is queued in the outbox (``service.inbox.answers``) and goes from the course's address
within a tick, threaded to the reader's message, under the name their inbox already shows."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from emails.discretion import reply_subject
from service.inbox import answers
from service.readers.actions import ActionRefused
from service.store.models import Delivery, InboundMessage, Reader
from service.web.desk import bp
from service.web.desk.lists import reply_page
from service.web.shared import context, course


def answer_subject(session: Session, row: InboundMessage, reader: Reader) -> str:
    """ "Re:" and the reader's own subject; for a discreet reader only when it names nothing
    of the course, else the neutral subject of the email they answered."""
    loaded = course()
    delivery = session.get(Delivery, row.delivery_id) if row.delivery_id else None
    step = delivery.step if delivery is not None else None
    if reader.discreet:
        plan = loaded.discreet
        neutral = plan.subject_for(step + 1, len(loaded.steps)) if step is not None else plan.sender
        return reply_subject(row.subject or "", neutral, plan)
    fallback = loaded.step(step).subject if step is not None else loaded.title
    return reply_subject(row.subject or "", fallback)


@bp.post("/replies/<int:reply_id>/answer")
def answer(reply_id: int) -> ResponseReturnValue:
    ctx = context()
    text = request.form.get("text", "")
    try:
        with ctx.database.session() as session:
            row = session.get(InboundMessage, reply_id)
            if row is None or request.form.get("reply", "") != answers.fingerprint(row):
                # the reply she opened is gone (erased), and its number may now be another's
                return render_template("desk/answer_lost.html", draft=text), 409
            writer = answers.writer_of(session, row)
            answers.queue(
                session,
                row,
                text=text,
                subject=answer_subject(session, row, writer) if writer else "",
                now=ctx.clock.now(),
                mail_domain=ctx.settings.mail_domain,
                by_user=g.get("desk_user"),
            )
            if not row.handled_at:
                row.handled_at = ctx.clock.now()
    except ActionRefused as refusal:
        # her words stay in the form (never in an address, where a log would keep them)
        return reply_page(reply_id, draft=text, error=f"Nothing was sent: {refusal}"), 400
    flash("Your answer is on its way: it goes within a minute, and shows below.", "done")
    return redirect(url_for("desk.reply", reply_id=reply_id), 303)
