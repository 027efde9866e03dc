"""``/confirm/<token>``: double opt-in. The link opens a page with one button; only the
button’s POST confirms, so a mail scanner that follows links confirms nobody."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.outbox import claims
from service.readers import lifecycle
from service.store.models import Delivery, DeliveryKind, DeliveryStatus, ReaderStatus
from service.tokens import ConfirmTokens, TokenExpired, TokenInvalid
from service.web.errors import error_page
from service.web.security import limiter
from service.web.shared import context, send_confirmation_soon, use_course

bp = Blueprint("confirm", __name__)

#: Tokens are short; anything longer is not one of ours.
MAX_TOKEN = 200


def _tokens() -> ConfirmTokens:
    return ConfirmTokens(context().settings.SECRET_KEY)


def _invalid() -> ResponseReturnValue:
    return error_page(
        400,
        title="This confirmation link doesn’t work",
        detail="It may have been cut short when it was copied. Please open the newest "
        "confirmation email and use its button, or sign up again on the course page.",
    )


def _expired(token: str) -> ResponseReturnValue:
    return render_template("link_expired.html", token=token), 410


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> ResponseReturnValue:
    if len(token) > MAX_TOKEN:
        return _invalid()
    try:
        public_id, slug = _tokens().read(token)
    except TokenExpired:
        return _expired(token)
    except TokenInvalid:
        return _invalid()
    ctx = context()
    with ctx.database.session(read_only=request.method == "GET") as session:
        reader = lifecycle.find_by_public_id(session, public_id)
        if reader is None:
            return _invalid()
        joining = reader.status == ReaderStatus.ACTIVE and lifecycle.waiting_to_join(
            session, reader, slug
        )
        course = lifecycle.course_asked_for(reader, slug)
        use_course(course.slug)
        if reader.status == ReaderStatus.ACTIVE and not joining:
            return render_template("confirmed.html", already=True)
        if reader.status not in (ReaderStatus.PENDING, ReaderStatus.ACTIVE):
            return render_template("confirm_left.html"), 410
        if request.method == "GET":
            return render_template("confirm.html", token=token, joining=joining)
        confirmed = lifecycle.confirm(session, reader, course=course, now=ctx.clock.now())
        others = joining and _other_course_today(session, reader.id)
    return render_template("confirmed.html", already=not confirmed, waits=others)


def _other_course_today(session: Session, reader_id: int) -> bool:
    """Whether the reader had another course's email today, so this one's welcome waits a
    day (a reader gets one course email a day)."""
    since = context().clock.now() - claims.ONE_DAY
    found = session.scalar(
        select(Delivery.id).where(
            Delivery.reader_id == reader_id,
            Delivery.kind == DeliveryKind.STEP,
            Delivery.created_at > since,
            Delivery.status != DeliveryStatus.CANCELLED,
        )
    )
    return found is not None


@bp.post("/confirm/resend")
@limiter.limit("5 per hour")
def resend() -> ResponseReturnValue:
    token = request.form.get("token", "")
    try:
        public_id, slug = _tokens().read_any_age(token[:MAX_TOKEN])
    except TokenInvalid:
        return _invalid()
    ctx = context()
    with ctx.database.session(read_only=True) as session:
        reader = lifecycle.find_by_public_id(session, public_id)
        if reader is None:
            abort(404)
        joining = lifecycle.waiting_to_join(session, reader, slug)
    if reader.status == ReaderStatus.ACTIVE and not joining:
        return render_template("confirmed.html", already=True)
    with ctx.database.session() as session:
        result = lifecycle.sign_up(
            session,
            email=reader.email,
            first_name=reader.first_name,
            timezone=reader.timezone,
            now=ctx.clock.now(),
            mail_domain=ctx.settings.mail_domain,
            course=slug or reader.pending_course,
        )
    if result.queued:
        send_confirmation_soon(reader.id)
    return render_template("check_inbox.html", fresh_link=True)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
