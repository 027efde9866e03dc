"""``/admin/setup``: Sending setup. The DNS records to publish for this service, each checked
live (found / missing / wrong, with the exact line to paste), the relay, ``PUBLIC_URL`` and
the reply path: the page of ``coursemail doctor``, for a therapist who has no terminal; and
what is held back (a provider's hour, or all course email after complaints, resumed here),
the complaint rate and the pacing in force."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from service import queues
from service.desk import sending_setup
from service.desk.sending_state import sending_state
from service.outbox import complaint_rate, handoff, holds
from service.web.desk import bp
from service.web.shared import context


@bp.get("/setup")
def sending_setup_page() -> ResponseReturnValue:
    ctx = context()
    checks = sending_setup.everything(ctx.settings, ctx.addresses)
    broken, unknown = sending_setup.verdict(checks)
    with ctx.database.session(read_only=True) as session:
        state = sending_state(session, ctx.settings, now=ctx.clock.now())
        probe_back = sending_setup.last_probe_back(session)
    return render_template(
        "desk/setup.html",
        checks=checks,
        broken=broken,
        unknown=unknown,
        records=sending_setup.records_to_publish(ctx.settings),
        state=state,
        probe_back=probe_back,
        warn_line=f"{complaint_rate.COMPLAINT_WARN * 100:.1f} %",
        pause_line=f"{complaint_rate.COMPLAINT_PAUSE * 100:.1f} %",
        minimum_sent=complaint_rate.COMPLAINT_MINIMUM_SENT,
    )


@bp.post("/setup/test")
def send_setup_tests() -> ResponseReturnValue:
    """A test to her inbox, and one round the reply path (a worker sends them)."""
    if handoff.enqueue_desk_job(context(), queues.SEND_SETUP_TESTS):
        flash(
            "Two tests are on their way: one to your inbox, and one round the way replies come "
            "back. Reload this page in a minute to see whether the second came back.",
            "done",
        )
    else:
        flash("The tests could not be sent just now (the queue is away); try again.", "error")
    return redirect(url_for("desk.sending_setup_page"), 303)


@bp.post("/setup/resume")
def resume_sending() -> ResponseReturnValue:
    """End a hold on course email now (the audit log records who and which)."""
    ctx = context()
    scope = request.form.get("scope", "")[:255]
    with ctx.database.session() as session:
        ended = holds.resume(session, scope)
    if ended:
        who = "Course email" if scope == holds.COURSE else f"Course email to {scope}"
        flash(f"{who} goes out again from the next minute, in order.", "done")
    else:
        flash("Nothing was held there (it may have ended already).", "error")
    return redirect(url_for("desk.sending_setup_page"), 303)
