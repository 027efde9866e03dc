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
    broken, unknown = sending_setup.verdict(checks)
    return render_template(
        "desk/setup.html",
        checks=checks,
        broken=broken,
        unknown=unknown,
        records=sending_setup.records_to_publish(ctx.settings),
    )
