"""``/admin/course/details``: her details as the emails show them (name, email, phone, the
forgiveness post's address, the hour emails arrive, weekends). Saving publishes a new version
of the course (a change of words: every reader's unsent emails carry it). A value a setting
overrides is shown as set by the server and left alone. Registered on the desk's blueprint."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from emails.course import CourseError
from service.courses import details, drafts, versions
from service.web.desk import bp
from service.web.shared import context, course

LABELS = {
    "name": "Your name, as the emails sign it",
    "email": "Your email (readers' replies reach it; the closing invites them to write)",
    "phone": "Your phone number",
    "country_code": "Its country calling code (like +1), so tapping the number works",
    "post_url": "Where your post on forgiveness can be read (a web address)",
    "send_hour": "The hour emails arrive, in each reader's own time (7 to 20)",
    "weekends": "Emails may arrive on Saturdays and Sundays",
}


@bp.get("/course/details")
def details_page() -> ResponseReturnValue:
    fields = details.shown(course(), context().settings)
    return render_template("desk/details.html", fields=fields, labels=LABELS)


@bp.post("/course/details")
def save_details() -> ResponseReturnValue:
    ctx = context()
    slug = course().slug
    back = redirect(url_for("desk.details_page"), 303)
    given = {name: request.form.get(name, "")[:300] for name, *_ in details.FIELDS}
    try:
        with ctx.database.session() as session:
            newest = versions.newest(session, slug)
            assert newest is not None
            files = versions.files_of(newest)
            toml, said = details.changed(files["course.toml"], given, ctx.settings)
            if not said:
                flash("Nothing changed.", "done")
                return back
            done = versions.publish(
                session,
                {**files, "course.toml": toml},
                note=f"your details: {', '.join(said)}",
                by=getattr(g, "desk_user", None) or "desk",
                now=ctx.clock.now(),
            )
            drafts.rebase(session, slug, toml, number=done.number)
    except details.Refused as refusal:
        flash(f"Nothing was changed: {refusal}.", "error")
        return back
    except CourseError as error:
        flash(f"Nothing was changed: {error.message}.", "error")
        return back
    except IntegrityError:
        flash(
            "Nothing was changed: a version was published at the same moment. Try again.", "error"
        )
        return back
    flash(f"Saved as version {done.number}: every reader's emails not yet sent show it.", "done")
    return back
