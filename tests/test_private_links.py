"""The reader's link, limited, and erasure that erases: the footer's link keeps the pace, the
hour, discreet mode and unsubscribing; what they wrote, a discreet reader's archive and
erasing open only through a fresh link sent to their address, good once for 30 minutes. A
message to an erased reader is refused at SMTP or dropped at a webhook, never kept; SQLite's
file and WAL hold no trace of the erased address; PostgreSQL's tables are VACUUMed by the
tick."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from service.store.models import DeskAudit, InboundMessage, Reader
from service.tokens import PreferencesTokens
from tests.support.desk import token
from tests.support.harness import enrolled, tick_and_work, work
from tests.support.mail import reply_address, reply_to, send
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime
from workers.tick import run_once

MARKER = "Zk4-the-words-only-I-should-see-7Qw"
ADDRESS = "pia.private@example.test"


def _replied(rt: Runtime, smtp_sink: SMTPSink, listener: int, *, discreet: bool = False) -> str:
    """A reader who answered the welcome with MARKER; their preferences link."""
    reader_id = enrolled(rt, ADDRESS, timezone="UTC", first_name="Pia")
    with rt.database.session() as session:
        reader = session.get(Reader, reader_id)
        assert reader is not None
        reader.discreet = discreet
        public_id = reader.public_id
    tick_and_work(rt)
    welcome = smtp_sink.messages_to(ADDRESS)[-1]
    data = reply_to(welcome, f"I need to say this. {MARKER}", sender=ADDRESS)
    assert send(listener, ADDRESS, [reply_address(welcome)], data) == {}
    work(rt)
    return "/preferences/" + PreferencesTokens(rt.settings.SECRET_KEY).make(public_id)


def _ask(client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink, link: str) -> EmailMessage:
    """Press "Email me a private link"; the email that brings it."""
    answer = client.post(f"{link}/private-link", data={"csrf_token": token(client, link)})
    assert answer.status_code == 303
    tick_and_work(rt)
    return smtp_sink.messages_to(ADDRESS)[-1]


def _private_path(email: EmailMessage) -> str:
    body = email.get_body(("plain",))
    assert body is not None
    found = re.search(r"https?://\S+(/private/\S+)", body.get_content())
    assert found, body.get_content()
    return found.group(1)


def _open(client: FlaskClient, path: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": token(client, path)})


def test_the_footer_link_alone_gives_no_words_and_the_fresh_link_does_once(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    link = _replied(rt, smtp_sink, listener)
    footer_copy = client.get(f"{link}/my-data.json").get_data(as_text=True)
    assert MARKER not in footer_copy
    data = json.loads(footer_copy)
    assert data["your_replies"][0]["text"] is None and "private link" in data["about_your_replies"]
    assert client.get("/private").status_code == 403  # nothing is open yet
    email = _ask(client, rt, smtp_sink, link)
    assert email["Subject"] == "Your private link" and email["To"].endswith(f"<{ADDRESS}>")
    path = _private_path(email)
    # looking (a mail scanner) spends nothing
    for _ in range(2):
        page = client.get(path)
        assert page.status_code == 200 and "Open my private page" in page.get_data(as_text=True)
        assert page.headers["Referrer-Policy"] == "no-referrer"
    opened = _open(client, path)
    assert opened.status_code == 303 and opened.headers["Location"] == "/private"
    assert MARKER in client.get("/private").get_data(as_text=True)
    whole = client.get("/private/my-data.json").get_data(as_text=True)
    assert MARKER in whole and "about_your_replies" not in whole
    # the same link again, from anyone: used
    stranger = client.application.test_client()
    again = _open(stranger, path)
    assert again.status_code == 303
    assert "already used" in stranger.get(path).get_data(as_text=True)
    assert stranger.get("/private").status_code == 403
    # this browser's page closes after 30 minutes, or when asked
    rt.clock.advance(timedelta(minutes=31))
    assert client.get("/private").status_code == 403


def test_a_closed_private_page_stays_closed_for_a_copied_cookie(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    link = _replied(rt, smtp_sink, listener)
    _open(client, _private_path(_ask(client, rt, smtp_sink, link)))
    cookie = client.get_cookie("session")
    assert cookie is not None and client.get("/private").status_code == 200
    closed = client.post("/private/close", data={"csrf_token": token(client, "/private")})
    assert closed.status_code == 200
    copy = client.application.test_client()
    copy.set_cookie("session", cookie.value)  # taken before closing
    assert copy.get("/private").status_code == 403
    assert copy.get("/private/my-data.json").status_code == 403


def test_a_link_older_than_thirty_minutes_offers_a_new_one_and_asking_is_limited(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    link = _replied(rt, smtp_sink, listener)
    path = _private_path(_ask(client, rt, smtp_sink, link))
    rt.clock.advance(timedelta(minutes=31))
    page = client.get(path).get_data(as_text=True)
    assert "more than 30 minutes old" in page
    assert _open(client, path).status_code == 303 and client.get("/private").status_code == 403
    again = client.post(f"{path}/again", data={"csrf_token": token(client, path)})
    assert "We have sent you a new link" in again.get_data(as_text=True)
    tick_and_work(rt)
    fresh = _private_path(smtp_sink.messages_to(ADDRESS)[-1])
    assert fresh != path
    _ask(client, rt, smtp_sink, link)  # the third this hour
    before = len(smtp_sink.messages_to(ADDRESS))
    client.post(f"{link}/private-link", data={"csrf_token": token(client, link)})
    assert "We have sent 3 links in the last hour" in client.get(link).get_data(as_text=True)
    tick_and_work(rt)
    assert len(smtp_sink.messages_to(ADDRESS)) == before
    assert _open(client, fresh).status_code == 303 and client.get("/private").status_code == 200
    assert client.get("/private/x").status_code == 404
    assert client.get("/private/" + "a" * 400).status_code == 404


def test_a_discreet_readers_archive_is_behind_the_private_link_and_its_email_is_quiet(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    link = _replied(rt, smtp_sink, listener, discreet=True)
    locked = client.get(f"{link}/archive")
    assert locked.status_code == 403 and "Email me a private link" in locked.get_data(as_text=True)
    # the footer's link cannot turn discretion off to read the archive that way
    off = client.post(f"{link}/discreet", data={"csrf_token": token(client, link), "on": "0"})
    assert off.status_code == 303
    assert "turned off from your private page" in client.get(link).get_data(as_text=True)
    assert client.get(f"{link}/archive").status_code == 403
    email = _ask(client, rt, smtp_sink, link)
    assert email["Subject"] == "Your link" and "Trust" not in str(email["From"])
    _open(client, _private_path(email))
    archive = client.get("/private/archive")
    assert archive.status_code == 200 and "Hi Pia," in archive.get_data(as_text=True)
    done = client.post("/private/discreet-off", data={"csrf_token": token(client, "/private")})
    assert done.status_code == 200 and "discreet mode is off" in done.get_data(as_text=True)
    with rt.database.session(read_only=True) as session:
        assert session.scalar(select(Reader.discreet)) is False
    assert client.get(f"{link}/archive").status_code == 200


def _sqlite_bytes(rt: Runtime) -> bytes:
    path = Path(rt.settings.DATABASE_URL.removeprefix("sqlite:///"))
    return b"".join(
        Path(f"{path}{suffix}").read_bytes()
        for suffix in ("", "-wal")
        if Path(f"{path}{suffix}").exists()
    )


def test_erasing_from_the_private_page_says_what_stays_and_leaves_no_trace(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    link = _replied(rt, smtp_sink, listener)
    welcome = smtp_sink.messages_to(ADDRESS)[0]
    _open(client, _private_path(_ask(client, rt, smtp_sink, link)))
    page = client.get("/private").get_data(as_text=True)
    assert "the service’s backups" in page and "forwarded to" in page  # REPLY_FORWARD=full
    unsure = client.post("/private/erase", data={"csrf_token": token(client, "/private")})
    assert unsure.status_code == 400 and "Please tick the box" in unsure.get_data(as_text=True)
    done = client.post(
        "/private/erase", data={"csrf_token": token(client, "/private"), "sure": "yes"}
    )
    assert "Your details are erased" in done.get_data(as_text=True)
    assert client.get("/private").status_code == 403
    with rt.database.session(read_only=True) as session:
        assert session.scalar(select(Reader.erased_at)) is not None
        assert session.scalar(select(func.count(InboundMessage.id))) == 0
    if rt.database.is_sqlite:  # freed pages zeroed, the WAL checkpointed
        assert ADDRESS.encode() not in _sqlite_bytes(rt)
    else:
        run_once(rt)  # the tick VACUUMs the tables the erase touched
        with rt.database.engine.connect() as conn:
            vacuumed = conn.execute(
                text(
                    "SELECT last_vacuum FROM pg_stat_user_tables "
                    "WHERE relid = 'subscribers'::regclass"
                )
            ).scalar()
        assert vacuumed is not None
    # a later reply is refused at SMTP, and a webhook's copy dropped with a line on the desk
    late = reply_to(welcome, "Are you there?", sender=ADDRESS)
    with pytest.raises(Exception) as refused:
        send(listener, ADDRESS, [reply_address(welcome)], late)
    assert "550" in str(refused.value)
    rt.settings = replace(rt.settings, INBOUND_WEBHOOK_SECRET="s" * 32)
    hooked = client.application.test_client()
    hooked.application.extensions["coursemail"].settings = rt.settings
    stamp = str(int(rt.clock.now().timestamp()))
    signature = hmac.new(b"s" * 32, stamp.encode() + b"." + late, hashlib.sha256).hexdigest()
    answer = hooked.post(
        "/inbound/email",
        data=late,
        headers={"X-Coursemail-Timestamp": stamp, "X-Coursemail-Signature": signature},
    )
    assert answer.status_code == 200 and "not kept" in answer.get_json()["dropped"]
    with rt.database.session(read_only=True) as session:
        assert session.scalar(select(func.count(InboundMessage.id))) == 0
        assert session.scalar(select(DeskAudit.action)) == "dropped_for_erased"


def test_an_erase_met_by_an_open_reader_is_pushed_out_of_the_files_by_the_next_tick(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    """A checkpoint cannot pass a reader holding old pages: the erase's own one stops short,
    and the tick finishes it once the reader has gone (not silently never)."""
    from service.readers import erasure

    _replied(rt, smtp_sink, listener)
    if not rt.database.is_sqlite:
        with rt.database.session() as session:
            reader = session.scalars(select(Reader)).one()
            erasure.erase(session, reader, now=rt.clock.now(), actor="desk")
        assert erasure.vacuum_after_erase(rt.database) is True
        assert erasure.vacuum_after_erase(rt.database) is False  # once per erase
        return
    erasure.checkpoint(rt.database)
    held = rt.database.engine.raw_connection()  # someone reading, from before the erase
    try:
        cursor = held.cursor()
        cursor.execute("BEGIN")
        cursor.execute("SELECT count(*) FROM subscribers").fetchone()
        with rt.database.session() as session:
            reader = session.scalars(select(Reader)).one()
            erasure.erase(session, reader, now=rt.clock.now(), actor="desk")
        erasure.after_erase(rt.database)
        assert erasure.vacuum_after_erase(rt.database) is False  # still held: not done
        assert ADDRESS.encode() in _sqlite_bytes(rt)
        cursor.execute("COMMIT")
    finally:
        held.close()
    run_once(rt)  # the tick
    assert ADDRESS.encode() not in _sqlite_bytes(rt)
    assert erasure.vacuum_after_erase(rt.database) is False  # done, not repeated
