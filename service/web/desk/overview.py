"""``/admin``: the overview, the first page of the desk."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from service.desk import lists, overview, snapshot
from service.desk.sending_state import sending_state
from service.web.desk import bp
from service.web.shared import context, course


@bp.get("")
def index() -> ResponseReturnValue:
    ctx = context()
    loaded = course()
    with ctx.database.session(read_only=True) as db:
        counted = snapshot.read(db)
        figures = overview.overview(
            db,
            now=ctx.clock.now(),
            step_titles=snapshot.step_titles(loaded),
            claim_timeout=ctx.settings.claim_timeout,
            snapshot=counted,
        )
        recent = lists.new_replies(db)
        sending = sending_state(
            db, ctx.settings, now=ctx.clock.now(), rate=overview.snapshot_rate(counted)
        )
    widest = max((stage.count for stage in figures.funnel), default=0) or 1
    busiest = max((n for _, n in figures.per_day), default=0) or 1
    return render_template(
        "desk/overview.html",
        figures=figures,
        widest=widest,
        busiest=busiest,
        course_url=ctx.settings.PUBLIC_URL + "/",
        new_replies=recent,
        sending=sending,
    )
