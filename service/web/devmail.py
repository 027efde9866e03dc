"""``/dev/mail``: the development mail catcher’s inbox. Never registered in production."""

from __future__ import annotations

import smtplib
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP, default
from email.utils import parseaddr
from pathlib import Path

from flask import Blueprint, Flask, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from emails.reader_reply import body_text, reader_reply
from service.web.errors import error_page
from service.web.shared import context

bp = Blueprint("devmail", __name__, url_prefix="/dev/mail")

#: The newest messages shown in the list.
LIST_LIMIT = 200


def _folder() -> Path:
    return context().settings.caught_mail


def _load(name: str) -> EmailMessage:
    if not (name.isdecimal() and name.isascii()):
        abort(404)
    path = _folder() / f"{name}.eml"
    if not path.is_file():
        abort(404)
    parsed = message_from_bytes(path.read_bytes(), policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@bp.get("")
def inbox() -> ResponseReturnValue:
    folder = _folder()
    files = sorted(folder.glob("*.eml"), reverse=True)[:LIST_LIMIT] if folder.is_dir() else []
    rows = []
    for path in files:
        message = message_from_bytes(path.read_bytes(), policy=default)
        rows.append(
            {
                "id": path.stem,
                "to": message["To"],
                "subject": message["Subject"],
                "date": message["Date"],
            }
        )
    return render_template("devmail/inbox.html", rows=rows)


def _tracked_reply_to(message: EmailMessage) -> str | None:
    """The message’s reply address, when it is one of ours the listener would accept."""
    address = parseaddr(str(message.get("Reply-To", "")))[1]
    return address if context().addresses.read(address) is not None else None


@bp.get("/<name>")
def show(name: str) -> ResponseReturnValue:
    message = _load(name)
    return render_template(
        "devmail/message.html",
        name=name,
        headers=list(message.items()),
        text=body_text(message),
        has_html=message.get_body(("html",)) is not None,
        reply_to=_tracked_reply_to(message),
        sent=request.args.get("replied") == "1",
    )


@bp.post("/<name>/reply")
def reply(name: str) -> ResponseReturnValue:
    """Answer a caught email as its reader would: over SMTP, into the inbound listener."""
    original = _load(name)
    to = _tracked_reply_to(original)
    words = request.form.get("text", "").strip()
    if to is None or not words:
        return error_page(
            400,
            title="Nothing to send",
            detail="Write a reply first; only course emails can be answered here.",
        )
    reader, answer = reader_reply(original, words, to=to)
    settings = context().settings
    try:
        with smtplib.SMTP(
            settings.INBOUND_SMTP_HOST, settings.INBOUND_SMTP_PORT, timeout=10
        ) as smtp:
            smtp.sendmail(reader, [to], answer.as_bytes(policy=SMTP))
    except (OSError, smtplib.SMTPException) as error:
        return error_page(
            503,
            title="The reply listener didn’t answer",
            detail=f"Nothing is listening on {settings.INBOUND_SMTP_HOST}:"
            f"{settings.INBOUND_SMTP_PORT} ({error}). Start everything with make run.",
        )
    return redirect(url_for("devmail.show", name=name, replied=1), code=303)


@bp.get("/<name>/html")
def html(name: str) -> ResponseReturnValue:
    part = _load(name).get_body(("html",))
    if part is None:
        abort(404)
    return (
        part.get_content(),
        200,
        {
            "Content-Type": "text/html; charset=utf-8",
            # the email's HTML is shown framed and inert: no scripts, no forms, no plugins
            "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:; frame-ancestors 'self'",
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


def init_app(app: Flask) -> None:
    if not app.config["COURSEMAIL"].is_production:
        app.register_blueprint(bp)
