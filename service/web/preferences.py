"""``/preferences/<token>``: the reader's own page, from a signed link that never expires.

Looking changes nothing (mail scanners follow links); each action is a form's POST with its
CSRF token, done through ``service.reader_actions`` and recorded as the reader's own.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from emails.course import QUIET_FROM, QUIET_UNTIL
from service import lifecycle, reader_actions
from service.models import Subscriber
from service.reader_actions import Refused
from service.schedule import zone_for
from service.tokens import PreferencesTokens, TokenInvalid
from service.web.shared import course, runtime

bp = Blueprint("preferences", __name__, url_prefix="/preferences")
MAX_TOKEN = 200


def _reader(session: Session, token: str) -> Subscriber:
    if len(token) > MAX_TOKEN:
        abort(404)
    try:
        public_id = PreferencesTokens(runtime().settings.SECRET_KEY).read(token)
    except TokenInvalid:
        abort(404, description="This link isn't complete. Please use the one in your email.")
    reader = lifecycle.find_by_public_id(session, public_id)
    if reader is None:
        abort(404, description="This link isn't complete. Please use the one in your email.")
    return reader


@bp.get("/<token>")
def page(token: str) -> ResponseReturnValue:
    rt = runtime()
    with rt.database.session(read_only=True) as session:
        reader = _reader(session, token)
        enrollment = reader_actions.current_enrollment(session, reader)
        loaded = course()
        zone = zone_for(reader.timezone, loaded.timezone)
        next_at = (
            enrollment.next_send_at.astimezone(zone)
            if enrollment is not None and enrollment.next_send_at
            else None
        )
        return render_template(
            "preferences.html",
            token=token,
            reader=reader,
            course_state=enrollment.status.value if enrollment else None,
            next_at=next_at,
            hours=range(QUIET_UNTIL, QUIET_FROM),
            usual_hour=loaded.send_hour,
        )


def _hour(session: Session, reader: Subscriber, **kw: object) -> str:
    raw = request.form.get("hour", "")
    hour = int(raw) if raw.isdigit() else None
    return reader_actions.choose_hour(session, reader, hour, **kw)  # type: ignore[arg-type]


def _discreet(session: Session, reader: Subscriber, **kw: object) -> str:
    on = request.form.get("on") == "1"
    return reader_actions.set_discreet(session, reader, on, **kw)  # type: ignore[arg-type]


def _erase(session: Session, reader: Subscriber, **kw: object) -> str:
    if request.form.get("sure") != "yes":
        raise Refused("Please tick the box to say you are sure: erasing cannot be undone.")
    return reader_actions.erase(session, reader, **kw)  # type: ignore[arg-type]


ACTIONS: dict[str, Callable[..., str]] = {
    "pause": reader_actions.pause,
    "resume": reader_actions.resume,
    "next": reader_actions.next_now,
    "hour": _hour,
    "discreet": _discreet,
    "unsubscribe": reader_actions.unsubscribe,
    "erase": _erase,
}


@bp.post("/<token>/<name>")
def act(token: str, name: str) -> ResponseReturnValue:
    if name not in ACTIONS:
        abort(404)
    rt = runtime()
    try:
        with rt.database.session() as session:
            message = ACTIONS[name](
                session, _reader(session, token), now=rt.clock.now(), actor="reader"
            )
    except Refused as refusal:
        flash(f"Nothing was changed: {refusal}", "error")
    else:
        flash(message, "done")
    return redirect(url_for("preferences.page", token=token), 303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
