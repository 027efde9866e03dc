"""``/dev/mail``: the development mail catcher's inbox. Never registered in production."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from flask import Blueprint, Flask, abort, render_template
from flask.typing import ResponseReturnValue

from service.web import runtime
from workers.mailcatcher import mail_folder

bp = Blueprint("devmail", __name__, url_prefix="/dev/mail")

#: The newest messages shown in the list.
LIST_LIMIT = 200


def _folder() -> Path:
    return mail_folder(runtime().settings.instance_path)


def _load(name: str) -> EmailMessage:
    if not name.isdigit():
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


@bp.get("/<name>")
def show(name: str) -> ResponseReturnValue:
    message = _load(name)
    text = message.get_body(("plain",))
    return render_template(
        "devmail/message.html",
        name=name,
        headers=list(message.items()),
        text=text.get_content() if text is not None else "",
        has_html=message.get_body(("html",)) is not None,
    )


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
