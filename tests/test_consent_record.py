"""Each reader's record: signed up (form, words, IP, browser), confirmed, and every change
since with how it came about (one-click, the page, a reply, the desk, the command line);
appended, never rewritten; printed by ``coursemail consent ADDRESS``."""

from __future__ import annotations

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.readers.history import record_of
from service.store.models import Reader
from tests.support.desk import join_by_web, sign_in, token
from tests.support.env import settings_env
from tests.support.harness import tick_and_work, work
from tests.support.mail import reply_address, reply_to, send
from tests.support.smtp import SMTPSink
from workers.cli import main
from workers.runtime import Runtime


def _sign_up_and_confirm(client: FlaskClient, rt: Runtime, sink: SMTPSink, address: str) -> None:
    join_by_web(
        client,
        rt,
        sink,
        address,
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
        headers={"User-Agent": "TestBrowser/1.0"},
    )
    tick_and_work(rt)


def _record(rt: Runtime, address: str) -> list[tuple[str, str]]:
    with rt.database.session() as session:
        reader = session.scalar(select(Reader).where(Reader.email == address))
        assert reader is not None
        return [(e.what, e.how) for e in record_of(session, reader)]


def test_the_record_tells_how_each_reader_joined_and_left(
    app: Flask,
    client: FlaskClient,
    desk: FlaskClient,
    rt: Runtime,
    smtp_sink: SMTPSink,
    listener: int,
) -> None:
    for address in (
        "one@example.test",
        "page@example.test",
        "stop@example.test",
        "desk@example.test",
    ):
        _sign_up_and_confirm(client, rt, smtp_sink, address)
    with rt.database.session() as session:
        tokens = dict(session.execute(select(Reader.email, Reader.unsubscribe_token)).all())
    mail_app = app.test_client(use_cookies=False)
    mail_app.post(f"/u/{tokens['one@example.test']}", data=b"List-Unsubscribe=One-Click")
    client.post(f"/u/{tokens['page@example.test']}", data={"confirm": "1"})
    welcome = smtp_sink.messages_to("stop@example.test")[-1]
    data = reply_to(welcome, "stop", sender="stop@example.test")
    assert send(listener, "stop@example.test", [reply_address(welcome)], data) == {}
    work(rt)
    sign_in(desk)
    with rt.database.session() as session:
        public_id = session.scalar(
            select(Reader.public_id).where(Reader.email == "desk@example.test")
        )
    path = f"/admin/readers/{public_id}/pause"
    desk.post(path, data={"csrf_token": token(desk, path)})

    signed_up = ("signed up", "on form signup-2026-11-30 from 203.0.113.7")
    confirmed = ("confirmed", "with the link in their confirmation email")
    assert _record(rt, "one@example.test") == [
        signed_up,
        confirmed,
        ("unsubscribed", "with their mail app’s unsubscribe button"),
    ]
    assert _record(rt, "page@example.test")[-1] == ("unsubscribed", "on the unsubscribe page")
    assert _record(rt, "stop@example.test")[-1] == ("unsubscribed", "by replying to ask to stop")
    assert _record(rt, "desk@example.test")[-1] == ("paused", "on the therapist’s desk")
    # a second unsubscribe changes nothing, so it is not recorded
    mail_app.post(f"/u/{tokens['one@example.test']}", data=b"List-Unsubscribe=One-Click")
    assert len(_record(rt, "one@example.test")) == 3

    printed = CliRunner(env=settings_env(rt.settings)).invoke(main, ["consent", "one@example.test"])
    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    assert "signed up, on form signup-2026-11-30 from 203.0.113.7" in lines[1]
    assert "agreeing to: “Yes, please send me Rebuilding Broken Trust" in lines[2]
    assert "TestBrowser/1.0" in lines[2]
    assert lines[3].endswith("confirmed, with the link in their confirmation email")
    assert lines[-1].endswith("unsubscribed, with their mail app’s unsubscribe button")
    unknown = CliRunner(env=settings_env(rt.settings)).invoke(main, ["consent", "no@example.test"])
    assert unknown.exit_code == 1 and "no reader has the address" in unknown.output
