"""Signing in to the therapist's desk from a test client (the ``admin`` fixture is in
conftest)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from service.web import create_app
from tests.support.env import settings_env
from workers.runtime import Runtime

PASSWORD = "correct horse battery staple"


def desk(rt: Runtime, **overrides: str) -> Flask:
    app = create_app({**settings_env(rt.settings), **overrides}, clock=rt.clock)
    # one runtime for the app and the jobs, with the desk's settings
    rt.settings = app.config["COURSEMAIL"]  # parsed from the same environment
    app.extensions["coursemail"] = rt
    return app


def token(client: FlaskClient, path: str = "/admin/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in(client: FlaskClient, password: str = PASSWORD, name: str = "lee", **extra: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/admin/login" + (f"?next={extra['next']}" if "next" in extra else ""),
        data={"username": name, "password": password, "csrf_token": token(client)},
        environ_base={"REMOTE_ADDR": extra.get("ip", "192.0.2.10")},
    )
