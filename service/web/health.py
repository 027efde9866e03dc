"""``/healthz``: is the database reachable? For load balancers, the launcher and monitoring.

``replies_waiting`` counts readers' replies whose forward to the therapist is failing and
waiting to be tried again: alert on it staying above 0 (``coursemail replies`` says why).
"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from service import inbox
from service.web.shared import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    try:
        with runtime().database.session() as session:
            waiting = inbox.waiting_count(session)
    except SQLAlchemyError as error:
        return jsonify(ok=False, error=f"database unreachable: {type(error).__name__}"), 503
    return jsonify(ok=True, replies_waiting=waiting)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
