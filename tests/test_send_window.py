"""Time that respects the reader: course emails arrive at the send hour (or the hour the
reader chose) in their own time zone, never between 21:00 and 07:00 there (a catch-up after
an outage waits for the morning), and not at weekends if the course says so. Checked across
the March and November changes in Los Angeles, and in Kolkata (+5:30) and Chatham (+12:45
or +13:45)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from emails.course import CourseError, default_course, load_course
from service.outbox.claims import create_due_step_deliveries
from service.schedule import held_until, may_send, next_due, quiet
from service.store.models import Delivery, Enrollment, Reader
from tests.support.harness import enrolled, run_course, tick_and_work
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

COURSE = default_course()
LA, KOLKATA, CHATHAM = (
    ZoneInfo(z) for z in ("America/Los_Angeles", "Asia/Kolkata", "Pacific/Chatham")
)


@pytest.mark.parametrize(
    ("zone", "local", "is_quiet"),
    [
        (LA, datetime(2027, 3, 14, 1, 59), True),  # the night of the March change
        (LA, datetime(2027, 3, 14, 7, 0), False),
        (LA, datetime(2026, 11, 1, 1, 30), True),  # the hour that happens twice
        (LA, datetime(2026, 11, 1, 20, 59), False),
        (KOLKATA, datetime(2026, 11, 2, 6, 59), True),
        (KOLKATA, datetime(2026, 11, 2, 21, 0), True),
        (CHATHAM, datetime(2026, 11, 2, 7, 15), False),
        (CHATHAM, datetime(2026, 11, 2, 23, 45), True),
    ],
)
def test_the_quiet_hours_are_the_readers_own(
    zone: ZoneInfo, local: datetime, is_quiet: bool
) -> None:
    assert quiet(local.replace(tzinfo=zone).astimezone(UTC), zone) is is_quiet


@pytest.mark.parametrize("zone", [LA, KOLKATA, CHATHAM])
def test_an_email_due_in_the_night_waits_for_that_readers_morning(zone: ZoneInfo) -> None:
    night = datetime(2027, 3, 13, 23, 30, tzinfo=zone)  # the evening before LA's change
    morning = held_until(night.astimezone(UTC), send_hour=8, zone=zone)
    local = morning.astimezone(zone)
    assert (local.date(), local.hour, local.minute) == (datetime(2027, 3, 14).date(), 8, 0)
    early = datetime(2026, 11, 1, 5, 0, tzinfo=zone)  # before 08:00: this morning's
    assert held_until(early.astimezone(UTC), send_hour=8, zone=zone).astimezone(zone).day == 1


def test_a_course_without_weekends_waits_for_monday() -> None:
    friday = datetime(2026, 11, 27, 9, tzinfo=UTC)
    due = next_due(now=friday, delay_days=1, send_hour=8, zone=ZoneInfo("UTC"), weekends=False)
    assert due == datetime(2026, 11, 30, 8, tzinfo=UTC)  # Monday
    saturday = datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert not may_send(saturday, ZoneInfo("UTC"), weekends=False)
    assert may_send(saturday, ZoneInfo("UTC"))
    assert held_until(saturday, send_hour=8, zone=ZoneInfo("UTC"), weekends=False) == due


def _course_file(tmp_path: Path, setting: str) -> Path:
    """The shipped course with one setting changed (``key = value``)."""
    shipped = COURSE.path
    folder = tmp_path / "c"
    folder.mkdir(parents=True)
    for step in shipped.glob("*.md"):
        (folder / step.name).write_text(step.read_text(encoding="utf-8"), encoding="utf-8")
    toml = (shipped / "course.toml").read_text(encoding="utf-8")
    key = setting.split("=")[0].strip()
    changed = re.sub(rf"^{key} = .*$", setting, toml, count=1, flags=re.MULTILINE)
    (folder / "course.toml").write_text(changed, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("send_hour = 22", "no email arrives between 21:00 and 07:00"),
        ("send_hour = 6", "from 7 to 20"),
        ('weekends = "no"', "weekends is true or false"),
    ],
)
def test_a_course_file_cannot_send_in_the_night(tmp_path: Path, setting: str, message: str) -> None:
    with pytest.raises(CourseError, match=message) as raised:
        load_course(_course_file(tmp_path, setting))
    assert "course.toml:" in str(raised.value)
    assert load_course(_course_file(tmp_path / "ok", "weekends = false")).weekends is False


def test_after_an_outage_a_readers_catch_up_waits_for_their_morning(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    # 17:00 UTC: 22:30 in Kolkata, 06:45 in Chatham, 10:00 in Los Angeles
    ids = {
        zone: enrolled(rt, f"{zone.key.split('/')[1].lower()}@example.test", timezone=zone.key)
        for zone in (LA, KOLKATA, CHATHAM)
    }
    tick_and_work(rt)  # the welcomes: each reader has just confirmed, so at once
    for address in ("los_angeles", "kolkata", "chatham"):
        assert len(smtp_sink.messages_to(f"{address}@example.test")) == 1
    run_course(rt, days=30)
    with rt.database.session() as session:
        rows = session.execute(
            select(Delivery.sent_at, Delivery.step, Reader.timezone)
            .join(Reader, Reader.id == Delivery.reader_id)
            .where(Delivery.step > 0)
        ).all()
    assert len(rows) == 3 * (len(COURSE.steps) - 1)
    for sent_at, step, zone in rows:
        local = sent_at.astimezone(ZoneInfo(zone))
        assert local.hour == COURSE.send_hour and local.minute == 0, (zone, step, local)
    assert set(ids)  # (all three took the whole course)


def test_a_step_due_in_the_night_is_held_by_the_tick(rt: Runtime, smtp_sink: SMTPSink) -> None:
    reader = enrolled(rt, "night@example.test", timezone="Asia/Kolkata")
    tick_and_work(rt)  # the welcome
    with rt.database.session() as session:  # as if step 1 fell due during an outage
        session.execute(
            update(Enrollment).values(next_send_at=rt.clock.now() - timedelta(hours=30))
        )
    rt.clock.set(datetime(2026, 10, 28, 18, 0, tzinfo=UTC))  # type: ignore[attr-defined]  # 23:30 IST
    with rt.database.session() as session:
        assert (
            create_due_step_deliveries(
                session,
                now=rt.clock.now(),
                mail_domain="x.test",
                limit=10,
                postgres=not rt.database.is_sqlite,
            )
            == 0
        )
        due = session.scalar(select(Enrollment.next_send_at))
    assert due is not None and due.astimezone(KOLKATA).hour == COURSE.send_hour
    assert due.astimezone(KOLKATA).date() == datetime(2026, 10, 29).date()
    # a demo's compressed days have no nights: the same due step goes at once
    with rt.database.session() as session:
        session.execute(update(Enrollment).values(next_send_at=rt.clock.now()))
        assert (
            create_due_step_deliveries(
                session,
                now=rt.clock.now(),
                mail_domain="x.test",
                limit=10,
                postgres=not rt.database.is_sqlite,
                time_scale=86400,
            )
            == 1
        )
    assert reader


def test_a_reader_who_chose_an_hour_gets_their_emails_then(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader = enrolled(rt, "evening@example.test", timezone="America/Los_Angeles")
    with rt.database.session() as session:
        session.execute(update(Reader).where(Reader.id == reader).values(send_hour=18))
    tick_and_work(rt)
    run_course(rt, days=30)
    with rt.database.session() as session:
        sent = session.scalars(select(Delivery.sent_at).where(Delivery.step > 0)).all()
    assert len(sent) == len(COURSE.steps) - 1
    assert {s.astimezone(LA).hour for s in sent} == {18}
