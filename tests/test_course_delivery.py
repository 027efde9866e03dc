"""The whole course, end to end: real Redis, RQ's SimpleWorker, an aiosmtpd sink, a manual
clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parseaddr, parsedate_to_datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from emails.course import default_course
from service.addresses import AddressKind
from service.store.models import (
    Delivery,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Reader,
)
from tests.conftest import THERAPIST_TEST_EMAIL
from tests.support.harness import enrolled, run_course, tick_and_work
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

COURSE = default_course()


def _local_times(messages: list, zone: str) -> list[datetime]:
    return [parsedate_to_datetime(m["Date"]).astimezone(ZoneInfo(zone)) for m in messages]


def test_course_arrives_in_order_at_the_local_send_hour_across_dst(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    # 2026-10-27 10:00 in Los Angeles; clocks go back on Sunday 2026-11-01
    enrolled(rt, "sam@example.test", timezone="America/Los_Angeles")
    run_course(rt)

    messages = smtp_sink.messages_to("sam@example.test")
    assert [m["Subject"] for m in messages] == [s.subject for s in COURSE.steps]
    local = _local_times(messages, "America/Los_Angeles")
    assert local[0] == datetime(2026, 10, 27, 10, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert all((t.hour, t.minute) == (8, 0) for t in local[1:])
    days = [t.date().isoformat() for t in local]
    assert days == [
        "2026-10-27",
        "2026-10-28",
        "2026-10-30",
        "2026-11-01",
        "2026-11-03",
        "2026-11-05",
        "2026-11-07",
        "2026-11-09",
    ]
    utc_hours = [t.astimezone(UTC).hour for t in local[1:]]
    assert utc_hours == [15, 15, 16, 16, 16, 16, 16]  # PDT, then PST

    with rt.database.session() as session:
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.status == EnrollmentStatus.COMPLETED
        assert enrollment.next_send_at is None
        statuses = session.scalars(select(Delivery.status).where(Delivery.step.is_not(None)))
        assert list(statuses) == [DeliveryStatus.SENT] * len(COURSE.steps)


def test_course_in_kolkata_lands_at_eight_local(rt: Runtime, smtp_sink: SMTPSink) -> None:
    enrolled(rt, "priya@example.test", timezone="Asia/Kolkata")
    run_course(rt)
    local = _local_times(smtp_sink.messages_to("priya@example.test"), "Asia/Kolkata")
    assert len(local) == len(COURSE.steps)
    assert all((t.hour, t.minute) == (8, 0) for t in local[1:])
    assert local[1].astimezone(UTC) == datetime(2026, 10, 28, 2, 30, tzinfo=UTC)


def test_every_course_email_carries_the_good_citizen_headers(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader_id = enrolled(rt, "sam@example.test", timezone="America/Los_Angeles")
    run_course(rt)
    with rt.database.session() as session:
        token = session.get(Reader, reader_id).unsubscribe_token
        owner = session.get(Reader, reader_id).public_id
        sent = dict(
            session.execute(
                select(Delivery.message_id, Delivery.id).where(Delivery.step.is_not(None))
            ).all()
        )
    received = [r for r in smtp_sink.received if "sam@example.test" in r.rcpt_tos]
    assert len(received) == len(COURSE.steps)
    seen_ids = set()
    for item in received:
        message = item.message
        delivery_id = sent[message["Message-ID"]]
        # each email's own tracked addresses: bounces, replies and unsubscribes name it
        expected = {
            kind: rt.addresses.address(kind, reader_id, delivery_id, owner=owner)
            for kind in AddressKind
        }
        assert item.mail_from == expected[AddressKind.BOUNCE]
        assert parseaddr(message["From"]) == ("Lee Miller", "course@example.test")
        assert parseaddr(message["To"]) == ("Sam", "sam@example.test")
        assert parseaddr(message["Reply-To"]) == ("Lee Miller", expected[AddressKind.REPLY])
        assert "sam@example.test" not in expected[AddressKind.REPLY]  # never in clear
        assert message["Date"]
        seen_ids.add(message["Message-ID"])
        # a long header is folded onto a continuation line: compare it unfolded
        assert " ".join(message["List-Unsubscribe"].split()) == (
            f"<http://127.0.0.1:5999/u/{token}>, "
            f"<mailto:{expected[AddressKind.UNSUBSCRIBE]}?subject=unsubscribe>"
        )
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"] == "Rebuilding Broken Trust <rebuilding-trust.reply.example.test>"
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        # a numbered step says which it is before the greeting
        assert re.match(r"(Step [1-6] of 6\s+)?Hi Sam,", text) and "Hi Sam," in html
        for part in (text, html):
            assert f"/u/{token}" in part
            assert "100 Test Street, Testville, CA 90000" in part
        # SMTP line endings: CRLF everywhere, no bare LF, no line over 998 octets
        assert b"\n" not in item.data.replace(b"\r\n", b"")
        assert max(len(line) for line in item.data.split(b"\r\n")) <= 998
    assert seen_ids == set(sent)  # the Message-ID fixed at claim is the one sent


def test_direct_reply_mode_sends_replies_straight_to_the_therapist(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    from dataclasses import replace

    rt.settings = replace(rt.settings, REPLY_MODE="direct")
    enrolled(rt, "dana@example.test", timezone="Europe/London", first_name="Dana")
    tick_and_work(rt)
    [item] = [r for r in smtp_sink.received if "dana@example.test" in r.rcpt_tos]
    message = item.message
    assert parseaddr(message["Reply-To"]) == ("Lee Miller", THERAPIST_TEST_EMAIL)
    assert item.mail_from == "course@example.test"
    # no mailto: nobody reads the reply domain in this mode; the https link still works
    assert "mailto:" not in message["List-Unsubscribe"]


def test_time_scale_compresses_the_course_into_seconds(
    rt: Runtime, smtp_sink: SMTPSink, tmp_path
) -> None:
    from dataclasses import replace

    rt.settings = replace(rt.settings, COURSEMAIL_TIME_SCALE=86400.0)
    start = rt.clock.now()
    enrolled(rt, "fast@example.test", timezone="Asia/Kolkata")
    run_course(rt, days=1)
    messages = smtp_sink.messages_to("fast@example.test")
    assert len(messages) == len(COURSE.steps)
    # 13 days of course at 86400x is about 13 seconds (plus the send-hour alignment)
    assert (rt.clock.now() - start).total_seconds() < 20
