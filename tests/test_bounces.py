"""Bounces teach the right lesson (issue 21): a delivery report comes back over real SMTP to
the email's bounces+ address, through the listener and the reply job. A hard bounce
suppresses; a policy or reputation refusal (5.7.x, Microsoft's 5.7.515 behind a generic
5.0.0) never does; the relay giving up (4.4.1, failed) is counted and the third in 30 days
suppresses; a delay changes nothing; and the email reported on is marked bounced, which
``coursemail status`` and the desk's list say."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select

from service.outbox import holds
from service.store.models import (
    Delivery,
    DeliveryStatus,
    InboundMessage,
    InboundStatus,
    Reader,
    ReaderEvent,
    ReaderStatus,
)
from tests.support.env import settings_env
from tests.support.harness import enrolled, tick_and_work, work
from tests.support.mail import delivery_report, send
from tests.support.smtp import SMTPSink
from workers.cli import main
from workers.runtime import Runtime

READER = "bo@reader.example.test"


def _bounce_address(rt: Runtime, sink: SMTPSink) -> str:
    enrolled(rt, READER, timezone="UTC", first_name="Bo")
    tick_and_work(rt)
    [sent] = [r for r in sink.received if READER in r.rcpt_tos]
    assert sent.mail_from.startswith("bounces+")
    return sent.mail_from


def _report(rt: Runtime, listener: int, to: str, n: int = 1, **kw: str) -> None:
    data = delivery_report(to=to, failed=READER, message_id=f"<dsn-{n}@mx.example.test>", **kw)
    assert send(listener, "", [to], data) == {}
    work(rt)


def _counts(rt: Runtime) -> dict[str, int]:
    from service.inbox import bounces

    with rt.database.session(read_only=True) as session:
        return bounces.counts(session, now=rt.clock.now())


def _reader(rt: Runtime) -> tuple[ReaderStatus, list[str], DeliveryStatus, str]:
    with rt.database.session(read_only=True) as session:
        reader = session.scalars(select(Reader)).one()
        kinds = list(session.scalars(select(ReaderEvent.kind).order_by(ReaderEvent.id)))
        email = session.scalars(select(Delivery).order_by(Delivery.id.desc())).first()
        assert email is not None
        return reader.status, kinds, email.status, email.last_error or ""


@pytest.mark.parametrize(
    ("status", "diagnostic"),
    [
        ("5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering"),
        ("5.7.26", "550-5.7.26 Unauthenticated email from example.test is not accepted"),
        ("5.0.0", "550 5.7.515 Access denied, sending domain does not meet the required level"),
        ("4.7.28", "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail"),
    ],
)
def test_a_refusal_for_our_setup_never_suppresses_the_reader(
    rt: Runtime, smtp_sink: SMTPSink, listener: int, status: str, diagnostic: str
) -> None:
    to = _bounce_address(rt, smtp_sink)
    _report(rt, listener, to, status=status, action="failed", diagnostic=diagnostic)
    reader_status, kinds, email_status, why = _reader(rt)
    assert reader_status == ReaderStatus.ACTIVE
    assert "refused_by_provider" in kinds and "bounced_hard" not in kinds
    assert email_status == DeliveryStatus.BOUNCED and ".7." in why
    assert _counts(rt) == {"bounced_hard": 0, "bounced_soft": 0, "refused_by_provider": 1}
    # one report by mail (anyone can write one) never holds a provider
    with rt.database.session(read_only=True) as session:
        assert holds.active_holds(session, now=rt.clock.now()) == {}


def test_refusals_for_three_readers_at_one_provider_hold_it_for_an_hour(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    said = "550-5.7.26 Unauthenticated email from example.test is not accepted"
    for n, who in enumerate(("a@gmail.com", "b@googlemail.com", "c@gmail.com")):
        enrolled(rt, who, timezone="UTC")
        tick_and_work(rt)
        [sent] = [r for r in smtp_sink.received if who in r.rcpt_tos]
        data = delivery_report(
            to=sent.mail_from,
            failed=who,
            message_id=f"<dsn-g{n}@mx.example.test>",
            status="5.7.26",
            action="failed",
            diagnostic=said,
        )
        assert send(listener, "", [sent.mail_from], data) == {}
        work(rt)
        with rt.database.session(read_only=True) as session:
            held = holds.active_holds(session, now=rt.clock.now())
        assert bool(held) == (n == 2)
    assert held["google"].until == rt.clock.now() + timedelta(hours=1)
    assert "5.7.26" in held["google"].reason


def test_a_hard_bounce_suppresses_and_marks_the_email_returned(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    to = _bounce_address(rt, smtp_sink)
    _report(rt, listener, to)
    reader_status, kinds, email_status, why = _reader(rt)
    assert reader_status == ReaderStatus.BOUNCED and "bounced_hard" in kinds
    assert email_status == DeliveryStatus.BOUNCED and "5.1.1 550 5.1.1 user unknown" in why
    assert _counts(rt)["bounced_hard"] == 1
    # (the command runs on the real clock, the test on its own: the states, not the window)
    shown = CliRunner(env=settings_env(rt.settings)).invoke(main, ["status"]).output
    assert "1 bounced" in shown and "Bounces in the last 30 days:" in shown


def test_the_relay_giving_up_is_counted_and_the_third_in_thirty_days_suppresses(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    to = _bounce_address(rt, smtp_sink)
    expired = {"status": "4.4.1", "action": "failed", "diagnostic": "delivery time expired"}
    _report(rt, listener, to, 1, **expired)
    assert _reader(rt)[:2] == (ReaderStatus.ACTIVE, ["confirmed", "bounced_soft"])
    rt.clock.advance(timedelta(days=31))  # an old one falls out of the window
    _report(rt, listener, to, 2, **expired)
    _report(rt, listener, to, 3, **expired)
    assert _reader(rt)[0] == ReaderStatus.ACTIVE
    _report(rt, listener, to, 4, **expired)
    assert _reader(rt)[0] == ReaderStatus.BOUNCED


def test_a_delay_changes_nothing(rt: Runtime, smtp_sink: SMTPSink, listener: int) -> None:
    to = _bounce_address(rt, smtp_sink)
    _report(rt, listener, to, status="4.4.7", action="delayed", diagnostic="still trying")
    reader_status, kinds, email_status, _ = _reader(rt)
    assert reader_status == ReaderStatus.ACTIVE and kinds == ["confirmed"]
    assert email_status == DeliveryStatus.SENT


def test_a_forward_the_therapists_server_sends_back_is_marked_she_did_not_get_it(
    rt: Runtime, smtp_sink: SMTPSink, listener: int, client: FlaskClient
) -> None:
    from tests.conftest import THERAPIST_TEST_EMAIL
    from tests.support.mail import reply_address, reply_to

    enrolled(rt, READER, timezone="UTC", first_name="Bo")
    tick_and_work(rt)
    welcome = smtp_sink.messages_to(READER)[-1]
    data = reply_to(welcome, "Something I need you to know.", sender=READER)
    assert send(listener, READER, [reply_address(welcome)], data) == {}
    work(rt)
    [forward] = [r for r in smtp_sink.received if THERAPIST_TEST_EMAIL in r.rcpt_tos]
    returned_to = forward.mail_from
    assert returned_to.startswith("returned+")
    assert client.get("/healthz").get_json()["replies_returned"] == 0
    report = delivery_report(
        to=returned_to,
        failed=THERAPIST_TEST_EMAIL,
        diagnostic="550 5.2.1 The email account that you tried to reach is disabled",
        message_id="<dsn-fwd@mx.example.test>",
    )
    assert send(listener, "", [returned_to], report) == {}
    work(rt)
    with rt.database.session(read_only=True) as session:
        rows = {m.id: m for m in session.scalars(select(InboundMessage))}
        first = min(rows)
        assert rows[first].status == InboundStatus.RETURNED
        assert "5.2.1" in (rows[first].last_error or "")
        assert session.scalars(select(Reader.status)).one() == ReaderStatus.ACTIVE  # not theirs
    assert client.get("/healthz").get_json()["replies_returned"] == 1
    shown = CliRunner(env=settings_env(rt.settings)).invoke(main, ["status"]).output
    assert "she did not get them): 1" in shown
