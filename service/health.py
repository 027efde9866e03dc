"""``/healthz``: is the database reachable? For load balancers and the launcher."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.web import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    try:
        with runtime().database.session() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return jsonify(ok=False, error=f"database unreachable: {type(error).__name__}"), 503
    return jsonify(ok=True)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
