"""``/admin``: the therapist's desk, one blueprint in several modules.

- ``signin``: the guard every desk page passes, signing in and out;
- ``overview``: the first page, the course's figures;
- ``lists``: readers, replies and emails by state, and one reader's timeline;
- ``actions``: what the therapist may do to one reader or one reply;
- ``course``: the course's emails as readers get them, a test send, the share page.

Views only: each parses the request, calls ``service.desk`` or ``service.readers``, and
renders. Registering the blueprint here puts every one of its pages behind the guard.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("desk", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    # their pages join this blueprint
    from service.web.desk import actions, course, lists, overview, signin  # noqa: F401

    app.register_blueprint(bp)
