"""``/u/<token>``: leave with one click.

A GET shows a page with a button and changes nothing (link scanners and previews follow
GETs). Any POST unsubscribes at once: the page’s button, or a mail provider’s RFC 8058
one-click POST (body ``List-Unsubscribe=One-Click``, no cookie, no CSRF token, perhaps no
Content-Type), which is why this route is exempt from CSRF. A reader taking more than
one course is offered each one to leave alone, or all of them: the page's buttons send
``course=<slug>`` for one; anything else (a one-click POST included) leaves all.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from flask import Blueprint, Flask, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from emails.course import CourseError, is_published, shipped_course
from service.readers import lifecycle
from service.store.models import UNDER_WAY, Enrollment, ReaderStatus
from service.tokens import PreferencesTokens
from service.web.security import csrf
from service.web.shared import context, use_course

bp = Blueprint("unsubscribe", __name__)
log = logging.getLogger("coursemail.unsubscribe")

MAX_TOKEN = 64


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt
def leave(token: str) -> ResponseReturnValue:
    token = token.lower()
    if len(token) > MAX_TOKEN or not token.isalnum():
        abort(404)
    ctx = context()
    with ctx.database.session() as session:
        reader = lifecycle.find_by_unsubscribe_token(session, token)
        if reader is None:
            abort(404)
        if request.method == "GET":
            left = reader.status in (ReaderStatus.UNSUBSCRIBED, ReaderStatus.BOUNCED)
            preferences = None
            if reader.status == ReaderStatus.ACTIVE:  # a pause may be what they need
                link = PreferencesTokens(ctx.settings.SECRET_KEY).make(reader.public_id)
                preferences = url_for("preferences.page", token=link)
            _use_their_course(session, reader.id)
            return render_template(
                "unsubscribe.html",
                token=token,
                left=left,
                preferences_url=preferences,
                courses=_taking(session, reader.id) if not left else [],
            )
        body = request.get_data(cache=False)[:1024]
        one_click = b"List-Unsubscribe=One-Click" in body
        how = "one-click" if one_click else "page"
        only = "" if one_click else parse_qs(body.decode("ascii", "replace")).get("course", [""])[0]
        if only:  # one course named: never all of them (a second press finds it left)
            if lifecycle.leave_course(session, reader, only, now=ctx.clock.now(), how=how):
                log.info("reader %s left one course (%s)", reader.id, only)
            return render_template("unsubscribed.html", one=_title(only))
        lifecycle.mark_unsubscribed(session, reader, now=ctx.clock.now(), how=how)
    log.info("unsubscribed reader %s (%s)", reader.id, "one-click" if one_click else "page")
    return render_template("unsubscribed.html")


def _under_way(session: Session, reader_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Enrollment.course)
            .where(Enrollment.reader_id == reader_id, Enrollment.status.in_(UNDER_WAY))
            .distinct()
        )
    )


def _use_their_course(session: Session, reader_id: int) -> None:
    """The page names the course they take (the first course's words when several)."""
    slugs = _under_way(session, reader_id)
    if len(slugs) == 1 and is_published(slugs[0]):
        use_course(slugs[0])


def _taking(session: Session, reader_id: int) -> list[tuple[str, str]]:
    """(slug, title) of each course they are taking, when more than one (else none)."""
    slugs = _under_way(session, reader_id)
    return [(slug, _title(slug)) for slug in sorted(slugs)] if len(slugs) > 1 else []


def _title(slug: str) -> str:
    try:
        return shipped_course(slug).title
    except CourseError:
        return slug


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
