"""The reader's preferences page, from a signed link that never expires: looking changes
nothing; pause, resume, the next email now, the hour, discreet mode and unsubscribe are each a
POST with CSRF, done through the engine and recorded as the reader's own. (What they wrote and
erasing are behind the private link: tests/test_private_links.py.)"""

from __future__ import annotations

import re
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from sqlalchemy import select

from service.readers.history import record_of
from service.store.models import Delivery, Enrollment, EnrollmentStatus, Reader
from service.tokens import PreferencesTokens
from tests.support.harness import enrolled, run_course, tick_and_work
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime


def _link(rt: Runtime, reader_id: int) -> str:
    with rt.database.session() as session:
        reader = session.get(Reader, reader_id)
        assert reader is not None
        return "/preferences/" + PreferencesTokens(rt.settings.SECRET_KEY).make(reader.public_id)


def _do(client: FlaskClient, link: str, name: str, **form: str) -> str:
    page = client.get(link).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    answer = client.post(f"{link}/{name}", data={"csrf_token": found.group(1), **form})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return client.get(link).get_data(as_text=True)


def _status(rt: Runtime) -> EnrollmentStatus:
    with rt.database.session() as session:
        status = session.scalar(select(Enrollment.status))
        assert status is not None
        return status


def test_looking_changes_nothing_and_a_wrong_link_is_a_kind_404(
    client: FlaskClient, rt: Runtime
) -> None:
    link = _link(rt, enrolled(rt, "pat@example.test", timezone="UTC"))
    page = client.get(link)
    assert page.status_code == 200 and "Your course, your way" in page.get_data(as_text=True)
    assert _status(rt) == EnrollmentStatus.ACTIVE
    assert client.get(link[:-3] + "abc").status_code == 404
    other = PreferencesTokens("another-secret").make("whoever")
    assert client.get(f"/preferences/{other}").status_code == 404
    assert client.post(f"{link}/pause").status_code == 400  # no CSRF token
    assert _status(rt) == EnrollmentStatus.ACTIVE


def test_pause_resume_and_next_now_from_the_readers_own_page(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader = enrolled(rt, "pia@example.test", timezone="UTC")
    tick_and_work(rt)  # the welcome
    link = _link(rt, reader)
    page = _do(client, link, "pause")
    assert "Paused for 7 days" in page and "Resume my course now" in page
    run_course(rt, days=5)
    assert len(smtp_sink.messages_to("pia@example.test")) == 1
    _do(client, link, "resume")
    _do(client, link, "next")
    tick_and_work(rt)
    assert len(smtp_sink.messages_to("pia@example.test")) == 2  # exactly one more
    with rt.database.session() as session:
        reader_row = session.get(Reader, reader)
        assert reader_row is not None
        how = {e.what: e.how for e in record_of(session, reader_row)}
    assert how["paused"] == how["resumed"] == how["next now"] == "on their preferences page"


def test_the_reader_chooses_their_hour_and_discretion(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader = enrolled(rt, "hana@example.test", timezone="Asia/Kolkata")
    tick_and_work(rt)
    link = _link(rt, reader)
    _do(client, link, "hour", hour="18")
    page = _do(client, link, "discreet", on="1")
    assert "Discreet mode is <strong>on</strong>" in page
    run_course(rt, days=20)
    later = smtp_sink.messages_to("hana@example.test")[1:]
    assert later and all(parseaddr(str(m["From"]))[0] == "Weekly notes" for m in later)
    with rt.database.session() as session:
        hours = {
            d.astimezone(ZoneInfo("Asia/Kolkata")).hour
            for d in session.scalars(select(Delivery.sent_at).where(Delivery.step > 0))
        }
    assert hours == {18}
    refused = _do(client, link, "hour", hour="23")
    assert "Nothing was changed" in refused
    _do(client, link, "hour", hour="1²")  # answered 303 (no hour chosen), never a 500
    # off opens the archive to the footer's link: that is done on the private page
    assert "turned off from your private page" in _do(client, link, "discreet", on="0")
    with rt.database.session() as session:
        assert session.scalar(select(Reader.discreet)) is True


def test_unsubscribe_from_the_readers_own_page_but_never_erase(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader = enrolled(rt, "uma@example.test", timezone="UTC")
    link = _link(rt, reader)
    page = _do(client, link, "unsubscribe")
    assert "not receiving" in page and "Email me a private link" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    refused = client.post(f"{link}/erase", data={"csrf_token": token.group(1), "sure": "yes"})
    assert refused.status_code == 404  # the footer's link alone never erases
    with rt.database.session() as session:
        assert session.scalar(select(Reader.email)) == "uma@example.test"


def test_every_course_email_carries_the_readers_own_link(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    enrolled(rt, "lin@example.test", timezone="UTC")
    run_course(rt, days=20)
    messages = smtp_sink.messages_to("lin@example.test")
    assert messages
    links = set()
    for message in messages:
        for part in ("plain", "html"):
            found = re.search(
                r"https?://[^\s\"<>]+/preferences/[^\s\"<>/)]+",
                message.get_body((part,)).get_content(),
            )
            assert found, (message["Subject"], part)
            links.add(found.group(0))
    closing = messages[-1].get_body(("html",)).get_content()
    assert f'href="{links.copy().pop()}/archive"' in closing  # the closing links the archive
    assert len(links) == 1  # one link for the reader, that never expires
    path = "/" + links.pop().split("/", 3)[3]
    assert "Your course, your way" in client.get(path).get_data(as_text=True)


def test_the_archive_shows_exactly_the_emails_received_and_the_data_comes_whole(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    import json

    from tests.support.harness import work

    reader = enrolled(rt, "ari@example.test", timezone="UTC", first_name="Ari")
    tick_and_work(rt)  # the welcome
    link = _link(rt, reader)
    _do(client, link, "next")
    tick_and_work(rt)
    work(rt)
    archive = client.get(f"{link}/archive").get_data(as_text=True)
    subjects = re.findall(r'<h2 id="email-\d+">([^<]+)</h2>', archive)
    received = [str(m["Subject"]) for m in smtp_sink.messages_to("ari@example.test")]
    assert subjects == received and len(subjects) == 2
    assert "Hi Ari," in archive
    answer = client.get(f"{link}/my-data.json")
    assert answer.mimetype == "application/json"
    assert "attachment" in answer.headers["Content-Disposition"]
    data = json.loads(answer.get_data(as_text=True))
    assert data["you_gave"] == {"email": "ari@example.test", "first_name": "Ari", "timezone": "UTC"}
    assert [e["email"] for e in data["emails_sent"]] == [0, 1]
    assert [r["what"] for r in data["your_record"]] == ["confirmed", "next now"]
    assert data["your_replies"] == []


def test_a_week_long_pause_ends_by_itself_and_slowing_down_doubles_every_wait(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    from datetime import timedelta

    from service.store.models import DeliveryKind

    rested = enrolled(rt, "rest@example.test", timezone="UTC")
    slow = enrolled(rt, "slow@example.test", timezone="UTC")
    tick_and_work(rt)  # both welcomes
    paused_at = rt.clock.now()
    _do(client, _link(rt, rested), "pause")
    page = _do(client, _link(rt, slow), "slow")
    assert "twice as long" in page
    run_course(rt, days=40)
    with rt.database.session() as session:
        sent = {
            (email, step): at
            for email, step, at in session.execute(
                select(Reader.email, Delivery.step, Delivery.sent_at)
                .join(Reader, Reader.id == Delivery.reader_id)
                .where(Delivery.kind == DeliveryKind.STEP)
            )
        }
        reader_row = session.get(Reader, rested)
        assert reader_row is not None
        record = [(e.what, e.how) for e in record_of(session, reader_row)]
    # the paused reader's course started again a week later, by itself, and finished
    assert sent[("rest@example.test", 1)] >= paused_at + timedelta(days=7)
    assert ("resumed", "when the pause they chose ended") in record
    assert len([k for k in sent if k[0] == "rest@example.test"]) == 8
    # the slower reader: each wait twice the course's (1 day, then 2: now 2, then 4)
    gaps = [
        (sent[("slow@example.test", n + 1)].date() - sent[("slow@example.test", n)].date()).days
        for n in range(7)
    ]
    assert gaps == [2, 4, 4, 4, 4, 4, 4], gaps


def test_the_usual_pace_comes_back_from_the_email_after_the_next(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader_id = enrolled(rt, "pace@example.test", timezone="UTC")
    tick_and_work(rt)  # the welcome; step 1 is due a day later
    link = _link(rt, reader_id)
    page = client.get(link).get_data(as_text=True)
    assert "Back to the usual pace" not in page
    page = _do(client, link, "slow")
    assert "Back to the usual pace" in page
    with rt.database.session() as session:
        slowed_next = session.scalar(select(Enrollment.next_send_at))
    page = _do(client, link, "usual")
    assert "usual pace" in page and "Back to the usual pace" not in page
    assert "already at its usual pace" in _do(client, link, "usual")
    with rt.database.session() as session:
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.pace == 1
        assert enrollment.next_send_at == slowed_next  # the next keeps the day they were told
    run_course(rt, days=40)
    with rt.database.session() as session:
        days = [
            at.date()
            for at in session.scalars(
                select(Delivery.sent_at).where(Delivery.step.is_not(None)).order_by(Delivery.step)
            )
        ]
    gaps = [(later - earlier).days for earlier, later in zip(days, days[1:], strict=False)]
    assert gaps[0] == 2 and gaps[1:] == [2, 2, 2, 2, 2, 2], gaps


def test_the_next_email_now_in_the_readers_night_says_when_it_really_goes(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    from datetime import datetime

    reader = enrolled(rt, "noor@example.test", timezone="Europe/Paris")
    tick_and_work(rt)
    link = _link(rt, reader)
    rt.clock.set(datetime(2026, 11, 3, 1, 0, tzinfo=ZoneInfo("Europe/Paris")))  # type: ignore[attr-defined]
    page = _do(client, link, "next")
    assert "It is night where you are, so the next email waits for" in page
    rt.clock.set(datetime(2026, 11, 3, 11, 0, tzinfo=ZoneInfo("Europe/Paris")))  # type: ignore[attr-defined]
    assert "The next email goes out within a minute." in _do(client, link, "next")
