"""The reader’s side through Flask’s test client: sign up, confirm, unsubscribe, errors."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.store.models import (
    Consent,
    Delivery,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Reader,
    ReaderStatus,
)
from service.web.signup import FORM_VERSION, SignupForm
from tests.support.env import PRODUCTION
from tests.support.harness import run_course, tick_and_work, work
from tests.support.http import csrf
from tests.support.smtp import SMTPSink
from tests.support.tokens import confirm_token_issued_days_ago
from workers import tick
from workers.runtime import Runtime


def sign_up(client: FlaskClient, **fields: str):
    data = {"email": "sam@example.test", "first_name": "Sam", "timezone": "Europe/London"}
    data.update(fields)
    data.setdefault("csrf_token", csrf(client))
    return client.post(
        "/",
        data=data,
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
        headers={"User-Agent": "TestBrowser/1.0"},
    )


def readers(rt: Runtime) -> list[Reader]:
    with rt.database.session() as session:
        return list(session.scalars(select(Reader).order_by(Reader.id)))


def confirm_link(smtp_sink: SMTPSink, address: str = "sam@example.test") -> str:
    """The link in the newest confirmation email to ``address``."""
    for message in reversed(smtp_sink.messages_to(address)):
        text = message.get_body(("plain",)).get_content()
        match = re.search(r"http://127\.0\.0\.1:5999(/confirm/\S+)", text)
        if match:
            return match.group(1)
    raise AssertionError(f"no confirmation email to {address}")


# --- the course page ---------------------------------------------------------------------


def test_course_page_shows_the_course_and_a_kind_form(client: FlaskClient) -> None:
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Rebuilding Broken Trust</h1>" in page and "Lee Miller" in page
    for name in ["Commit to moving forward", "Get it all in the open", "Don’t isolate"]:
        assert name in page
    assert "8 in the morning your time" in page
    assert re.search(r"<form method=\"post\" action=\"/\" novalidate>", page)
    assert 'name="timezone" id="timezone"' in page and 'name="website"' in page
    assert '<label for="email">' in page and '<label for="first_name">' in page
    # no inline script and nothing from another origin
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    assert not re.search(r'src="(https?:)?//', page)
    assert not re.search(r'<link[^>]+href="(https?:)?//', page)
    # the only ways out are links a person may follow: where to find help in a crisis
    assert re.findall(r'<a href="((?:https?:)?//[^"]+)"', page) == [
        "https://findahelpline.com",
        "https://www.thehotline.org",
    ]
    # 988, 911 and the hotline are a tap away on a phone
    for tappable in ("tel:988", "tel:911", "tel:+18007997233", "sms:88788?&amp;body=START"):
        assert f'href="{tappable}"' in page, tappable
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"


def test_sign_up_stores_a_pending_reader_with_consent_and_sends_the_confirmation(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    response = sign_up(client, email="Sam@Example.TEST")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/check-your-inbox")
    assert "Check your inbox" in client.get("/check-your-inbox").get_data(as_text=True)

    (sam,) = readers(rt)
    assert (sam.email, sam.first_name, sam.timezone, sam.status) == (
        "sam@example.test",
        "Sam",
        "Europe/London",
        ReaderStatus.PENDING,
    )
    with rt.database.session() as session:
        consent = session.scalars(select(Consent)).one()
        assert (consent.ip, consent.user_agent, consent.form_version) == (
            "203.0.113.9",
            "TestBrowser/1.0",
            FORM_VERSION,
        )
        assert "unsubscribe at any time" in consent.consent_text
        assert consent.created_at == rt.clock.now()
        # handed to a worker straight away, not left for the next tick
        assert session.scalars(select(Delivery.status)).one() == DeliveryStatus.CLAIMED
    work(rt)
    (message,) = smtp_sink.messages_to("sam@example.test")
    assert message["Subject"] == "Please confirm: Rebuilding Broken Trust"


def test_the_confirmation_waits_in_the_outbox_when_redis_is_down(
    app: Flask, rt: Runtime, smtp_sink: SMTPSink, tmp_path
) -> None:
    from dataclasses import replace

    healthy = rt.settings
    rt.settings = replace(healthy, REDIS_URL=f"unix://{tmp_path}/gone.sock")
    rt.__dict__.pop("redis", None)
    assert sign_up(app.test_client()).status_code == 303
    with rt.database.session() as session:
        assert session.scalars(select(Delivery.status)).one() == DeliveryStatus.PENDING
    rt.settings = healthy
    rt.__dict__.pop("redis", None)
    tick_and_work(rt)
    assert len(smtp_sink.messages_to("sam@example.test")) == 1


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"email": ""}, "email", "Please enter your email address."),
        ({"email": "sam@"}, "email", "doesn’t look like a complete email address"),
        ({"email": "a" * 250 + "@example.test"}, "email", "too long"),
        ({"first_name": "Sam\r\nBcc: x@example.test"}, "first_name", "just letters"),
        ({"first_name": "Sam\x00"}, "first_name", "just letters"),
        ({"first_name": "S" * 101}, "first_name", "under 100 characters"),
    ],
)
def test_invalid_input_is_shown_next_to_its_field(
    client: FlaskClient, rt: Runtime, fields: dict[str, str], field: str, words: str
) -> None:
    response = sign_up(client, **fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]+)</p>', page)
    assert error and words in error.group(1), page
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page, re.S)
    assert f'aria-describedby="{field}-error' in page
    assert readers(rt) == []


def test_what_was_typed_survives_an_error(client: FlaskClient) -> None:
    page = sign_up(client, email="sam@", first_name="Sam &lt;3").get_data(as_text=True)
    assert 'value="sam@"' in page and 'value="Sam &amp;lt;3"' in page


def test_an_invalid_time_zone_is_reported_at_the_top(client: FlaskClient, rt: Runtime) -> None:
    response = sign_up(client, timezone="Mars/Olympus_Mons")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<p class="form-error" role="alert" id="form-error">' in page
    assert "time zone" in page
    assert readers(rt) == []


def test_a_missing_time_zone_uses_the_course_zone(client: FlaskClient, rt: Runtime) -> None:
    assert sign_up(client, timezone="").status_code == 303
    assert readers(rt)[0].timezone == "America/Los_Angeles"


def test_special_use_domains_are_refused_in_production_only() -> None:
    form = SignupForm(email="sam@example.test")
    assert not form.validate(production=True, fallback_zone="UTC") and "email" in form.errors
    assert SignupForm(email="sam@example.test").validate(production=False, fallback_zone="UTC")


def test_signing_up_twice_keeps_one_reader_and_gives_the_same_answer(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    first = sign_up(client)
    work(rt)
    again = sign_up(client, email="SAM@example.test", first_name="Samuel")
    assert (first.status_code, first.headers["Location"]) == (
        again.status_code,
        again.headers["Location"],
    )
    assert len(readers(rt)) == 1
    work(rt)
    assert len(smtp_sink.messages_to("sam@example.test")) == 2  # a second link, as asked

    client.post(confirm_link(smtp_sink), data={"csrf_token": csrf(client, confirm_link(smtp_sink))})
    known = sign_up(client)
    assert (known.status_code, known.headers["Location"]) == (
        first.status_code,
        first.headers["Location"],
    )
    work(rt)
    # the page said "we've sent you an email": a reader already on the course gets a note
    # with their preferences link, at most one a day, whoever typed the address
    [*_, note] = smtp_sink.messages_to("sam@example.test")
    assert str(note["Subject"]) == "You’re already on Rebuilding Broken Trust"
    assert "/preferences/" in note.get_body(("plain",)).get_content()
    assert "List-Unsubscribe" not in note  # transactional, like the confirmation
    sign_up(client)
    work(rt)
    assert len(smtp_sink.messages_to("sam@example.test")) == 3
    rt.clock.advance(timedelta(days=1, minutes=1))
    sign_up(client)
    work(rt)
    assert len(smtp_sink.messages_to("sam@example.test")) == 4
    assert len(readers(rt)) == 1


def test_a_filled_honeypot_stores_nothing_and_looks_like_success(
    client: FlaskClient, rt: Runtime
) -> None:
    response = sign_up(client, website="http://spam.example")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/check-your-inbox")
    assert readers(rt) == []


def test_a_post_without_the_csrf_token_gets_a_kind_400_page(
    client: FlaskClient, rt: Runtime
) -> None:
    response = client.post("/", data={"email": "sam@example.test"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "That form needs to be sent again" in page and "Traceback" not in page
    assert readers(rt) == []


# --- confirming ----------------------------------------------------------------------------


def test_confirming_takes_a_button_press_then_enrolls_with_the_welcome_due_now(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    sign_up(client)
    work(rt)
    link = confirm_link(smtp_sink)

    page = client.get(link)  # what a link scanner does
    assert page.status_code == 200 and "Yes, start the course" in page.get_data(as_text=True)
    assert readers(rt)[0].status == ReaderStatus.PENDING

    confirmed = client.post(link, data={"csrf_token": csrf(client, link)})
    assert confirmed.status_code == 200
    assert "You’re in" in confirmed.get_data(as_text=True)
    (sam,) = readers(rt)
    assert sam.status == ReaderStatus.ACTIVE and sam.confirmed_at == rt.clock.now()
    with rt.database.session() as session:
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.next_send_at == rt.clock.now()
    tick_and_work(rt)
    assert smtp_sink.messages_to("sam@example.test")[-1]["Subject"].startswith("Welcome")

    reused = client.get(link)
    assert reused.status_code == 200
    assert "already confirmed" in reused.get_data(as_text=True)
    again = client.post(link, data={"csrf_token": csrf(client)})
    assert again.status_code == 200 and "already confirmed" in again.get_data(as_text=True)
    with rt.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 1


def test_a_tampered_confirmation_link_is_a_400_page(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    sign_up(client)
    work(rt)
    link = confirm_link(smtp_sink)
    tampered = link[:-3] + ("abc" if not link.endswith("abc") else "xyz")
    for bad in (tampered, "/confirm/nonsense", "/confirm/" + "x" * 500):
        response = client.get(bad)
        assert response.status_code == 400
        assert "This confirmation link doesn’t work" in response.get_data(as_text=True)
    assert readers(rt)[0].status == ReaderStatus.PENDING


def test_an_expired_link_is_a_410_with_a_button_for_a_fresh_one(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    sign_up(client)
    work(rt)
    public_id = readers(rt)[0].public_id

    old = confirm_token_issued_days_ago(rt.settings.SECRET_KEY, public_id, days=8)
    response = client.get(f"/confirm/{old}")
    page = response.get_data(as_text=True)
    assert response.status_code == 410
    assert "This link has expired" in page and "Send me a new link" in page
    assert client.post(f"/confirm/{old}", data={"csrf_token": csrf(client)}).status_code == 410
    assert readers(rt)[0].status == ReaderStatus.PENDING

    with rt.database.session() as session:  # the first link has gone out by now
        for d in session.scalars(select(Delivery)):
            d.status = DeliveryStatus.SENT
    resent = client.post(
        "/confirm/resend", data={"token": old, "csrf_token": csrf(client, f"/confirm/{old}")}
    )
    assert resent.status_code == 200
    assert "fresh confirmation link" in resent.get_data(as_text=True)
    work(rt)
    fresh = confirm_link(smtp_sink)
    assert client.post(fresh, data={"csrf_token": csrf(client)}).status_code == 200
    assert readers(rt)[0].status == ReaderStatus.ACTIVE


def test_nothing_but_the_confirmation_goes_to_an_unconfirmed_address(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    sign_up(client)
    run_course(rt)
    assert [m["Subject"] for m in smtp_sink.messages_to("sam@example.test")] == [
        "Please confirm: Rebuilding Broken Trust"
    ]


# --- unsubscribing --------------------------------------------------------------------------


def _active_reader(client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink) -> str:
    sign_up(client)
    work(rt)
    link = confirm_link(smtp_sink)
    client.post(link, data={"csrf_token": csrf(client, link)})
    tick_and_work(rt)  # the welcome
    return readers(rt)[0].unsubscribe_token


def test_one_click_unsubscribe_needs_no_cookie_token_or_content_type(
    app: Flask, client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    token = _active_reader(client, rt, smtp_sink)
    rt.clock.advance(days=1, hours=16)  # 09:00 in London, the day after
    assert tick.run_once(rt).enqueued == 1  # step 1 is claimed and waiting in Redis

    mail_provider = app.test_client(use_cookies=False)
    response = mail_provider.post(f"/u/{token}", data=b"List-Unsubscribe=One-Click")
    assert response.status_code == 200  # no redirect
    assert "You’re unsubscribed" in response.get_data(as_text=True)
    assert readers(rt)[0].status == ReaderStatus.UNSUBSCRIBED

    work(rt)
    run_course(rt)
    assert len(smtp_sink.messages_to("sam@example.test")) == 2  # confirmation and welcome only
    with rt.database.session() as session:
        assert session.scalars(select(Enrollment.status)).one() == EnrollmentStatus.CANCELLED
        step_one = session.scalars(select(Delivery).where(Delivery.step == 1)).one()
        assert step_one.status == DeliveryStatus.CANCELLED


def test_the_unsubscribe_page_changes_nothing_until_its_button(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    token = _active_reader(client, rt, smtp_sink)
    footer_link = smtp_sink.messages_to("sam@example.test")[-1].get_body(("plain",)).get_content()
    assert f"http://127.0.0.1:5999/u/{token}" in footer_link

    page = client.get(f"/u/{token}")
    assert page.status_code == 200
    assert "Unsubscribe from Rebuilding Broken Trust?" in page.get_data(as_text=True)
    assert readers(rt)[0].status == ReaderStatus.ACTIVE

    pressed = client.post(f"/u/{token}", data={})
    assert pressed.status_code == 200
    assert readers(rt)[0].status == ReaderStatus.UNSUBSCRIBED
    again = client.get(f"/u/{token.upper()}")
    assert "already unsubscribed" in again.get_data(as_text=True)


def test_an_unknown_unsubscribe_link_is_a_404_page(client: FlaskClient) -> None:
    for path in ("/u/" + "a" * 32, "/u/<script>", "/u/" + "a" * 100):
        response = client.get(path)
        assert response.status_code == 404
        assert "We couldn’t find that page" in response.get_data(as_text=True)


def test_signing_up_again_after_unsubscribing_starts_a_fresh_enrollment(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    token = _active_reader(client, rt, smtp_sink)
    old_link = confirm_link(smtp_sink)
    client.post(f"/u/{token}", data=b"List-Unsubscribe=One-Click")
    # an old confirmation link does not undo the unsubscribe
    assert client.post(old_link, data={"csrf_token": csrf(client)}).status_code in (200, 410)
    assert readers(rt)[0].status == ReaderStatus.UNSUBSCRIBED

    rt.clock.advance(timedelta(days=3))
    assert sign_up(client).status_code == 303
    work(rt)
    assert smtp_sink.messages_to("sam@example.test")[-1]["Subject"].startswith("Please confirm")
    link = confirm_link(smtp_sink)
    assert client.post(link, data={"csrf_token": csrf(client, link)}).status_code == 200
    with rt.database.session() as session:
        statuses = session.scalars(select(Enrollment.status).order_by(Enrollment.id)).all()
        assert statuses == [EnrollmentStatus.CANCELLED, EnrollmentStatus.ACTIVE]
    assert len(readers(rt)) == 1


# --- error pages ---------------------------------------------------------------------------


def test_error_pages_are_pages(client: FlaskClient, app: Flask) -> None:
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "<h1>We couldn" in missing.get_data(as_text=True)
    wrong = client.delete("/")
    assert wrong.status_code == 405 and "<h1>" in wrong.get_data(as_text=True)
    huge = client.post("/", data={"email": "x" * 100_000})
    assert huge.status_code == 413 and "<h1>" in huge.get_data(as_text=True)
    as_json = client.get("/nope", headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and as_json.get_json()["status"] == 404


def test_a_crash_is_a_kind_500_page_never_a_trace(rt: Runtime, app: Flask, tmp_path) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    token = csrf(client)
    real_url = rt.database.url
    rt.database.url = f"sqlite:///{tmp_path}"  # a folder, not a database: every query fails
    rt.database.dispose()
    try:
        response = client.post("/", data={"email": "a@example.test", "csrf_token": token})
    finally:
        rt.database.url = real_url
        rt.database.dispose()
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in body and "Traceback" not in body
    assert readers(rt) == []


def test_too_many_sign_ups_from_one_address_are_slowed_kindly(
    client: FlaskClient, rt: Runtime
) -> None:
    token = csrf(client)
    codes = [
        client.post("/", data={"email": f"r{n}@example.test", "csrf_token": token}).status_code
        for n in range(11)
    ]
    assert codes[:10] == [303] * 10 and codes[10] == 429
    page = client.post("/", data={"email": "z@example.test", "csrf_token": token})
    assert "Let’s slow down a little" in page.get_data(as_text=True)


def test_a_browsers_legacy_zone_name_is_accepted(client: FlaskClient, rt: Runtime) -> None:
    # Chromium reports Kolkata by its older ICU name; zoneinfo knows both
    assert sign_up(client, timezone="Asia/Calcutta").status_code == 303
    assert readers(rt)[0].timezone == "Asia/Calcutta"


def test_the_mail_catcher_page_does_not_exist_in_production(tmp_path) -> None:
    from service.web import create_app

    app = create_app({**PRODUCTION, "COURSEMAIL_INSTANCE": str(tmp_path), "REPLY_MODE": "direct"})
    assert app.test_client().get("/dev/mail").status_code == 404
    assert "devmail" not in app.blueprints


def test_behind_a_trusted_proxy_the_readers_address_is_recorded(
    app: Flask, rt: Runtime, tmp_path
) -> None:
    from service.web import create_app
    from tests.support.env import settings_env

    proxied = create_app(settings_env(rt.settings, TRUSTED_PROXIES="1"), clock=rt.clock)
    proxied.extensions["coursemail"] = rt
    client = proxied.test_client()
    token = csrf(client)
    client.post(
        "/",
        data={"email": "sam@example.test", "csrf_token": token},
        headers={"X-Forwarded-For": "198.51.100.7"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    with rt.database.session() as session:
        assert session.scalars(select(Consent.ip)).one() == "198.51.100.7"


def test_an_address_with_a_slip_is_suggested_a_fix_and_its_field_takes_the_focus(
    client: FlaskClient,
) -> None:
    page = sign_up(client, email="lee@gmail").get_data(as_text=True)
    assert 'role="alert" id="error-summary"' in page and 'href="#email"' in page
    assert re.search(r'id="email"[^>]*autofocus', page, re.S)
    assert "Did you mean <strong>lee@gmail.com</strong>?" in page
    # a first name problem takes the focus only when the address is fine
    named = sign_up(client, first_name="x" * 101).get_data(as_text=True)
    assert re.search(r'id="first_name"[^>]*autofocus', named, re.S)
    assert not re.search(r'id="email"[^>]*autofocus', named, re.S)
