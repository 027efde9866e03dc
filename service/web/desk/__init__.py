"""``/admin``: the therapist’s desk, one blueprint in several modules.

- ``signin``: the guard every desk page passes, signing in (with the code) and out, and the
  audit log's lines for what is opened and done;
- ``account``: your own account (password, sign-in code, signing out everywhere) and the
  audit log's page;
- ``overview``: the first page, the course’s figures;
- ``lists``: readers, replies and emails by state, and one reader’s timeline;
- ``actions``: what the therapist may do to one reader or one reply;
- ``answering``: her answer to a reply, sent from the course's address;
- ``course``: the course’s emails as readers get them, a test send, the share page;
- ``sending``: Sending setup, the DNS records to publish and whether mail can leave and
  come back (what ``coursemail doctor`` prints).

Views only: each parses the request, calls ``service.desk`` or ``service.readers``, and
renders. Registering the blueprint here puts every one of its pages behind the guard.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask import Blueprint, Flask

from service import spoken
from service.desk import words

if TYPE_CHECKING:
    from service.settings import Settings

bp = Blueprint("desk", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    # their pages join this blueprint
    from service.web.desk import (  # noqa: F401
        account,
        actions,
        answering,
        course,
        details,
        editor,
        lists,
        overview,
        sending,
        signin,
    )

    app.register_blueprint(bp)


@bp.app_template_filter("desk_time")
def desk_time(moment: datetime | None) -> str:
    """A time as the desk shows it: in the therapist’s own zone (THERAPIST_TIMEZONE)."""
    return spoken.on_the_desk(moment, therapist_zone())


def therapist_zone() -> str:
    from service.web.shared import context, course

    return context().settings.THERAPIST_TIMEZONE or course().timezone


@bp.context_processor
def _words() -> dict[str, object]:
    return {
        "reader_state": words.reader_state,
        "reader_address": words.address,
        "email_state": words.email_state,
        "reply_state": lambda status: words.reply_state(status, _settings().REPLY_FORWARD),
        "place": spoken.place,
        "therapist_zone": therapist_zone,
        "email_name": _email_name,
        "retention_days": _settings().REPLY_RETENTION_DAYS,
    }


def _settings() -> Settings:
    from service.web.shared import context

    return context().settings


def _email_name(step: int | None) -> str:
    from service.web.shared import course

    return course().email_name(step)
