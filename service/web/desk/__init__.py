"""``/admin``: the therapist’s desk, one blueprint in several modules.

- ``signin``: the guard every desk page passes, signing in (with the code) and out, and the
  audit log's lines for what is opened and done;
- ``account``: your own account (password, sign-in code, signing out everywhere) and the
  audit log's page;
- ``overview``: the first page, the course’s figures;
- ``lists``: readers, replies and emails by state, and one reader’s timeline;
- ``actions``: what the therapist may do to one reader or one reply;
- ``answering``: her answer to a reply, sent from the course's address;
- ``courses``: her courses and "New course"; every course view takes ``?course=<slug>``
  (kept in its links; the first course without one);
- ``course``: the course’s emails as readers get them, a test send, the share page;
- ``sending``: Sending setup, the DNS records to publish and whether mail can leave and
  come back (what ``coursemail doctor`` prints).

Views only: each parses the request, calls ``service.desk`` or ``service.readers``, and
renders. Registering the blueprint here puts every one of its pages behind the guard.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, abort, g, request

from emails.course import published_slugs
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
        courses,
        details,
        editor,
        lists,
        overview,
        reshape,
        sending,
        signin,
    )

    app.register_blueprint(bp)


#: The views about one course: ``?course=<slug>`` chooses it, and their links keep it.
COURSE_VIEWS = frozenset(
    {
        "desk.course_page",
        "desk.course_email",
        "desk.course_email_html",
        "desk.send_test",
        "desk.share",
        "desk.editor_index",
        "desk.edit_email",
        "desk.save_draft",
        "desk.reshape_course",
        "desk.draft_html",
        "desk.send_draft_test",
        "desk.publish_page",
        "desk.publish_draft",
        "desk.discard_draft",
        "desk.versions_page",
        "desk.roll_back",
        "desk.details_page",
        "desk.save_details",
    }
)


@bp.before_request
def _which_course() -> None:
    from service.web.shared import use_course

    slug = request.args.get("course", "")[:64]
    if slug and not use_course(slug):
        abort(404, description="There is no course at that address.")


@bp.url_defaults
def _keep_course(endpoint: str, values: dict[str, object]) -> None:
    slug = g.get("course_slug")
    if slug and endpoint in COURSE_VIEWS and "course" not in values:
        values["course"] = slug
    elif values.get("course", "") is None:
        values.pop("course")


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
        "several_courses": len(published_slugs()) > 1,
    }


def _settings() -> Settings:
    from service.web.shared import context

    return context().settings


def _email_name(step: int | None, slug: str | None = None, version: int | None = None) -> str:
    """An email's name ("Step 2", "The closing"…): in the course and version given (a
    reader's place), else in the course the page is about."""
    from emails.course import course_version, is_published
    from service.web.shared import course

    if slug and version is not None and is_published(slug):
        return course_version(slug, version).email_name(step)
    return course().email_name(step)
