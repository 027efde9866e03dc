"""The desk’s course page (every email as a reader gets it, the schedule in any time zone,
"Send me a test") and its Share page (the snippets that put the sign-up form on the blog).
Registered on the desk’s blueprint, so the sign-in guard covers every one of them."""

from __future__ import annotations

from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from emails.course import is_time_zone
from emails.render import Renderer
from service import queues
from service.desk import preview
from service.outbox import handoff
from service.schedule import zone_for
from service.variables import origin_of
from service.web.desk import bp
from service.web.embed import embed_url
from service.web.shared import context, course, course_page_url
from service.web.signup import consent_text

#: The email HTML, shown framed and inert: no scripts, no forms, no plugins, nothing remote.
FRAME_POLICY = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)


def _which(raw: str) -> int | None:
    """``confirmation`` or a step number, as in the page’s addresses."""
    if raw == "confirmation":
        return None
    if raw.isdecimal() and raw.isascii() and int(raw) < len(course().steps):
        return int(raw)
    abort(404, description="The course has no such email.")


def _renderer() -> Renderer:
    loaded = course()
    return Renderer(loaded, context().contact(loaded))


def _schedule_inputs() -> tuple[str, datetime, str | None]:
    """The chosen time zone and sign-up moment (local), or the defaults with an error."""
    loaded, now = course(), context().clock.now()
    zone = request.args.get("zone", "").strip() or loaded.timezone
    raw = request.args.get("signed_up", "").strip()
    if not is_time_zone(zone):
        return (
            loaded.timezone,
            now,
            f"“{zone[:64]}” is not a time zone we know, such as Europe/London.",
        )
    if not raw:
        return zone, now, None
    try:
        local = datetime.fromisoformat(raw[:32])
    except ValueError:
        return zone, now, "The sign-up moment should look like 2026-03-07T21:30."
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone_for(zone, loaded.timezone))
    return zone, local, None


@bp.get("/course")
def course_page() -> ResponseReturnValue:
    loaded = course()
    zone, signed_up, problem = _schedule_inputs()
    planned = preview.plan(loaded, zone_for(zone, loaded.timezone), signed_up)
    emails = [("confirmation", preview.title_of(loaded, None))] + [
        (str(step.index), preview.title_of(loaded, step.index)) for step in loaded.steps
    ]
    local_start = signed_up.astimezone(zone_for(zone, loaded.timezone))
    return render_template(
        "desk/course.html",
        emails=emails,
        planned=planned,
        zone=zone,
        signed_up=local_start.strftime("%Y-%m-%dT%H:%M"),
        problem=problem,
    )


@bp.get("/course/<which>")
def course_email(which: str) -> ResponseReturnValue:
    step, discreet = _which(which), request.args.get("discreet") == "1"
    sample = preview.sample(
        _renderer(), context().settings, step, now=context().clock.now(), discreet=discreet
    )
    return render_template("desk/course_email.html", sample=sample, which=which, discreet=discreet)


@bp.get("/course/<which>/html")
def course_email_html(which: str) -> ResponseReturnValue:
    step, discreet = _which(which), request.args.get("discreet") == "1"
    sample = preview.sample(
        _renderer(), context().settings, step, now=context().clock.now(), discreet=discreet
    )
    return (
        sample.html,
        200,
        {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": FRAME_POLICY,
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


@bp.post("/course/<which>/test")
def send_test(which: str) -> ResponseReturnValue:
    step = _which(which)
    send_a_test(queues.SEND_TEST, step, what="A test")
    return redirect(url_for("desk.course_email", which=which), 303)


def send_a_test(job: str, *args: object, what: str) -> None:
    """Hand a ``[TEST]`` send to a worker, to the address typed in the form (``to``)."""
    raw = request.form.get("to", "").strip()[:254]
    try:
        to = validate_email(
            raw, check_deliverability=False, test_environment=not context().settings.is_production
        ).normalized
    except EmailNotValidError:
        flash("Nothing was sent: please type a whole email address, like you@example.com.", "error")
        return
    if handoff.enqueue_desk_job(context(), job, *args, to):
        flash(f"{what} is on its way to {to}. Its subject starts with [TEST].", "done")
    else:
        flash("Nothing was sent: the queue is not answering. Try again in a minute.", "error")


@bp.get("/share")
def share() -> ResponseReturnValue:
    settings = context().settings
    return render_template(
        "desk/share.html",
        course_url=settings.PUBLIC_URL + course_page_url(course().slug),
        embed_url=settings.PUBLIC_URL + embed_url(course().slug),
        embed_origin=origin_of(settings.PUBLIC_URL) or settings.PUBLIC_URL,
        origins=settings.EMBED_ORIGINS,
        consent=consent_text(),
    )
