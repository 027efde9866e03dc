"""``/admin/setup``: Sending setup. The DNS records to publish for this service, each checked
live (found / missing / wrong, with the exact line to paste), the relay, ``PUBLIC_URL`` and
the reply path: the page of ``coursemail doctor``, for a therapist who has no terminal."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from service.desk import sending_setup
from service.web.desk import bp
from service.web.shared import context


@bp.get("/setup")
def sending_setup_page() -> ResponseReturnValue:
    ctx = context()
    checks = sending_setup.everything(ctx.settings, ctx.addresses)
    required = [c for c in checks if c.required]
    return render_template(
        "desk/setup.html",
        checks=checks,
        broken=[c for c in required if c.state in ("missing", "wrong", "failed")],
        unknown=[c for c in required if c.state == "unknown"],
        records=sending_setup.records_to_publish(ctx.settings),
    )
