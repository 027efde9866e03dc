"""Inbound webhooks: our signed format, Mailgun, Postmark and SendGrid. Good requests store
the raw message and reach the therapist; bad, stale or replayed ones write nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from service.addresses import AddressKind
from service.store.models import InboundMessage, Reader
from tests.conftest import THERAPIST_TEST_EMAIL
from tests.support.harness import enrolled, tick_and_work, work
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

SECRET = "webhook-secret-for-tests"
MAILGUN_KEY = "mailgun-signing-key-for-tests"
BASIC = "postmark:a-long-password"


@pytest.fixture(autouse=True)
def _configured(rt: Runtime) -> None:
    rt.settings = replace(
        rt.settings,
        INBOUND_WEBHOOK_SECRET=SECRET,
        MAILGUN_SIGNING_KEY=MAILGUN_KEY,
        INBOUND_BASIC_AUTH=BASIC,
        INBOUND_MAX_BYTES=256 * 1024,
    )


def _reply(rt: Runtime, text: str = "Thank you for this.") -> tuple[bytes, str]:
    """A reader's reply to their first course email, and the address it was sent to."""
    reader_id = enrolled(rt, "reader@example.test", timezone="UTC", first_name="Robin")
    tick_and_work(rt)
    with rt.database.session() as session:
        owner = session.get(Reader, reader_id).public_id
    address = rt.addresses.address(AddressKind.REPLY, reader_id, 2, owner=owner)
    raw = (
        f"From: Robin <reader@example.test>\r\nTo: {address}\r\nSubject: Re: Welcome\r\n"
        f"Message-ID: <webhook-1@example.test>\r\n\r\n{text}\r\n"
    ).encode()
    return raw, address


def _rows(rt: Runtime) -> list[InboundMessage]:
    with rt.database.session() as session:
        rows = list(session.scalars(select(InboundMessage)))
        session.expunge_all()
        return rows


def _signed(rt: Runtime, body: bytes, *, age: timedelta = timedelta(0), secret: str = SECRET):
    timestamp = str(int((rt.clock.now() - age).timestamp()))
    signature = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {"X-Coursemail-Timestamp": timestamp, "X-Coursemail-Signature": signature.hexdigest()}


def test_a_signed_message_is_stored_and_forwarded(
    rt: Runtime, client: FlaskClient, smtp_sink: SMTPSink
) -> None:
    raw, _ = _reply(rt)
    response = client.post("/inbound/email", data=raw, headers=_signed(rt, raw))
    assert response.status_code == 202
    [row] = _rows(rt)
    assert response.json == {"stored": row.id, "status": 202}
    assert row.raw == raw and row.source == "webhook"
    work(rt)
    [forward] = smtp_sink.messages_to(THERAPIST_TEST_EMAIL)
    assert forward["Reply-To"] == "Robin <reader@example.test>"
    assert forward.get_body(("plain",)).get_content().startswith("Thank you for this.")


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({}, 401, "are required"),
        ({"X-Coursemail-Timestamp": "1"}, 401, "are required"),
        ("wrong-secret", 403, "signature does not match"),
        ("tampered", 403, "signature does not match"),
        ("stale", 403, "more than 5 minutes old"),
        ("future", 403, "more than 5 minutes old"),
        ("not-a-number", 403, "signature does not match"),
        ("non-ascii", 403, "signature does not match"),
    ],
)
def test_our_format_refuses_bad_signatures_and_writes_nothing(
    rt: Runtime, client: FlaskClient, headers: object, status: int, words: str
) -> None:
    raw, _ = _reply(rt)
    if headers == "wrong-secret":
        headers = _signed(rt, raw, secret="guess")
    elif headers == "tampered":
        headers = _signed(rt, raw)
        raw = raw.replace(b"Thank you", b"Send money")
    elif headers == "stale":
        headers = _signed(rt, raw, age=timedelta(minutes=6))
    elif headers == "future":
        headers = _signed(rt, raw, age=-timedelta(minutes=6))
    elif headers == "not-a-number":
        headers = {"X-Coursemail-Timestamp": "soon", "X-Coursemail-Signature": "00"}
    elif headers == "non-ascii":
        headers = {**_signed(rt, raw), "X-Coursemail-Signature": "caf\u00e9"}
    response = client.post("/inbound/email", data=raw, headers=headers)
    assert response.status_code == status
    assert words in response.json["error"]
    assert _rows(rt) == []


def test_the_envelope_recipient_can_be_given_when_the_headers_lack_it(
    rt: Runtime, client: FlaskClient, smtp_sink: SMTPSink
) -> None:
    raw, address = _reply(rt)
    raw = raw.replace(f"To: {address}".encode(), b"To: undisclosed-recipients:;")
    headers = {**_signed(rt, raw), "X-Coursemail-Recipient": address}
    assert client.post("/inbound/email", data=raw, headers=headers).status_code == 202
    assert _rows(rt)[0].rcpt_tos == address
    work(rt)
    assert len(smtp_sink.messages_to(THERAPIST_TEST_EMAIL)) == 1


def test_a_replayed_signature_is_refused(rt: Runtime, client: FlaskClient) -> None:
    raw, _ = _reply(rt)
    headers = _signed(rt, raw)
    assert client.post("/inbound/email", data=raw, headers=headers).status_code == 202
    again = client.post("/inbound/email", data=raw, headers=headers)
    assert again.status_code == 403 and "already received" in again.json["error"]
    assert len(_rows(rt)) == 1


def test_a_route_without_its_secret_is_closed(rt: Runtime, client: FlaskClient) -> None:
    rt.settings = replace(rt.settings, INBOUND_WEBHOOK_SECRET="", INBOUND_BASIC_AUTH="")
    raw, _ = _reply(rt)
    response = client.post("/inbound/email", data=raw, headers=_signed(rt, raw))
    assert response.status_code == 403
    assert "set INBOUND_WEBHOOK_SECRET" in response.json["error"]
    assert client.post("/inbound/postmark", json={}).status_code == 403
    assert _rows(rt) == []


def test_an_oversize_or_empty_message_gets_a_clear_answer(rt: Runtime, client: FlaskClient) -> None:
    big = b"From: a@example.test\r\n\r\n" + b"x" * (300 * 1024)
    response = client.post("/inbound/email", data=big, headers=_signed(rt, big))
    assert response.status_code == 413 and "larger than" in response.json["error"]
    huge = b"y" * (400 * 1024)  # past even the encoding allowance: refused while reading
    response = client.post("/inbound/email", data=huge, headers=_signed(rt, huge))
    assert response.status_code == 413 and response.is_json
    response = client.post("/inbound/email", data=b"", headers=_signed(rt, b""))
    assert response.status_code == 400 and "empty" in response.json["error"]
    assert _rows(rt) == []


# --- Mailgun ----------------------------------------------------------------------------


def _mailgun_form(rt: Runtime, raw: bytes, *, token: str = "a" * 50, age: int = 0, key=MAILGUN_KEY):
    timestamp = str(int(rt.clock.now().timestamp()) - age)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
        "recipient": "reply@example.test",
        "body-mime": raw.decode(),
    }


def test_mailgun_messages_are_verified_and_stored(
    rt: Runtime, client: FlaskClient, smtp_sink: SMTPSink
) -> None:
    raw, address = _reply(rt)
    form = _mailgun_form(rt, raw)
    form["recipient"] = address
    response = client.post("/inbound/mailgun/mime", data=form)
    assert response.status_code == 202
    [row] = _rows(rt)
    assert row.raw == raw and row.source == "mailgun" and row.rcpt_tos == address
    work(rt)
    assert len(smtp_sink.messages_to(THERAPIST_TEST_EMAIL)) == 1


@pytest.mark.parametrize(
    ("change", "status"),
    [("bad-key", 403), ("stale", 403), ("missing", 401), ("no-mime", 400)],
)
def test_mailgun_refuses_what_it_cannot_trust(
    rt: Runtime, client: FlaskClient, change: str, status: int
) -> None:
    raw, _ = _reply(rt)
    form = _mailgun_form(
        rt, raw, key="guess" if change == "bad-key" else MAILGUN_KEY, age=600 * (change == "stale")
    )
    if change == "missing":
        del form["signature"]
    if change == "no-mime":
        del form["body-mime"]
    assert client.post("/inbound/mailgun/mime", data=form).status_code == status
    assert _rows(rt) == []


def test_mailgun_replays_are_refused(rt: Runtime, client: FlaskClient) -> None:
    raw, _ = _reply(rt)
    form = _mailgun_form(rt, raw)
    assert client.post("/inbound/mailgun/mime", data=form).status_code == 202
    assert client.post("/inbound/mailgun/mime", data=form).status_code == 403
    assert len(_rows(rt)) == 1


# --- Postmark and SendGrid (HTTP basic auth) --------------------------------------------


def _basic(credentials: str = BASIC) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def test_postmark_raw_email_is_stored_with_basic_auth(
    rt: Runtime, client: FlaskClient, smtp_sink: SMTPSink
) -> None:
    raw, address = _reply(rt)
    payload = {"RawEmail": raw.decode(), "OriginalRecipient": address, "Subject": "Re: Welcome"}
    response = client.post("/inbound/postmark", json=payload, headers=_basic())
    assert response.status_code == 202
    [row] = _rows(rt)
    assert row.raw == raw and row.source == "postmark"
    work(rt)
    assert len(smtp_sink.messages_to(THERAPIST_TEST_EMAIL)) == 1


@pytest.mark.parametrize(
    ("headers", "payload", "status", "words"),
    [
        ({}, {"RawEmail": "x"}, 401, "basic authentication is required"),
        (_basic("postmark:wrong"), {"RawEmail": "x"}, 401, "wrong username or password"),
        ({"Authorization": "Basic !!!"}, {"RawEmail": "x"}, 401, "malformed"),
        (_basic(), {"TextBody": "hi"}, 400, "Include raw email content"),
        (_basic(), ["not", "an", "object"], 400, "Postmark's inbound JSON"),
    ],
)
def test_postmark_refusals_are_clear(
    rt: Runtime, client: FlaskClient, headers: dict, payload: object, status: int, words: str
) -> None:
    response = client.post("/inbound/postmark", json=payload, headers=headers)
    assert response.status_code == status and words in response.json["error"]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert _rows(rt) == []


def test_sendgrid_raw_mime_is_stored_with_basic_auth(rt: Runtime, client: FlaskClient) -> None:
    raw, address = _reply(rt)
    form = {"email": raw.decode(), "envelope": json.dumps({"to": [address], "from": "x@y"})}
    response = client.post("/inbound/sendgrid", data=form, headers=_basic())
    assert response.status_code == 202
    [row] = _rows(rt)
    assert row.raw == raw and row.rcpt_tos == address and row.source == "sendgrid"
    assert (
        client.post("/inbound/sendgrid", data={"text": "hi"}, headers=_basic()).status_code == 400
    )


def test_a_database_outage_answers_503_so_the_sender_retries(
    rt: Runtime, client: FlaskClient, tmp_path
) -> None:
    raw, _ = _reply(rt)
    real_url = rt.database.url
    rt.database.url = f"sqlite:///{tmp_path}"  # a folder: every write fails
    rt.database.dispose()
    try:
        response = client.post("/inbound/email", data=raw, headers=_signed(rt, raw))
    finally:
        rt.database.url = real_url
        rt.database.dispose()
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert _rows(rt) == []
    # the sender's retry, with a fresh signature, is accepted
    assert client.post("/inbound/email", data=raw, headers=_signed(rt, raw)).status_code == 202


_latin1 = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=80)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from(
        ["/inbound/email", "/inbound/mailgun/mime", "/inbound/postmark", "/inbound/sendgrid"]
    ),
    timestamp=_latin1,
    signature=_latin1,
    authorization=_latin1,
    body=st.binary(max_size=300),
    form=st.dictionaries(
        st.sampled_from(["timestamp", "token", "signature", "body-mime", "email", "envelope"]),
        st.text(max_size=60),
    ),
)
def test_no_forged_request_gets_in_or_causes_an_error(
    rt: Runtime,
    client: FlaskClient,
    route: str,
    timestamp: str,
    signature: str,
    authorization: str,
    body: bytes,
    form: dict[str, str],
) -> None:
    headers = {
        "X-Coursemail-Timestamp": timestamp,
        "X-Coursemail-Signature": signature,
        "Authorization": authorization,
    }
    if route.endswith(("mime", "sendgrid")):
        response = client.post(route, data=form, headers=headers)
    else:
        response = client.post(route, data=body, headers=headers)
    # (429: wrong passwords from one address are refused outright after a few)
    assert response.status_code in (400, 401, 403, 429), response.get_data(as_text=True)
    assert response.is_json
    assert _rows(rt) == []
