"""``/healthz``: is the database reachable? For load balancers and the launcher."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.db import Database

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    database: Database = current_app.extensions["coursemail.db"]
    try:
        with database.session() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return jsonify(ok=False, error=f"database unreachable: {type(error).__name__}"), 503
    return jsonify(ok=True)


def init_app(app: Flask) -> None:
    settings = app.config["COURSEMAIL"]
    app.extensions.setdefault("coursemail.db", Database(settings.DATABASE_URL))
    app.register_blueprint(bp)
