"""``/healthz``: is the database reachable, and does it take writes? For load balancers, the
launcher and monitoring. A database away or refusing writes (its disk full) answers 503 with
the reason; every process goes on waiting for it, and sending resumes by itself.

Alert on any of these staying above 0 (``coursemail status`` lists the rows and says why):

- ``replies_waiting``: readers' replies whose forward to the therapist is failing and waits
  to be tried again;
- ``ambiguous_24h``: course emails whose connection dropped after they were handed over, so
  the reader may not have them (never resent automatically: ``coursemail resend ID``);
- ``failed_24h``: course emails that gave up (a hard bounce, too many failures, or an email
  that could not be built);
- ``replies_unreadable_24h``: replies that could not be read automatically (forwarded
  whole, the original attached): worth a look at why;
- ``replies_returned``: forwards (or notices) of readers' replies that the therapist's mail
  server sent back, so she did not get them (read them on the desk; marking one handled
  clears it);
- ``stale_claims``: emails claimed by a worker that stopped beating; the tick takes them back.
"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from service.desk import monitoring
from service.web.shared import context

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    try:
        ctx = context()
        with ctx.database.session() as session:
            now = ctx.clock.now()
            found = monitoring.health(session, now=now, claim_timeout=ctx.settings.claim_timeout)
        with ctx.database.session() as session:
            monitoring.prove_writable(session, now=now)
    except SQLAlchemyError as error:
        return jsonify(ok=False, error=f"database unreachable or read-only: {_said(error)}"), 503
    return jsonify(
        ok=True,
        replies_waiting=found.replies_waiting,
        ambiguous_24h=found.ambiguous_recent,
        failed_24h=found.failed_recent,
        stale_claims=found.stale_claims,
        replies_unreadable_24h=found.replies_unreadable_recent,
        replies_returned=found.replies_returned,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _said(error: SQLAlchemyError) -> str:
    """The driver’s own first line (no SQL, no parameters): e.g. "database or disk is full"."""
    text = str(getattr(error, "orig", None) or "").strip().splitlines()
    return f"{type(error).__name__} ({text[0][:120]})" if text else type(error).__name__
