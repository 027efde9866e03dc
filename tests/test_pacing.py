"""Pacing: SEND_RATE, the per-provider limit (grouped by MX), the warm-up, and the holds (a
provider's hour after a policy refusal; all course email after too many complaints). Held
email waits in the database and goes out in due order; with no limit nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from service.outbox import holds, pacing, providers
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Reader,
    ReaderStatus,
    SendingHold,
)
from tests.conftest import THERAPIST_TEST_EMAIL
from tests.support.dns import DNSServer
from tests.support.env import settings_env
from tests.support.harness import enrolled, tick_and_work, work
from tests.support.smtp import SMTPSink
from workers import tick
from workers.cli import main
from workers.runtime import Runtime


def _paced(rt: Runtime, **limits: object) -> None:
    rt.settings = replace(rt.settings, TICK_INTERVAL=60.0, **limits)  # type: ignore[arg-type]


def _later(rt: Runtime) -> None:
    """Past the welcome's grace: a welcome its reader is waiting for never waits for room."""
    rt.clock.advance(timedelta(minutes=16))


def _welcomes(rt: Runtime, status: DeliveryStatus) -> int:
    with rt.database.session(read_only=True) as session:
        rows = session.scalars(
            select(Delivery.id).where(
                Delivery.kind == DeliveryKind.STEP, Delivery.step == 0, Delivery.status == status
            )
        )
        return len(list(rows))


def _sent_to(sink: SMTPSink) -> list[str]:
    return [r.rcpt_tos[0] for r in sink.received if r.rcpt_tos[0] != THERAPIST_TEST_EMAIL]


def test_with_no_limit_one_pass_takes_everything_due(rt: Runtime, smtp_sink: SMTPSink) -> None:
    for n in range(30):
        enrolled(rt, f"reader{n}@gmail.com", timezone="UTC")
    assert tick_and_work(rt).enqueued == 30  # today's speed: no pacing, one claim
    assert len(_sent_to(smtp_sink)) == 30


def test_send_rate_spreads_the_burst_over_minutes_in_due_order(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    _paced(rt, SEND_RATE=10)
    for n in range(25):
        enrolled(rt, f"reader{n:02}@example.org", timezone="UTC")
    _later(rt)
    assert tick_and_work(rt).enqueued == 10
    assert tick_and_work(rt).enqueued == 0  # the minute's ten are gone
    assert _welcomes(rt, DeliveryStatus.PENDING) == 15  # the rest wait in the database
    rt.clock.advance(timedelta(seconds=61))
    assert tick_and_work(rt).enqueued == 10
    rt.clock.advance(timedelta(seconds=61))
    assert tick_and_work(rt).enqueued == 5
    # each minute's share is the next in due order (a batch's connections may interleave)
    sent = _sent_to(smtp_sink)
    for minute in range(3):
        expected = {f"reader{n:02}@example.org" for n in range(minute * 10, minute * 10 + 10)}
        assert set(sent[minute * 10 : minute * 10 + 10]) == expected & set(sent)


def test_a_pass_takes_only_its_share_of_the_minute(rt: Runtime, smtp_sink: SMTPSink) -> None:
    rt.settings = replace(rt.settings, SEND_RATE=60, TICK_INTERVAL=5.0)
    for n in range(12):
        enrolled(rt, f"reader{n}@example.org", timezone="UTC")
    _later(rt)
    assert tick_and_work(rt).enqueued == 5  # 60 a minute, a pass every 5 s: 5 a pass
    rt.clock.advance(timedelta(seconds=5))
    assert tick_and_work(rt).enqueued == 5


def test_a_confirmation_is_never_held_by_pacing(rt: Runtime, smtp_sink: SMTPSink) -> None:
    from service.readers import lifecycle

    _paced(rt, SEND_RATE=1)
    for n in range(3):
        enrolled(rt, f"reader{n}@example.org", timezone="UTC")
    _later(rt)
    assert tick_and_work(rt).enqueued == 1  # the minute's one welcome
    with rt.database.session() as session:
        lifecycle.sign_up(
            session,
            email="new@example.org",
            first_name=None,
            timezone="UTC",
            now=rt.clock.now(),
            mail_domain=rt.settings.mail_domain,
        )
    assert tick_and_work(rt).enqueued == 1  # the minute is spent, yet the confirmation goes
    assert sorted(_sent_to(smtp_sink)) == ["new@example.org", "reader0@example.org"]
    assert _welcomes(rt, DeliveryStatus.PENDING) == 2


@pytest.fixture
def dns_server() -> Iterator[DNSServer]:
    with DNSServer() as server:
        yield server


def test_the_per_provider_limit_groups_domains_by_their_mx(
    rt: Runtime, smtp_sink: SMTPSink, dns_server: DNSServer
) -> None:
    dns_server.zone.add("practice.test", "MX", "10 aspmx.l.google.com.")
    dns_server.zone.add("other.test", "MX", "10 mail.other.test.")
    _paced(rt, SEND_RATE_PER_PROVIDER=2, DNS_NAMESERVER=dns_server.address)
    for who in ("a@gmail.com", "b@practice.test", "c@gmail.com", "d@practice.test"):
        enrolled(rt, who, timezone="UTC")
    for who in ("e@yahoo.com", "f@aol.com", "g@yahoo.com"):
        enrolled(rt, who, timezone="UTC")
    for who in ("h@other.test", "i@other.test", "j@other.test"):
        enrolled(rt, who, timezone="UTC")
    _later(rt)
    assert tick_and_work(rt).enqueued == 6
    # two to Google (gmail.com and the practice hosted there), two to Yahoo/AOL, two to
    # other.test (its own provider), each in due order
    assert sorted(_sent_to(smtp_sink)) == [
        "a@gmail.com",
        "b@practice.test",
        "e@yahoo.com",
        "f@aol.com",
        "h@other.test",
        "i@other.test",
    ]
    with rt.database.session(read_only=True) as session:
        assert providers.providers(session, ["practice.test", "other.test"]) == {
            "practice.test": "google",
            "other.test": "other.test",
        }
    rt.clock.advance(timedelta(seconds=61))
    tick_and_work(rt)
    assert sorted(_sent_to(smtp_sink)[6:]) == [
        "c@gmail.com",
        "d@practice.test",
        "g@yahoo.com",
        "j@other.test",
    ]


def test_without_dns_a_domain_is_its_own_provider(rt: Runtime, smtp_sink: SMTPSink) -> None:
    from tests.support.smtp import free_port

    silent = f"127.0.0.1:{free_port()}"  # nobody answers there
    _paced(rt, SEND_RATE_PER_PROVIDER=1, DNS_NAMESERVER=silent)
    enrolled(rt, "a@practice.test", timezone="UTC")
    enrolled(rt, "b@gmail.com", timezone="UTC")
    assert tick_and_work(rt).enqueued == 2  # no answer: nothing learned, nothing stuck
    with rt.database.session(read_only=True) as session:
        assert providers.providers(session, ["practice.test"]) == {"practice.test": "practice.test"}


def test_the_warm_up_sends_fifty_the_first_day_then_doubles(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    _paced(rt, WARMUP=True)
    for n in range(60):
        enrolled(rt, f"reader{n:02}@example.org", timezone="UTC")
    _later(rt)
    assert tick_and_work(rt).enqueued == 50
    rt.clock.advance(timedelta(hours=2))
    assert tick_and_work(rt).enqueued == 0  # the day's fifty are spent
    assert _welcomes(rt, DeliveryStatus.PENDING) == 10
    with rt.database.session(read_only=True) as session:
        now = rt.clock.now()
        assert pacing.warmup_cap(session, now=now) == 50
        assert pacing.warmup_cap(session, now=now + timedelta(days=1)) == 100
        assert pacing.warmup_cap(session, now=now + timedelta(days=3)) == 400
    rt.clock.advance(timedelta(days=1))
    assert tick_and_work(rt).enqueued == 60  # day two's hundred: the ten, and fifty Step 1s
    assert _welcomes(rt, DeliveryStatus.PENDING) == 0


def test_a_policy_refusal_holds_that_provider_for_an_hour_and_tells_the_therapist(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    words = "550 5.7.26 Unauthenticated email from example.test is not accepted"
    smtp_sink.handler.rcpt_replies["a@gmail.com"] = words
    first = enrolled(rt, "a@gmail.com", timezone="UTC")
    tick_and_work(rt)
    # not the reader's fault: they stay, the email waits an hour, their record says why
    with rt.database.session(read_only=True) as session:
        reader = session.get(Reader, first)
        assert reader is not None and reader.status == ReaderStatus.ACTIVE
        email = session.scalars(select(Delivery).where(Delivery.reader_id == first)).all()[-1]
        assert email.status == DeliveryStatus.RETRY_WAIT
        assert email.next_attempt_at == rt.clock.now() + timedelta(hours=1)
        (held,) = holds.active_holds(session, now=rt.clock.now()).values()
        assert held.scope == "google" and "5.7.26" in held.reason
    enrolled(rt, "b@gmail.com", timezone="UTC")
    enrolled(rt, "c@yahoo.com", timezone="UTC")
    tick_and_work(rt)  # Gmail waits; Yahoo goes; the therapist is told, once
    assert _sent_to(smtp_sink) == ["c@yahoo.com"]
    (alert,) = smtp_sink.messages_to(THERAPIST_TEST_EMAIL)
    assert alert["Subject"] == "Course email to Google (Gmail) is held for an hour"
    body = alert.get_content()
    assert words in body and "Nobody was taken off the course" in body
    assert "a@gmail.com" not in body  # no reader is named
    tick_and_work(rt)
    assert len(smtp_sink.messages_to(THERAPIST_TEST_EMAIL)) == 1
    del smtp_sink.handler.rcpt_replies["a@gmail.com"]
    rt.clock.advance(timedelta(hours=1, seconds=1))
    tick_and_work(rt)  # the hour is over: both go, in due order
    assert _sent_to(smtp_sink)[0] == "c@yahoo.com"
    assert sorted(_sent_to(smtp_sink)[1:]) == ["a@gmail.com", "b@gmail.com"]


def test_a_course_hold_stops_course_email_until_resumed(rt: Runtime, smtp_sink: SMTPSink) -> None:
    enrolled(rt, "a@example.org", timezone="UTC")
    with rt.database.session() as session:
        assert holds.hold(
            session, holds.COURSE, reason="complaints", now=rt.clock.now(), until=None
        )
    rt.clock.advance(timedelta(days=3))
    tick_and_work(rt)
    assert _sent_to(smtp_sink) == []
    assert _welcomes(rt, DeliveryStatus.PENDING) == 1
    (alert,) = smtp_sink.messages_to(THERAPIST_TEST_EMAIL)
    assert "too many readers marked it as spam" in str(alert["Subject"])
    shown = CliRunner(env=settings_env(rt.settings)).invoke(main, ["status"]).output
    assert "Held: all course email, until resumed" in shown
    with rt.database.session() as session:
        assert holds.resume(session, holds.COURSE)
        assert session.scalars(select(SendingHold)).all() == []
    tick_and_work(rt)
    assert _sent_to(smtp_sink) == ["a@example.org"]


def test_held_work_left_in_redis_is_none(rt: Runtime, smtp_sink: SMTPSink) -> None:
    """What is held is never claimed: nothing sits in Redis waiting for room."""
    _paced(rt, SEND_RATE=2)
    for n in range(5):
        enrolled(rt, f"reader{n}@example.org", timezone="UTC")
    _later(rt)
    tick.run_once(rt)
    assert rt.queue("coursemail-course").count == 1  # one batch of two
    with rt.database.session(read_only=True) as session:
        claimed = session.scalars(
            select(Delivery.id).where(Delivery.status == DeliveryStatus.CLAIMED)
        ).all()
    assert len(claimed) == 2
    work(rt)


def test_mx_grouping_reads_only_the_preferred_hosts() -> None:
    assert providers.provider_for_mx(["10 aspmx.l.google.com.", "20 alt1.aspmx.l.google.com."]) == (
        "google"
    )
    assert providers.provider_for_mx(["10 mx.evil.test.", "20 aspmx.l.google.com."]) is None
    assert providers.provider_for_mx(["0 practice-org.mail.protection.outlook.com."]) == "microsoft"
    assert providers.provider_for_mx(["garbage"]) is None


def test_a_domain_whose_servers_fail_does_not_stop_the_others() -> None:
    from service.dns_lookup import NoAnswerFor, Offline

    def lookup(name: str, kind: str) -> list[str]:
        if name == "a-broken.test":
            raise NoAnswerFor("SERVFAIL")
        if name == "z-offline.test":
            raise Offline("timeout")
        return ["10 aspmx.l.google.com."]

    learned = providers.look_up(["a-broken.test", "b-fine.test", "z-offline.test"], lookup)
    assert learned == {"a-broken.test": ("a-broken.test", False), "b-fine.test": ("google", True)}


def test_a_hold_is_started_once_restarted_after_it_ends_and_never_collides(
    rt: Runtime,
) -> None:
    now = rt.clock.now()
    hour = timedelta(hours=1)
    with rt.database.session() as session:
        assert holds.hold(
            session, "google", reason="550 5.7.26 <fay@x.test>", now=now, until=now + hour
        )
        assert not holds.hold(session, "google", reason="again", now=now, until=now + hour)
        (held,) = holds.active_holds(session, now=now).values()
        assert held.reason == "550 5.7.26 <(an address)>"  # never whom
    later = now + timedelta(minutes=30)
    with rt.database.session() as session:  # refused again: the hour counts from then
        assert not holds.hold(session, "google", reason="again", now=later, until=later + hour)
        assert holds.active_holds(session, now=now + hour + timedelta(minutes=1))
    after = now + 2 * hour
    with rt.database.session() as session:
        assert holds.hold(session, "google", reason="new", now=after, until=after + hour)


def test_address_level_refusals_are_the_addresss_lesson_not_a_hold() -> None:
    from emails.received import policy_code

    assert policy_code("550 5.7.26 Unauthenticated email") == "5.7.26"
    assert policy_code("550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup") is None
    assert policy_code("554 5.7.1 <x@y.test>: Recipient address rejected: Access denied") is None
    assert policy_code("421 4.7.0 try again later") == "4.7.0"
    assert policy_code("550 5.1.1 no such user") is None


def test_many_held_providers_make_one_email_an_hour(rt: Runtime, smtp_sink: SMTPSink) -> None:
    now = rt.clock.now()
    with rt.database.session() as session:
        for scope in ("a.test", "b.test", "google"):
            holds.hold(
                session, scope, reason="550 5.7.1 no", now=now, until=now + timedelta(hours=1)
            )
    tick_and_work(rt)
    (alert,) = smtp_sink.messages_to(THERAPIST_TEST_EMAIL)
    assert "a.test" not in alert.as_string()  # a small provider (a reader's own domain) unnamed
    with rt.database.session() as session:
        holds.hold(session, "yahoo", reason="550 5.7.1 no", now=now, until=now + timedelta(hours=1))
    tick_and_work(rt)
    assert len(smtp_sink.messages_to(THERAPIST_TEST_EMAIL)) == 1  # the page lists them all


def test_a_course_hold_never_keeps_confirmations_waiting(rt: Runtime, smtp_sink: SMTPSink) -> None:
    from service.readers import lifecycle

    for n in range(5):
        enrolled(rt, f"reader{n}@example.org", timezone="UTC")
    with rt.database.session() as session:
        holds.hold(session, holds.COURSE, reason="complaints", now=rt.clock.now(), until=None)
    tick_and_work(rt)  # five welcomes wait
    original = pacing.SCAN_CHUNK
    pacing.SCAN_CHUNK = 2  # a small window, as if thousands waited
    try:
        with rt.database.session() as session:
            lifecycle.sign_up(
                session,
                email="new@example.org",
                first_name=None,
                timezone="UTC",
                now=rt.clock.now(),
                mail_domain=rt.settings.mail_domain,
            )
        tick_and_work(rt)
    finally:
        pacing.SCAN_CHUNK = original
    assert _sent_to(smtp_sink) == ["new@example.org"]  # (and the therapist's alert)


def test_a_full_provider_does_not_keep_the_others_waiting(rt: Runtime, smtp_sink: SMTPSink) -> None:
    _paced(rt, SEND_RATE_PER_PROVIDER=1)
    for n in range(6):
        enrolled(rt, f"g{n}@gmail.com", timezone="UTC")
    enrolled(rt, "y@yahoo.com", timezone="UTC")
    _later(rt)
    original = pacing.SCAN_CHUNK
    pacing.SCAN_CHUNK = 2
    try:
        tick_and_work(rt)
    finally:
        pacing.SCAN_CHUNK = original
    assert sorted(_sent_to(smtp_sink)) == ["g0@gmail.com", "y@yahoo.com"]


def test_held_course_email_waits_for_the_readers_morning(rt: Runtime, smtp_sink: SMTPSink) -> None:
    from datetime import UTC, datetime

    _paced(rt, SEND_RATE=1)
    rt.clock.set(datetime(2026, 10, 27, 20, 50, tzinfo=UTC))
    for n in range(3):
        enrolled(rt, f"reader{n}@example.org", timezone="UTC")
    rt.clock.advance(timedelta(minutes=30))  # the welcomes' grace is over; 21:20 is night
    tick_and_work(rt)
    assert _sent_to(smtp_sink) == []
    rt.clock.set(datetime(2026, 10, 28, 8, 0, tzinfo=UTC))
    tick_and_work(rt)
    assert len(_sent_to(smtp_sink)) == 1


def test_a_welcome_its_reader_is_waiting_for_never_waits_for_room(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    _paced(rt, SEND_RATE=1)
    for n in range(3):
        enrolled(rt, f"reader{n}@example.org", timezone="UTC")
    assert tick_and_work(rt).enqueued == 3  # just confirmed: "your welcome is on its way"
