"""Readers' words are sealed at rest: a reply with a marker in it reaches the desk whole, yet
the marker is nowhere in the SQLite file, its WAL or a backup; a key rotated while everything
runs leaves every reply readable; and the files that hold readers' records are this user's
alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select, text

from service.store.models import DeskAnswer, DeskUser, InboundMessage
from service.store.sealing import Sealer, install, new_key
from tests.support.desk import sign_in
from tests.support.env import settings_env
from tests.support.harness import enrolled, tick_and_work, work
from tests.support.mail import reply_address, reply_to, send
from tests.support.smtp import SMTPSink
from workers.cli import main
from workers.runtime import Runtime

MARKER = "Xq7-marker-the-words-of-a-reader-9Lp"


def _reply(rt: Runtime, smtp_sink: SMTPSink, listener: int, words: str) -> None:
    welcome = smtp_sink.messages_to("ana@example.test")[-1]
    data = reply_to(welcome, words, sender="ana@example.test", message_id=f"<{len(words)}@r>")
    assert send(listener, "ana@example.test", [reply_address(welcome)], data) == {}
    work(rt)


def _database_bytes(rt: Runtime) -> bytes:
    url = rt.settings.DATABASE_URL
    path = Path(url.removeprefix("sqlite:///"))
    found = b""
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            found += part.read_bytes()
    return found


@pytest.fixture
def sqlite_only(rt: Runtime) -> Runtime:
    if not rt.database.is_sqlite:
        pytest.fail("this test reads the SQLite file's bytes: run it on the sqlite leg")
    return rt


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_readers_words_are_nowhere_on_disk_in_clear(
    sqlite_only: Runtime, smtp_sink: SMTPSink, listener: int, tmp_path: Path
) -> None:
    rt = sqlite_only
    enrolled(rt, "ana@example.test", timezone="UTC", first_name="Ana")
    tick_and_work(rt)
    _reply(rt, smtp_sink, listener, f"I have never told anyone this. {MARKER}")
    with rt.database.session() as session:
        row = session.scalars(select(InboundMessage)).one()
        assert MARKER in (row.reply_text or "") and MARKER.encode() in row.raw
    assert MARKER.encode() not in _database_bytes(rt)
    # a checked backup holds the sealed words too, never the clear ones
    backup = tmp_path / "copy.db"
    made = CliRunner(env=settings_env(rt.settings)).invoke(main, ["db", "backup", str(backup)])
    assert made.exit_code == 0, made.output
    assert MARKER.encode() not in backup.read_bytes()
    for private in (Path(rt.settings.DATABASE_URL.removeprefix("sqlite:///")), backup):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private


def test_rotating_the_key_while_everything_runs_leaves_every_reply_readable(
    rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    enrolled(rt, "ana@example.test", timezone="UTC", first_name="Ana")
    tick_and_work(rt)
    _reply(rt, smtp_sink, listener, f"first {MARKER}")
    with rt.database.session() as session:  # a reply stored before sealing began
        session.execute(
            text(
                "INSERT INTO inbound_messages (received_at, source, mail_from, rcpt_tos, raw, "
                "status, damaged, urgent, crisis_reply, attempts, reply_text) VALUES "
                "(:at, 'smtp', 'old@example.test', 'x', :raw, 'recorded', false, false, 'none', "
                "0, 'an old plain reply')"
            ),
            {"at": rt.clock.now().replace(tzinfo=None), "raw": b"From: old\r\n\r\nplain"},
        )
    from service.desk import accounts
    from service.inbox import answers

    with rt.database.session() as session:  # her answer and her sign-in code are sealed too
        reply = session.scalars(
            select(InboundMessage).where(InboundMessage.reader_id.is_not(None))
        ).one()
        answers.queue(
            session,
            reply,
            text="ANSWER-WORDS",
            subject="Re: you",
            now=rt.clock.now(),
            mail_domain="example.test",
            by_user="lee",
        )
        user = accounts.add(session, "lee", "a long enough password", rt.clock.now())
        user.totp_secret = "JBSWY3DPEHPK3PXP"
    old = rt.settings.REPLY_KEY
    fresh = new_key()
    env = settings_env(rt.settings, REPLY_KEY=f"{fresh},{old}")
    rotated = CliRunner(env=env).invoke(main, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert "sealed 2 of 2 messages again" in rotated.output
    install(Sealer([fresh]))  # the old key dropped: everything opens with the new one alone
    try:
        with rt.database.session() as session:
            texts = sorted(m.reply_text or "" for m in session.scalars(select(InboundMessage)))
            stored = session.execute(text("SELECT reply_text FROM inbound_messages")).scalars()
            assert all(value.startswith("gAAAAA") for value in stored)  # every row sealed
        assert texts[0] == "an old plain reply" and MARKER in texts[1]
        with rt.database.session() as session:
            assert session.scalars(select(DeskAnswer.body)).one() == "ANSWER-WORDS"
            assert session.scalars(select(DeskAnswer.subject)).one() == "Re: you"
            assert session.scalars(select(DeskUser.totp_secret)).one() == "JBSWY3DPEHPK3PXP"
            stored = session.execute(text("SELECT subject FROM desk_answers")).scalars()
            assert all(value.startswith("gAAAAA") for value in stored)
    finally:
        install(Sealer(rt.settings.reply_keys))


def test_a_bad_reply_key_is_refused_by_name(tmp_path: Path) -> None:
    from service.settings import ConfigError, Settings

    with pytest.raises(ConfigError, match="REPLY_KEY must be Fernet keys"):
        Settings.from_env({"COURSEMAIL_INSTANCE": str(tmp_path), "REPLY_KEY": "not-a-key"})
    made = Settings.from_env({"COURSEMAIL_INSTANCE": str(tmp_path)})
    assert len(made.reply_keys) == 1  # development: made once into instance/
    key_file = tmp_path / "reply_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Settings.from_env({"COURSEMAIL_INSTANCE": str(tmp_path)}).REPLY_KEY == made.REPLY_KEY


def test_caught_mail_is_kept_private(tmp_path: Path) -> None:
    import asyncio
    from types import SimpleNamespace

    from workers.mailcatcher import CatcherHandler

    handler = CatcherHandler(tmp_path / "mail")
    envelope = SimpleNamespace(
        original_content=b"Subject: hi\r\n\r\nbody", content=b"", rcpt_tos=["a@example.test"]
    )
    asyncio.run(handler.handle_DATA(None, None, envelope))
    [caught] = (tmp_path / "mail").glob("*.eml")
    assert stat.S_IMODE(caught.stat().st_mode) == 0o600
    assert os.access(caught, os.R_OK)


def test_the_desk_searches_the_sealed_words(
    rt: Runtime, smtp_sink: SMTPSink, listener: int, desk: FlaskClient
) -> None:
    from service.desk import lists

    enrolled(rt, "ana@example.test", timezone="UTC", first_name="Ana")
    tick_and_work(rt)
    _reply(rt, smtp_sink, listener, f"Something happened at the lake. {MARKER}")
    _reply(rt, smtp_sink, listener, "Nothing much to say today, thanks for asking.")
    sign_in(desk)
    page = desk.get("/admin/replies?q=AT+THE+LAKE").get_data(as_text=True)
    assert "the lake" in page and "Nothing much" not in page
    none = desk.get("/admin/replies?q=volcano").get_data(as_text=True)
    assert "No reply holds “volcano”" in none
    with rt.database.session(read_only=True) as session:  # a search reads on past a page
        found, more = lists.search_replies(session, "nothing much", before=None)
        assert len(found) == 1 and more is None
