"""``/private``: what a reader wrote, everything kept about them, the archive of a discreet
reader, and erasing, behind a fresh link emailed to them (``service.readers.private``).

Opening ``/private/<token>`` changes nothing (mail scanners follow links): its button spends
the link, and this browser then holds the private pages open for ``private.OPEN_FOR``, until
it is closed. The cookie only names the link; whether it is open is the link's row.
"""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from service.readers import actions, erasure, export, lifecycle, private
from service.readers.actions import ActionRefused
from service.store.models import Reader
from service.tokens import PreferencesTokens, PrivateLinkTokens, TokenInvalid
from service.web.shared import context

bp = Blueprint("private", __name__, url_prefix="/private")
MAX_TOKEN = 300
#: The session key holding [public id, the link's delivery id].
OPENED = "private_open"
NOT_A_LINK = "This link isn’t complete. Please use the one in your email."


def _token(token: str) -> tuple[str, int]:
    if len(token) > MAX_TOKEN:
        abort(404, description=NOT_A_LINK)
    try:
        return PrivateLinkTokens(context().settings.SECRET_KEY).read(token)
    except TokenInvalid:
        abort(404, description=NOT_A_LINK)


@bp.get("/<token>")
def link(token: str) -> ResponseReturnValue:
    public_id, delivery_id = _token(token)
    ctx = context()
    with ctx.database.session(read_only=True) as db:
        found = private.look(db, public_id, delivery_id, now=ctx.clock.now())
    if found.state == "unknown":
        abort(404, description=NOT_A_LINK)
    return render_template("private_link.html", token=token, state=found.state)


@bp.post("/<token>")
def open_link(token: str) -> ResponseReturnValue:
    public_id, delivery_id = _token(token)
    ctx = context()
    with ctx.database.session() as db:
        reader = private.use(db, public_id, delivery_id, now=ctx.clock.now())
    if reader is None:
        return redirect(url_for("private.link", token=token), 303)
    session[OPENED] = [public_id, delivery_id]
    return redirect(url_for("private.page"), 303)


@bp.post("/<token>/again")
def again(token: str) -> ResponseReturnValue:
    """A used or old link's page offers a new one, sent to the same address."""
    public_id, _ = _token(token)
    ctx = context()
    try:
        with ctx.database.session() as db:
            reader = lifecycle.find_by_public_id(db, public_id)
            if reader is None:
                abort(404, description=NOT_A_LINK)
            private.ask(db, reader, now=ctx.clock.now(), mail_domain=ctx.settings.mail_domain)
    except ActionRefused as refusal:
        return render_template("private_link.html", token=token, state="refused", why=str(refusal))
    return render_template("private_link.html", token=token, state="sent")


def _opened(db: Session) -> Reader:
    """The reader whose private pages this browser holds open, else a page saying how to
    open them."""
    held = session.get(OPENED)
    if isinstance(held, list) and len(held) == 2 and isinstance(held[1], int):
        reader = private.held_open(db, str(held[0]), held[1], now=context().clock.now())
        if reader is not None:
            return reader
    session.pop(OPENED, None)
    abort(
        403,
        description="These pages open only through the private link we email you, for 30 "
        "minutes. Ask for one on your preferences page (the link at the foot of any email).",
    )


@bp.get("")
def page() -> ResponseReturnValue:
    with context().database.session(read_only=True) as db:
        return _page(db, _opened(db))


def _page(db: Session, reader: Reader, **extra: str) -> str:
    return render_template(
        "private.html",
        data=export.their_data(db, reader),
        discreet=reader.discreet,
        preferences_token=PreferencesTokens(context().settings.SECRET_KEY).make(reader.public_id),
        stays=_what_stays(),
        **extra,
    )


def _what_stays() -> list[str]:
    """What erasing cannot reach, said before and after."""
    settings = context().settings
    words = [
        "the emails you received, in your own mailbox;",
        "the service’s backups, until they are replaced by newer ones;",
    ]
    if settings.REPLY_FORWARD == "full":
        words.append(
            f"copies of your replies that were forwarded to {context().contact().therapist_name}’s "
            "email inbox: ask her to delete them too;"
        )
    words.append("a note that an erased reader once took the course, with no name or address.")
    return words


@bp.get("/my-data.json")
def my_data() -> ResponseReturnValue:
    with context().database.session(read_only=True) as db:
        data = export.their_data(db, _opened(db))
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-course-data.json"'},
    )


@bp.get("/archive")
def archive() -> ResponseReturnValue:
    from service.web.preferences import archive_page

    with context().database.session(read_only=True) as db:
        reader = _opened(db)
        return archive_page(db, reader, back=url_for("private.page"))


@bp.post("/erase")
def erase() -> ResponseReturnValue:
    ctx = context()
    if request.form.get("sure") != "yes":
        with ctx.database.session(read_only=True) as db:
            sure = "Please tick the box to say you are sure: erasing cannot be undone."
            return _page(db, _opened(db), erase_error=sure), 400
    with ctx.database.session() as db:
        reader = _opened(db)
        erasure.erase(db, reader, now=ctx.clock.now(), actor="reader")
    erasure.after_erase(ctx.database)
    session.pop(OPENED, None)
    return render_template("erased.html", stays=_what_stays())


@bp.post("/discreet-off")
def discreet_off() -> ResponseReturnValue:
    """Turning discreet mode off opens a discreet reader's archive to the footer's link, so
    it is done here, behind the private link, never from the footer alone."""
    ctx = context()
    with ctx.database.session() as db:
        reader = _opened(db)
        done = actions.set_discreet(db, reader, False, now=ctx.clock.now(), actor="reader")
        return _page(db, reader, discreet_done=done)


@bp.post("/close")
def close() -> ResponseReturnValue:
    held = session.pop(OPENED, None)
    if isinstance(held, list) and len(held) == 2 and isinstance(held[1], int):
        ctx = context()
        with ctx.database.session() as db:
            private.close(db, held[1], now=ctx.clock.now())
    return render_template("private_link.html", token="", state="closed")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
