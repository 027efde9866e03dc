"""``/preferences/<token>``: the reader’s own page, from a signed link that never expires.

Looking changes nothing (mail scanners follow links); each action is a form’s POST with its
CSRF token, done through ``service.readers.actions`` and recorded as the reader’s own.

This link sits at the foot of every email, so it opens only what is safe in anyone's hands:
the pace, the hour, discreet mode, unsubscribing, the archive (unless the reader is
discreet) and their data without their replies' words. What they wrote, a discreet reader's
archive and erasing are behind a fresh private link sent to their address (``/private``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from emails.course import QUIET_FROM, QUIET_UNTIL
from emails.render import Renderer
from service import spoken
from service.outbox import sent
from service.readers import actions, export, lifecycle, private
from service.readers.actions import ActionRefused
from service.schedule import zone_for
from service.store.models import Delivery, Reader
from service.tokens import PreferencesTokens, TokenInvalid
from service.web.shared import context, course

bp = Blueprint("preferences", __name__, url_prefix="/preferences")
MAX_TOKEN = 200


def _reader(session: Session, token: str) -> Reader:
    if len(token) > MAX_TOKEN:
        abort(404)
    try:
        public_id = PreferencesTokens(context().settings.SECRET_KEY).read(token)
    except TokenInvalid:
        abort(404, description="This link isn’t complete. Please use the one in your email.")
    reader = lifecycle.find_by_public_id(session, public_id)
    if reader is None:
        abort(404, description="This link isn’t complete. Please use the one in your email.")
    return reader


@bp.get("/<token>")
def page(token: str) -> ResponseReturnValue:
    ctx = context()
    with ctx.database.session(read_only=True) as session:
        reader = _reader(session, token)
        enrollment = actions.current_enrollment(session, reader)
        loaded = course()
        zone = zone_for(reader.timezone, loaded.timezone).key
        next_at = enrollment.next_send_at if enrollment is not None else None
        resume_at = enrollment.resume_at if enrollment is not None else None
        return render_template(
            "preferences.html",
            token=token,
            reader=reader,
            course_state=enrollment.status.value if enrollment else None,
            next_at=spoken.when(next_at, zone) if next_at else None,
            hours=range(QUIET_UNTIL, QUIET_FROM),
            usual_hour=loaded.send_hour,
            pace=enrollment.pace if enrollment else 1,
            resume_day=spoken.day(resume_at, zone) if resume_at else None,
        )


def _scale() -> float:
    return context().settings.COURSEMAIL_TIME_SCALE


def _hour(session: Session, reader: Reader, **kw: object) -> str:
    raw = request.form.get("hour", "")
    hour = int(raw) if raw.isdecimal() and raw.isascii() else None
    return actions.choose_hour(session, reader, hour, scale=_scale(), **kw)  # type: ignore[arg-type]


def _slow(session: Session, reader: Reader, **kw: object) -> str:
    return actions.slow_down(session, reader, scale=_scale(), **kw)  # type: ignore[arg-type]


def _discreet(session: Session, reader: Reader, **kw: object) -> str:
    on = request.form.get("on") == "1"
    if reader.discreet and not on:
        # off would open their archive to whoever holds one forwarded email
        raise ActionRefused(
            "discreet mode is turned off from your private page, so that someone who only has "
            "one of your emails cannot. Ask for the private link below: it comes to your address."
        )
    return actions.set_discreet(session, reader, on, **kw)  # type: ignore[arg-type]


def _private_link(session: Session, reader: Reader, *, now: datetime, actor: str) -> str:
    return private.ask(session, reader, now=now, mail_domain=context().settings.mail_domain)


def _pause_a_week(session: Session, reader: Reader, **kw: object) -> str:
    return actions.pause(session, reader, days=7, **kw)  # type: ignore[arg-type]


ACTIONS: dict[str, Callable[..., str]] = {
    "pause": _pause_a_week,
    "slow": _slow,
    "usual": actions.usual_pace,
    "resume": actions.resume,
    "next": actions.next_now,
    "hour": _hour,
    "discreet": _discreet,
    "unsubscribe": actions.unsubscribe,
    "private-link": _private_link,
}


@bp.post("/<token>/<name>")
def act(token: str, name: str) -> ResponseReturnValue:
    if name not in ACTIONS:
        abort(404)
    ctx = context()
    try:
        with ctx.database.session() as session:
            message = ACTIONS[name](
                session, _reader(session, token), now=ctx.clock.now(), actor="reader"
            )
    except ActionRefused as refusal:
        flash(f"Nothing was changed: {refusal}", "error")
    else:
        flash(message, "done")
    return redirect(url_for("preferences.page", token=token), 303)


@bp.get("/<token>/archive")
def archive(token: str) -> ResponseReturnValue:
    """Every email received so far, readable here: a reader who deletes them from a shared
    inbox keeps the course. A discreet reader's opens through their private link."""
    with context().database.session(read_only=True) as session:
        reader = _reader(session, token)
        back = url_for("preferences.page", token=token)
        if reader.discreet:
            return render_template("private_locked.html", token=token, back=back), 403
        return archive_page(session, reader, back=back)


def archive_page(session: Session, reader: Reader, *, back: str) -> str:
    """The archive of ``reader``'s emails, with a link ``back`` where they came from."""
    contact = context().contact()
    renderers: dict[tuple[str, int], Renderer] = {}

    def renderer_for(delivery: Delivery) -> Renderer:
        """Each email in the words of its own course and version, as it was sent."""
        followed = sent.course_for(delivery.enrollment) if delivery.enrollment else course()
        key = (followed.slug, id(followed))
        if key not in renderers:
            renderers[key] = Renderer(followed, contact)
        return renderers[key]

    emails = [
        (
            d,
            renderer_for(d).render_step(
                d.step or 0, first_name=reader.first_name, unsubscribe_url=""
            ),
        )
        for d in export.received(session, reader)
    ]
    zone = zone_for(reader.timezone, course().timezone).key
    return render_template(
        "archive.html",
        back=back,
        emails=emails,
        sent_day=lambda moment: spoken.day(moment, zone),
    )


@bp.get("/<token>/my-data.json")
def my_data(token: str) -> ResponseReturnValue:
    """Everything kept about the reader, as JSON: what they gave, each email sent, when they
    replied (not what: that is behind the private link) and their consent record."""
    with context().database.session(read_only=True) as session:
        data = export.their_data(session, _reader(session, token), with_words=False)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-course-data.json"'},
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
