"""Forms over HTTPS without a Referer (our pages send none where links carry tokens), the
sender checked by its Origin instead, HSTS in production, and the small holes a proxy opens:
a forged Origin, a CRLF in the sign-in's next=, guessing the webhooks' basic auth."""

from __future__ import annotations

import base64
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.desk import PASSWORD, desk_app, token
from tests.support.env import PRODUCTION
from workers.runtime import Runtime

HTTPS = "https://course.example.org"


@pytest.fixture
def secure(rt: Runtime) -> Flask:
    """The app as production runs it: behind a TLS proxy that says so in X-Forwarded-Proto."""
    return desk_app(
        rt,
        PUBLIC_URL=HTTPS,
        TRUSTED_PROXIES="1",
        ADMIN_USERNAME="lee",
        ADMIN_PASSWORD=PASSWORD,
        INBOUND_BASIC_AUTH="postmark:" + "k3J9x2LmQ8vB7nR4tY6wZ1aC",
    )


def _client(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.environ_base.update(
        {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "course.example.org"}
    )
    return client


def _form(client: FlaskClient, path: str = "/") -> dict[str, str]:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return {
        "csrf_token": found.group(1),
        "email": "ana@example.test",
        "first_name": "Ana",
        "timezone": "Europe/Lisbon",
        "consent": "yes",
    }


def test_a_form_sent_over_https_without_a_referer_is_accepted(secure: Flask) -> None:
    client = _client(secure)
    # what Chromium sends from a page with Referrer-Policy: no-referrer
    answer = client.post("/", data=_form(client), headers={"Origin": "null"})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    answer = client.post("/", data=_form(client), headers={"Origin": HTTPS})
    assert answer.status_code == 303
    same_site_referer = {"Referer": HTTPS + "/"}
    assert client.post("/", data=_form(client), headers=same_site_referer).status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://course.example.org"},  # the same host without TLS is another origin
        {"Referer": "https://evil.example/page"},
    ],
)
def test_a_form_sent_from_another_site_is_refused(secure: Flask, headers: dict[str, str]) -> None:
    client = _client(secure)
    answer = client.post("/", data=_form(client), headers=headers)
    assert answer.status_code == 403
    assert "another site" in answer.get_data(as_text=True)


def test_a_form_without_its_token_is_still_refused(secure: Flask) -> None:
    client = _client(secure)
    data = {k: v for k, v in _form(client).items() if k != "csrf_token"}
    assert client.post("/", data=data, headers={"Origin": HTTPS}).status_code == 400


def test_production_answers_carry_hsts_and_pages_with_tokens_send_no_referrer(
    rt: Runtime, secure: Flask
) -> None:
    production = desk_app(rt, **{**PRODUCTION, "PUBLIC_URL": HTTPS, "ADMIN_PASSWORD": PASSWORD})
    page = _client(production).get("/")
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in _client(secure).get("/").headers  # development
    linked = _client(secure).get("/preferences/not-a-real-token")
    assert linked.headers["Referrer-Policy"] == "no-referrer"


def test_a_control_character_in_next_goes_to_the_overview_not_a_500(secure: Flask) -> None:
    client = _client(secure)
    for target in ("/admin%0d%0aSet-Cookie:%20x=1", "/admin/readers\\evil", "//evil.example"):
        answer = client.post(
            f"/admin/login?next={target}",
            data={"username": "lee", "password": PASSWORD, "csrf_token": token(client)},
        )
        assert answer.status_code == 303
        assert answer.headers["Location"] == "/admin", target
    kept = client.post(
        "/admin/login?next=/admin/readers?q=ann",
        data={"username": "lee", "password": PASSWORD, "csrf_token": token(client)},
    )
    assert kept.headers["Location"] == "/admin/readers?q=ann"


def test_guessing_the_webhooks_password_is_refused_after_ten_tries(secure: Flask) -> None:
    client = _client(secure)
    wrong = {"Authorization": "Basic " + base64.b64encode(b"postmark:guess").decode()}
    answers = [
        client.post("/inbound/postmark", json={}, headers=wrong).status_code for _ in range(12)
    ]
    assert answers[:10] == [401] * 10 and answers[10:] == [429, 429]
