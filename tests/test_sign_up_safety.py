"""Anyone can type an address on the form: a sign-up for an address we hold never rewrites
the reader's name or time zone before they confirm, and two sign-ups of one new address at
the same moment answer like one (on PostgreSQL they used to end in a 500)."""

from __future__ import annotations

import threading

from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.readers import lifecycle
from service.store.models import Delivery, Reader, ReaderStatus
from tests.support.desk import confirm_from, token
from tests.support.harness import enrolled, tick_and_work, work
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

ADDRESS = "ren@example.test"


def _form(client: FlaskClient, name: str, zone: str) -> None:
    answer = client.post(
        "/",
        data={
            "email": ADDRESS,
            "first_name": name,
            "timezone": zone,
            "csrf_token": token(client, "/"),
        },
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)


def _reader(rt: Runtime) -> Reader:
    with rt.database.session(read_only=True) as session:
        found = session.scalar(select(Reader))
        assert found is not None
        return found


def test_a_stranger_signing_up_an_address_we_hold_changes_nothing_of_theirs(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    enrolled(rt, ADDRESS, timezone="Europe/Paris", first_name="Ren")
    with rt.database.session() as session:
        reader = session.scalar(select(Reader))
        assert reader is not None
        lifecycle.mark_unsubscribed(session, reader, now=rt.clock.now(), how="link")
    _form(client, "Mallory was here", "UTC")
    work(rt)
    confirmation = smtp_sink.messages_to(ADDRESS)[-1]
    text = confirmation.get_body(("plain",))
    assert text is not None and "Hi Ren," in text.get_content()
    assert "Mallory" not in confirmation.as_string()
    after = _reader(rt)
    assert (after.first_name, after.timezone) == ("Ren", "Europe/Paris")
    # the reader confirms: what was typed is theirs now (they chose to come back)
    confirm_from(client, confirmation)
    after = _reader(rt)
    assert after.status == ReaderStatus.ACTIVE
    assert (after.first_name, after.timezone) == ("Mallory was here", "UTC")
    assert after.pending_first_name is None and after.pending_timezone is None


def test_two_sign_ups_of_one_new_address_at_once_answer_like_one(rt: Runtime) -> None:
    now = rt.clock.now()
    domain = rt.settings.mail_domain
    first = rt.database.session()
    session = first.__enter__()
    lifecycle.sign_up(
        session, email=ADDRESS, first_name="A", timezone="UTC", now=now, mail_domain=domain
    )
    outcome: dict[str, object] = {}

    def second() -> None:  # waits on the first one's row (PostgreSQL) or write lock (SQLite)
        try:
            with rt.database.session() as other:
                result = lifecycle.sign_up(
                    other,
                    email=ADDRESS,
                    first_name="B",
                    timezone="UTC",
                    now=now,
                    mail_domain=domain,
                )
                outcome["queued"] = result.queued
        except Exception as error:  # noqa: BLE001 - the test reports it
            outcome["error"] = error

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=1)  # it is waiting for the first transaction
    first.__exit__(None, None, None)  # commit the first
    thread.join(timeout=30)
    assert "error" not in outcome, outcome
    assert outcome["queued"] is None  # the confirmation is on its way already: not a second
    with rt.database.session(read_only=True) as check:
        assert check.scalar(select(func.count(Reader.id))) == 1
        assert check.scalar(select(func.count(Delivery.id))) == 1
    tick_and_work(rt)
