"""Signing in to the therapist's desk from a test client (the ``admin`` fixture is in
conftest), and a reader joining through the real pages."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from service.web import create_app
from tests.support.env import settings_env
from tests.support.harness import work
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

PASSWORD = "correct horse battery staple"


def desk_app(rt: Runtime, **overrides: str) -> Flask:
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


def reply_form(client: FlaskClient, reply_id: int) -> dict[str, str]:
    """The hidden fields of a reply's page: the form token and the fingerprint that names
    the reply (a number alone may be reused after an erase)."""
    page = client.get(f"/admin/replies/{reply_id}").get_data(as_text=True)
    found = re.search(r'name="reply" value="([^"]+)"', page)
    assert found, page
    return {"csrf_token": token(client, f"/admin/replies/{reply_id}"), "reply": found.group(1)}


def sign_in(client: FlaskClient, password: str = PASSWORD, name: str = "lee", **extra: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/admin/login" + (f"?next={extra['next']}" if "next" in extra else ""),
        data={"username": name, "password": password, "csrf_token": token(client)},
        environ_base={"REMOTE_ADDR": extra.get("ip", "192.0.2.10")},
    )


def confirm_from(client: FlaskClient, confirmation: EmailMessage) -> None:
    """Press "Yes, start the course" behind the link in a confirmation email."""
    found = re.search(r"https?://\S+/confirm/\S+", confirmation.get_body(("plain",)).get_content())
    assert found, "no confirmation link"
    path = "/" + found.group(0).split("/", 3)[3]
    client.post(path, data={"csrf_token": token(client, path)})


def join_by_web(
    client: FlaskClient,
    rt: Runtime,
    sink: SMTPSink,
    address: str,
    *,
    first_name: str = "Ren",
    **request: Any,
) -> None:
    """A reader signs up on the course page and confirms from their inbox, as in life
    (``request``: the POST's environ_base, headers...). The welcome is due afterwards."""
    answer = client.post(
        "/",
        data={
            "email": address,
            "first_name": first_name,
            "timezone": "UTC",
            "csrf_token": token(client, "/"),
        },
        **request,
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    work(rt)  # the confirmation email
    confirm_from(client, sink.messages_to(address)[0])
