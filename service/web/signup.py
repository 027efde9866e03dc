"""``/``: the first course's page and its sign-up form, ``/<slug>`` each other course's;
``/check-your-inbox`` after it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask import Blueprint, Flask, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from emails.course import is_time_zone, published_slugs
from service.outbox.handoff import enqueue_or_release
from service.queues import QUEUE_TRANSACTIONAL
from service.readers import lifecycle, typos
from service.readers.validation import name_problem
from service.web.security import limiter
from service.web.shared import context, course, init_context, use_course

bp = Blueprint("signup", __name__)
log = logging.getLogger("coursemail.signup")

#: Stored with each consent; bump when the form or its wording changes.
FORM_VERSION = "signup-2026-11-30"
MAX_EMAIL = 254


def consent_text() -> str:
    c = course()
    return (
        f"Yes, please send me {c.title}: {len(c.steps)} emails over about two weeks. "
        "I can unsubscribe at any time."
    )


@dataclass
class SignupForm:
    email: str = ""
    first_name: str = ""
    timezone: str = ""
    honeypot: str = ""
    #: "Keep these emails discreet in my inbox"
    discreet: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    form_error: str = ""
    #: the address they probably meant, when the one typed looks like a slip ("gmial.com")
    suggestion: str = ""

    @classmethod
    def from_request(cls) -> SignupForm:
        form = request.form
        return cls(
            email=form.get("email", "").strip(),
            first_name=form.get("first_name", "").strip(),
            timezone=form.get("timezone", "").strip(),
            honeypot=form.get("website", ""),
            discreet=form.get("discreet", "") in ("1", "on", "yes"),
        )

    def validate(self, *, production: bool, fallback_zone: str) -> bool:
        if not self.email:
            self.errors["email"] = "Please enter your email address."
        elif len(self.email) > MAX_EMAIL:
            self.errors["email"] = "That email address is too long. Could you check it?"
        else:
            try:
                checked = validate_email(
                    self.email, check_deliverability=False, test_environment=not production
                )
                self.email = checked.normalized
            except EmailNotValidError:
                self.errors["email"] = (
                    "That doesn’t look like a complete email address. "
                    "It should look like name@example.com."
                )
                self.suggestion = typos.suggestion(self.email) or ""
        problem = name_problem(self.first_name)
        if problem:
            self.errors["first_name"] = problem
        if not self.timezone:
            self.timezone = fallback_zone
        elif not is_time_zone(self.timezone):
            self.form_error = (
                "We couldn’t recognise your time zone, so we don’t know when to send your "
                "emails. Please reload the page and try again."
            )
            self.timezone = ""
        return not self.errors and not self.form_error


def _page(form: SignupForm, status: int = 200) -> ResponseReturnValue:
    return render_template("index.html", form=form, consent_text=consent_text()), status


@bp.get("/")
def index() -> ResponseReturnValue:
    return _page(SignupForm())


@bp.get("/<slug>")
def course_page(slug: str) -> ResponseReturnValue:
    """Another course's page (the first one is at ``/``; its slug here leads there)."""
    if not use_course(slug):
        abort(404)
    if slug == published_slugs()[0]:
        return redirect(url_for("signup.index"), 301)
    return _page(SignupForm())


@bp.post("/<slug>")
@limiter.limit("10 per minute;60 per hour", methods=["POST"])
def course_submit(slug: str) -> ResponseReturnValue:
    if not use_course(slug):
        abort(404)
    return submit()


@bp.post("/")
@limiter.limit("10 per minute;60 per hour", methods=["POST"])
def submit() -> ResponseReturnValue:
    ctx = context()
    form = SignupForm.from_request()
    if form.honeypot:
        # a bot filled the hidden field: answer exactly as for a person, store nothing
        return redirect(url_for("signup.check_inbox"), 303)
    if not form.validate(production=ctx.settings.is_production, fallback_zone=course().timezone):
        return _page(form, 400)
    accept(form, FORM_VERSION)
    # the same answer whether the address was new, pending or already confirmed
    return redirect(url_for("signup.check_inbox"), 303)


def accept(form: SignupForm, form_version: str) -> None:
    """Record a valid sign-up with its consent, and hand its confirmation to a worker."""
    ctx = context()
    now = ctx.clock.now()
    with ctx.database.session() as session:
        result = lifecycle.sign_up(
            session,
            email=form.email,
            first_name=form.first_name or None,
            timezone=form.timezone,
            now=now,
            mail_domain=ctx.settings.mail_domain,
            claim=True,  # one transaction for the sign-up, its consent and the claim
            discreet=form.discreet,
            course=course().slug,
        )
        lifecycle.record_consent(
            session,
            result.reader,
            now=now,
            ip=request.remote_addr,
            user_agent=request.user_agent.string,
            form_version=form_version,
            consent_text=consent_text(),
        )
        session.flush()
        claimed = result.claimed_email.id if result.claimed_email else None
    if claimed is not None:
        # a worker sends it now; if Redis is away it goes back to the outbox for the tick
        enqueue_or_release(ctx, QUEUE_TRANSACTIONAL, [claimed])


@bp.get("/check-your-inbox")
def check_inbox() -> ResponseReturnValue:
    return render_template("check_inbox.html")


def init_app(app: Flask) -> None:
    init_context(app)
    app.register_blueprint(bp)
