"""``/u/<token>``: leave with one click.

A GET shows a page with a button and changes nothing (link scanners and previews follow
GETs). Any POST unsubscribes at once: the page’s button, or a mail provider’s RFC 8058
one-click POST (body ``List-Unsubscribe=One-Click``, no cookie, no CSRF token, perhaps no
Content-Type), which is why this route is exempt from CSRF and reads no form.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue

from service.readers import lifecycle
from service.store.models import ReaderStatus
from service.tokens import PreferencesTokens
from service.web.security import csrf
from service.web.shared import context

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
            return render_template(
                "unsubscribe.html", token=token, left=left, preferences_url=preferences
            )
        one_click = b"List-Unsubscribe=One-Click" in request.get_data(cache=False)[:1024]
        how = "one-click" if one_click else "page"
        lifecycle.mark_unsubscribed(session, reader, now=ctx.clock.now(), how=how)
    log.info("unsubscribed reader %s (%s)", reader.id, "one-click" if one_click else "page")
    return render_template("unsubscribed.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
