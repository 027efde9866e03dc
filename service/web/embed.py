"""``/embed``: the sign-up form for the therapist’s blog, framed there or posted from a copy
of it in the blog’s own HTML.

A browser on the blog holds no CSRF cookie of ours (it is a third party there), so this one
route is exempt from CSRF and protected instead by an exact origin check: the request’s
``Origin`` (its ``Referer`` when Origin is absent) must be this service or a site listed in
``EMBED_ORIGINS``; anything else gets 403. The rate limits and double opt-in still apply:
a forged sign-up can only ask for a confirmation email. Only ``GET /embed`` may be framed,
and only by ``EMBED_ORIGINS``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from emails.course import published_slugs
from service.variables import origin_of
from service.web.security import csrf, limiter
from service.web.shared import context, course, use_course
from service.web.signup import SignupForm, accept, consent_text

bp = Blueprint("embed", __name__)
log = logging.getLogger("coursemail.embed")

#: Stored with each consent given on the embedded form.
FORM_VERSION = "embed-2026-11"


def allowed_origins() -> tuple[str, ...]:
    settings = context().settings
    own = origin_of(settings.PUBLIC_URL)
    return (own, *settings.EMBED_ORIGINS) if own else settings.EMBED_ORIGINS


def _sender_origin() -> str | None:
    """Where the POST came from: Origin, else Referer’s origin; None if neither says."""
    origin = request.headers.get("Origin", "")
    if origin and origin != "null":
        return origin_of(origin)
    referer = request.headers.get("Referer", "")
    return origin_of(referer) if referer else None


def _page(form: SignupForm, status: int = 200) -> ResponseReturnValue:
    ancestors = " ".join(context().settings.EMBED_ORIGINS) or "'none'"
    headers = {
        # framed by the listed sites only (X-Frame-Options cannot name them: not sent)
        "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}",
        # so the form's POST carries our origin for the check below (no-referrer sends "null")
        "Referrer-Policy": "strict-origin",
    }
    page = render_template(
        "embed.html", form=form, consent_text=consent_text(), action=embed_url(course().slug)
    )
    return page, status, headers


def embed_url(slug: str) -> str:
    """The embedded form of a course: ``/embed`` for the first, ``/<slug>/embed`` others."""
    if slug == published_slugs()[0]:
        return url_for("embed.form")
    return url_for("embed.course_form", slug=slug)


@bp.get("/embed")
def form() -> ResponseReturnValue:
    return _page(SignupForm())


@bp.get("/<slug>/embed")
def course_form(slug: str) -> ResponseReturnValue:
    if not use_course(slug):
        abort(404)
    return _page(SignupForm())


@bp.post("/<slug>/embed")
@csrf.exempt
@limiter.limit("10 per minute;60 per hour", methods=["POST"])
def course_submit(slug: str) -> ResponseReturnValue:
    if not use_course(slug):
        abort(404)
    return submit()


@bp.post("/embed")
@csrf.exempt
@limiter.limit("10 per minute;60 per hour", methods=["POST"])
def submit() -> ResponseReturnValue:
    sender = _sender_origin()
    if sender is None or sender not in allowed_origins():
        log.warning("an embedded sign-up from %s was refused", sender or "an unnamed origin")
        page = render_template(
            "error.html",
            title="This form can’t be sent from here",
            detail="This sign-up form only works on the course’s own pages and the sites "
            "its author has listed. Please sign up on the course page instead.",
        )
        return page, 403
    form = SignupForm.from_request()
    if form.honeypot:
        return redirect(url_for("signup.check_inbox"), 303)
    if not form.validate(
        production=context().settings.is_production, fallback_zone=course().timezone
    ):
        return _page(form, 400)
    accept(form, FORM_VERSION)
    return redirect(url_for("signup.check_inbox"), 303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
