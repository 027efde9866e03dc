"""Complaints from each source: Postmark, Mailgun, SendGrid and SES webhooks (the ARF report
through the listener is in test_listener_manners); the rolling 30-day complaint rate, its
warning at 0.1 % and its pause at 0.3 % until the therapist resumes course email."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from service.outbox import complaint_rate, holds
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    DeskAudit,
    Reader,
    ReaderEvent,
    ReaderStatus,
)
from tests.conftest import THERAPIST_TEST_EMAIL
from tests.support.dns import DNSServer
from tests.support.harness import enrolled, tick_and_work
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

MAILGUN_KEY = "mailgun-signing-key-for-tests"
BASIC = "esp:a-long-webhook-password"
AUTH = {"Authorization": "Basic " + base64.b64encode(BASIC.encode()).decode()}


@pytest.fixture(autouse=True)
def _configured(rt: Runtime) -> None:
    rt.settings = replace(rt.settings, MAILGUN_SIGNING_KEY=MAILGUN_KEY, INBOUND_BASIC_AUTH=BASIC)


def _state(rt: Runtime, reader_id: int) -> tuple[ReaderStatus, list[str]]:
    with rt.database.session(read_only=True) as session:
        reader = session.get(Reader, reader_id)
        assert reader is not None
        kinds = session.scalars(
            select(ReaderEvent.kind).where(ReaderEvent.reader_id == reader_id)
        ).all()
        return reader.status, list(kinds)


def _mailgun(rt: Runtime, event: dict[str, Any], *, key: str = MAILGUN_KEY, age: int = 0):  # type: ignore[no-untyped-def]
    timestamp = str(int(rt.clock.now().timestamp()) - age)
    token = "a" * 50
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event,
    }


def _sns(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": "b3f1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-complaints",
        "Message": json.dumps(message),
    }


SES_COMPLAINT = {
    "notificationType": "Complaint",
    "complaint": {
        "complainedRecipients": [{"emailAddress": "Sam@Example.test"}],
        "complaintFeedbackType": "abuse",
    },
    "mail": {"messageId": "0100018b"},
}


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        (
            "/feedback/postmark",
            {"RecordType": "SpamComplaint", "Email": "sam@example.test", "Type": "SpamComplaint"},
            AUTH,
        ),
        ("/feedback/mailgun", "mailgun", {}),
        (
            "/feedback/sendgrid",
            [
                {"email": "other@example.test", "event": "delivered"},
                {"email": "sam@example.test", "event": "spamreport"},
            ],
            AUTH,
        ),
        ("/feedback/ses", _sns(SES_COMPLAINT), AUTH),
        ("/feedback/ses", SES_COMPLAINT, AUTH),  # raw message delivery
    ],
    ids=["postmark", "mailgun", "sendgrid", "ses", "ses-raw"],
)
def test_each_providers_complaint_suppresses_the_reader_once(
    rt: Runtime, client: FlaskClient, path: str, body: Any, headers: dict[str, str]
) -> None:
    reader_id = enrolled(rt, "sam@example.test", timezone="UTC")
    bystander = enrolled(rt, "other@example.test", timezone="UTC")
    if body == "mailgun":
        body = _mailgun(rt, {"event": "complained", "recipient": "sam@example.test"})
    answer = client.post(path, json=body, headers=headers)
    assert answer.status_code == 200, answer.json
    assert answer.json["suppressed"] == 1
    status, kinds = _state(rt, reader_id)
    assert status == ReaderStatus.BOUNCED and kinds.count("marked_as_spam") == 1
    assert _state(rt, bystander)[0] == ReaderStatus.ACTIVE
    # providers retry webhooks: the same complaint again counts once
    again = client.post(path, json=body, headers=headers)
    assert again.status_code == 200
    assert again.json.get("already") == 1 or "received before" in again.json["ignored"]
    assert _state(rt, reader_id)[1].count("marked_as_spam") == 1


def test_a_replayed_mailgun_signature_names_nobody_new(rt: Runtime, client: FlaskClient) -> None:
    enrolled(rt, "sam@example.test", timezone="UTC")
    bystander = enrolled(rt, "other@example.test", timezone="UTC")
    first = _mailgun(rt, {"event": "complained", "recipient": "sam@example.test"})
    assert client.post("/feedback/mailgun", json=first).json["suppressed"] == 1
    replay = {**first, "event-data": {"event": "complained", "recipient": "other@example.test"}}
    answer = client.post("/feedback/mailgun", json=replay)
    assert answer.status_code == 200 and "received before" in answer.json["ignored"]
    assert _state(rt, bystander) == (ReaderStatus.ACTIVE, ["confirmed"])
    deep = b"[" * 100_000 + b"]" * 100_000
    refused = client.post("/feedback/sendgrid", data=deep, headers=AUTH)
    assert refused.status_code == 400


def test_other_events_are_answered_and_ignored(rt: Runtime, client: FlaskClient) -> None:
    reader_id = enrolled(rt, "sam@example.test", timezone="UTC")
    for path, body in (
        ("/feedback/postmark", {"RecordType": "Delivery", "Email": "sam@example.test"}),
        ("/feedback/sendgrid", [{"email": "sam@example.test", "event": "open"}]),
        ("/feedback/ses", _sns({"notificationType": "Delivery", "mail": {}})),
    ):
        answer = client.post(path, json=body, headers=AUTH)
        assert answer.status_code == 200 and "ignored" in answer.json
    mailgun = _mailgun(rt, {"event": "delivered", "recipient": "sam@example.test"})
    assert "ignored" in client.post("/feedback/mailgun", json=mailgun).json
    assert _state(rt, reader_id) == (ReaderStatus.ACTIVE, ["confirmed"])


def test_unauthenticated_or_malformed_complaints_change_nothing(
    rt: Runtime, client: FlaskClient
) -> None:
    reader_id = enrolled(rt, "sam@example.test", timezone="UTC")
    spam = {"RecordType": "SpamComplaint", "Email": "sam@example.test"}
    wrong = {"Authorization": "Basic " + base64.b64encode(b"esp:guess").decode()}
    assert client.post("/feedback/postmark", json=spam).status_code == 401
    assert client.post("/feedback/postmark", json=spam, headers=wrong).status_code == 401
    forged = _mailgun(rt, {"event": "complained", "recipient": "sam@example.test"}, key="x")
    assert client.post("/feedback/mailgun", json=forged).status_code == 403
    stale = _mailgun(rt, {"event": "complained", "recipient": "sam@example.test"}, age=3600)
    assert client.post("/feedback/mailgun", json=stale).status_code == 403
    for path, body in (
        ("/feedback/postmark", b"not json"),
        ("/feedback/sendgrid", b'{"event": "spamreport"}'),
        ("/feedback/ses", b'{"Type": "Notification", "Message": "{broken"}'),
        ("/feedback/postmark", b'{"RecordType": "SpamComplaint", "Email": 7}'),
    ):
        answer = client.post(path, data=body, headers={**AUTH, "Content-Type": "application/json"})
        assert answer.status_code == 400 and answer.json["error"], (path, answer.json)
    assert _state(rt, reader_id) == (ReaderStatus.ACTIVE, ["confirmed"])


def test_an_sns_subscription_is_confirmed_only_at_amazons_address(
    rt: Runtime, client: FlaskClient
) -> None:
    for url in (
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com.evil.test/?Action=ConfirmSubscription",
        "https://127.0.0.1:9/?Action=ConfirmSubscription",
    ):
        body = {"Type": "SubscriptionConfirmation", "SubscribeURL": url}
        answer = client.post("/feedback/ses", json=body, headers=AUTH)
        assert answer.status_code == 400 and "Amazon SNS" in answer.json["error"]


def test_a_complaint_about_nobody_we_know_is_answered(client: FlaskClient) -> None:
    body = {"RecordType": "SpamComplaint", "Email": "stranger@example.test"}
    answer = client.post("/feedback/postmark", json=body, headers=AUTH)
    assert answer.status_code == 200 and answer.json["unknown"] == 1


# --- the rate ------------------------------------------------------------------------------


def _course_emails_sent(rt: Runtime, count: int) -> None:
    """``count`` course emails that went out today (the rate's denominator)."""
    reader_id = enrolled(rt, "many@example.test", timezone="UTC")
    now = rt.clock.now()
    with rt.database.session() as session:
        session.add_all(
            Delivery(
                kind=DeliveryKind.STEP,
                reader_id=reader_id,
                step=1,
                status=DeliveryStatus.SENT,
                message_id=f"<sent-{n}@example.test>",
                created_at=now,
                sent_at=now - timedelta(hours=1),
                attempts=1,
            )
            for n in range(count)
        )


def _complain(client: FlaskClient, address: str) -> None:
    body = {"RecordType": "SpamComplaint", "Email": address}
    assert client.post("/feedback/postmark", json=body, headers=AUTH).status_code == 200


def test_below_two_hundred_sent_the_rate_is_not_counted(rt: Runtime, client: FlaskClient) -> None:
    _course_emails_sent(rt, 150)
    enrolled(rt, "sam@example.test", timezone="UTC")
    _complain(client, "sam@example.test")
    with rt.database.session(read_only=True) as session:
        rate = complaint_rate.complaint_rate(session, now=rt.clock.now())
        assert (rate.complaints, rate.sent, rate.state) == (1, 150, "few")
        assert holds.active_holds(session, now=rt.clock.now()) == {}


@pytest.fixture
def dns_server() -> Iterator[DNSServer]:
    with DNSServer() as server:
        yield server


def test_the_pause_line_holds_course_email_until_she_resumes_it(
    rt: Runtime, client: FlaskClient, smtp_sink: SMTPSink, dns_server: DNSServer
) -> None:
    from tests.support.desk import PASSWORD, desk_app, sign_in, token

    _course_emails_sent(rt, 400)
    enrolled(rt, "one@example.test", timezone="UTC")
    waiting = enrolled(rt, "waiting@example.test", timezone="UTC")
    _complain(client, "one@example.test")  # 1 in 400: 0.25 %, a warning
    with rt.database.session(read_only=True) as session:
        assert complaint_rate.complaint_rate(session, now=rt.clock.now()).state == "warn"
        assert holds.active_holds(session, now=rt.clock.now()) == {}
    desk = desk_app(
        rt,
        ADMIN_USERNAME="lee",
        ADMIN_PASSWORD=PASSWORD,
        DNS_NAMESERVER=dns_server.address,
        INBOUND_BASIC_AUTH=BASIC,
    ).test_client()
    sign_in(desk)
    assert "over the line where providers start to look closely" in desk.get("/admin").text
    assert "That is over 0.1 %" in desk.get("/admin/setup").text

    enrolled(rt, "two@example.test", timezone="UTC")
    _complain(desk, "two@example.test")  # 2 in 400: 0.5 %, the pause
    tick_and_work(rt)
    assert not [r for r in smtp_sink.received if "waiting@example.test" in r.rcpt_tos]
    (alert,) = smtp_sink.messages_to(THERAPIST_TEST_EMAIL)
    assert "too many readers marked it as spam" in str(alert["Subject"])
    assert "2 complaints over 400 course emails" in alert.get_content()
    page = desk.get("/admin/setup").text
    assert "All course email is held until you resume it" in page
    assert "Course email is held" in desk.get("/admin").text

    # resuming is hers, with the form's token; then the waiting email goes
    assert desk.post("/admin/setup/resume", data={"scope": "course"}).status_code == 400
    form = {"scope": "course", "csrf_token": token(desk, "/admin/setup")}
    assert desk.post("/admin/setup/resume", data=form).status_code == 303
    assert "Nothing is held back" in desk.get("/admin/setup").text
    with rt.database.session(read_only=True) as session:
        assert session.scalars(select(DeskAudit.action)).all().count("resume_sending") == 1
    tick_and_work(rt)
    assert [r for r in smtp_sink.received if "waiting@example.test" in r.rcpt_tos]
    assert _state(rt, waiting)[0] == ReaderStatus.ACTIVE


def test_the_desk_is_hers_alone(rt: Runtime, client: FlaskClient) -> None:
    assert client.post("/admin/setup/resume", data={"scope": "course"}).status_code in (302, 400)
    with rt.database.session() as session:
        holds.hold(session, holds.COURSE, reason="test", now=rt.clock.now(), until=None)
    client.post("/admin/setup/resume", data={"scope": "course"})
    with rt.database.session(read_only=True) as session:
        assert holds.COURSE in holds.active_holds(session, now=rt.clock.now())


def test_too_many_wrong_passwords_are_refused_in_json(client: FlaskClient) -> None:
    wrong = {"Authorization": "Basic " + base64.b64encode(b"esp:guess").decode()}
    body = {"RecordType": "SpamComplaint", "Email": "x@example.test"}
    answers = [client.post("/feedback/postmark", json=body, headers=wrong) for _ in range(11)]
    assert [a.status_code for a in answers][-1] == 429
    assert answers[-1].json["error"].startswith("too many wrong passwords")
    inbound = [client.post("/inbound/postmark", json={}, headers=wrong) for _ in range(11)]
    assert inbound[-1].status_code == 429 and inbound[-1].json["status"] == 429
