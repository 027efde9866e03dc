"""The inbound listener over real SMTP: only valid tracked addresses are accepted, the bytes
are stored before 250, oversize mail gets 552, and a database outage asks the sender to
retry instead of losing mail."""

from __future__ import annotations

import email
import email.policy
import smtplib
import ssl
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from service.addresses import AddressKind
from service.queues import QUEUE_TRANSACTIONAL
from service.store.models import InboundMessage, InboundStatus
from tests.conftest import THERAPIST_TEST_EMAIL
from tests.support.harness import work
from tests.support.mail import forward_text, send
from tests.support.smtp import SMTPSink, free_port
from tests.support.waiting import some_thread_is_in, wait_for
from workers import listener, tick
from workers.runtime import Runtime

RAW = b"From: reader@example.test\r\nSubject: Re: Step 1\r\n\r\nThank you.\x00 Really.\r\n"


def _address(rt: Runtime, kind: AddressKind = AddressKind.REPLY) -> str:
    return rt.addresses.address(kind, 7, 42, owner="someone")


def _stored(rt: Runtime) -> list[InboundMessage]:
    with rt.database.session() as session:
        rows = list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))
        session.expunge_all()
        return rows


@pytest.mark.parametrize("kind", list(AddressKind))
def test_a_message_to_a_tracked_address_is_stored_byte_for_byte_and_queued(
    rt: Runtime, listener: int, kind: AddressKind
) -> None:
    address = _address(rt, kind)
    assert send(listener, "reader@example.test", [address.upper()], RAW) == {}
    [stored] = _stored(rt)
    # our trace line, then the message exactly as sent, NUL bytes and all, as binary
    trace = stored.raw[: -len(RAW)]
    assert stored.raw.endswith(RAW)
    assert trace.startswith(b"Received: from ") and trace.endswith(b"\r\n")
    assert f"by {rt.settings.INBOUND_HOSTNAME} (coursemail) with ESMTP".encode() in trace
    assert stored.rcpt_tos == address.upper()  # a relay that folds case still gets through
    assert stored.mail_from == "reader@example.test"
    assert stored.status == InboundStatus.RECEIVED and stored.source == "smtp"
    # the reply job was enqueued before the 250 was sent
    assert rt.queue(QUEUE_TRANSACTIONAL).count == 1


def test_mail_for_any_other_domain_is_refused(rt: Runtime, listener: int) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        send(listener, "spammer@example.test", ["victim@elsewhere.example"], RAW)
    assert caught.value.recipients["victim@elsewhere.example"][0] == 550
    assert _stored(rt) == []


@pytest.mark.parametrize(
    "local",
    [
        "hostmaster",  # (postmaster@, abuse@ and fbl@ are taken: test_listener_manners)
        "reply",
        "reply+",
        "reply+notatoken",
        "hello+{token}",  # a real token under an unknown prefix
        "unsubscribe+{token}",  # a reply token moved to another purpose
        "reply+{forged}",  # one character changed
    ],
)
def test_an_address_without_a_valid_token_is_refused(
    rt: Runtime, listener: int, local: str
) -> None:
    token = rt.addresses.token(AddressKind.REPLY, 7, 42, owner="someone")
    forged = ("a" if token[5] != "a" else "b").join([token[:5], token[6:]])
    address = local.format(token=token, forged=forged) + "@reply.example.test"
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        send(listener, "reader@example.test", [address], RAW)
    assert caught.value.recipients[address][0] == 550
    assert _stored(rt) == []


def test_mail_over_the_size_limit_gets_552_and_nothing_is_stored(
    rt: Runtime, listener: int
) -> None:
    attachment = b"A" * (30 * 1024 * 1024)  # the 30 MB attachment
    data = RAW.replace(b"\r\n\r\n", b"\r\nX-Big: yes\r\n\r\n") + attachment + b"\r\n"
    with pytest.raises(smtplib.SMTPException) as caught:
        send(listener, "reader@example.test", [_address(rt)], data)
    assert getattr(caught.value, "smtp_code", None) == 552 or "552" in str(caught.value)
    assert _stored(rt) == []


def test_a_database_outage_answers_451(rt: Runtime, listener: int, tmp_path: Path) -> None:
    real_url = rt.database.url
    rt.database.url = f"sqlite:///{tmp_path}"  # a folder: every write fails
    rt.database.dispose()
    try:
        with pytest.raises(smtplib.SMTPDataError) as caught:
            send(listener, "reader@example.test", [_address(rt)], RAW)
        assert caught.value.smtp_code == 451
    finally:
        rt.database.url = real_url
        rt.database.dispose()
    assert _stored(rt) == []


def test_a_slow_database_write_does_not_stall_other_sessions(rt: Runtime, listener: int) -> None:
    send(listener, "reader@example.test", [_address(rt)], RAW)  # the engine is connected
    # another connection holds the lock the listener's INSERT needs, so the write waits
    blocker = rt.database.engine.connect()
    transaction = blocker.begin()  # on SQLite, BEGIN IMMEDIATE: the database's write lock
    if not rt.database.is_sqlite:
        blocker.exec_driver_sql("LOCK TABLE inbound_messages IN EXCLUSIVE MODE")
    outcome: dict[str, object] = {}

    def slow_sender() -> None:
        outcome["refused"] = send(listener, "reader@example.test", [_address(rt)], RAW)

    thread = threading.Thread(target=slow_sender)
    thread.start()
    try:
        # the first session is now inside its durable write, waiting on the lock
        wait_for(
            lambda: some_thread_is_in("store", "service/inbox/inbound.py"), 10, "the blocked write"
        )
        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", listener, timeout=5) as smtp:
            smtp.ehlo()
            assert smtp.mail("other@example.test")[0] == 250
            assert smtp.rcpt(_address(rt))[0] == 250
        assert time.monotonic() - started < 2  # answered while the write still waits
        assert thread.is_alive()
    finally:
        transaction.rollback()
        blocker.close()
        thread.join(timeout=30)
    assert outcome["refused"] == {}
    assert len(_stored(rt)) == 2


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_with_a_certificate_the_listener_offers_starttls(
    rt: Runtime, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    rt.settings = replace(rt.settings, INBOUND_TLS_CERT=cert, INBOUND_TLS_KEY=key)
    port = free_port()
    controller = listener.start(rt, "127.0.0.1", port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("starttls")
            context = ssl.create_default_context(cafile=str(cert))
            context.check_hostname = False
            smtp.starttls(context=context)
            smtp.ehlo()
            assert not smtp.has_extn("auth")  # nobody logs in here: no AUTH to fail with 535
            assert smtp.sendmail("reader@example.test", [_address(rt)], RAW) == {}
    finally:
        controller.stop()
    stored = _stored(rt)[0].raw
    assert stored.endswith(RAW) and b"with ESMTPS" in stored[: -len(RAW)]


def test_the_listener_greets_as_the_mx_host_and_adds_a_trace_line(
    rt: Runtime, listener: int
) -> None:
    with smtplib.SMTP(timeout=10, local_hostname="mx.sender.test") as smtp:
        code, banner = smtp.connect("127.0.0.1", listener)
        assert (code, banner) == (220, f"{rt.settings.INBOUND_HOSTNAME} ESMTP".encode())
        smtp.ehlo()
        assert not smtp.has_extn("auth")
        assert smtp.sendmail("reader@example.test", [_address(rt)], RAW) == {}
    [stored] = _stored(rt)
    parsed = email.message_from_bytes(stored.raw, policy=email.policy.default)
    received = " ".join(str(parsed["Received"]).split())
    assert received.startswith("from mx.sender.test ([127.0.0.1]) by reply.example.test")
    assert f"for <{_address(rt)}>;" in received


def test_a_reply_from_an_international_address_reaches_the_therapist(
    rt: Runtime, listener: int, smtp_sink: SMTPSink
) -> None:
    reply = (
        f"From: José Núñez <josé@example.test>\r\nTo: {_address(rt)}\r\nSubject: Re: Paso 1\r\n"
        "Message-ID: <intl-1@example.test>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Gracias, de corazón.\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", listener, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("smtputf8")
        refused = smtp.sendmail(
            "josé@example.test", [_address(rt)], reply, mail_options=["SMTPUTF8"]
        )
        assert refused == {}
    work(rt)
    [row] = _stored(rt)
    assert row.mail_from == "josé@example.test"
    assert row.from_address == "josé@example.test"
    assert row.status == InboundStatus.FORWARDED, row.notes
    [forward] = smtp_sink.messages_to(THERAPIST_TEST_EMAIL)
    text = forward_text(forward)
    assert "Gracias, de corazón." in text
    # this relay offers no SMTPUTF8, so the address cannot stand in Reply-To: the text has it
    assert "Reply-To" not in forward
    assert "From: josé@example.test. Write to that address to answer them." in text
    assert "cannot put in Reply-To" in text


def test_through_an_smtputf8_relay_the_forward_answers_an_international_reader(
    rt: Runtime, listener: int
) -> None:
    relay = SMTPSink(smtputf8=True).start()
    rt.settings = replace(rt.settings, SMTP_URL=relay.url)
    try:
        reply = (
            f"From: José <josé@example.test>\r\nTo: {_address(rt)}\r\nSubject: Re: 1\r\n"
            "Message-ID: <intl-2@example.test>\r\n\r\nGracias.\r\n"
        ).encode()
        with smtplib.SMTP("127.0.0.1", listener, timeout=10) as smtp:
            smtp.sendmail("josé@example.test", [_address(rt)], reply, mail_options=["SMTPUTF8"])
        work(rt)
        [received] = relay.received
        head = received.data.split(b"\r\n\r\n")[0].decode("utf-8")
        assert "\r\nReply-To: josé@example.test\r\n" in head  # raw UTF-8 (RFC 6532)
    finally:
        relay.stop()


def test_a_broken_certificate_stops_the_listener_with_a_clear_message(
    rt: Runtime, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from tests.support.env import settings_env
    from workers.cli import main

    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    env = settings_env(
        rt.settings,
        INBOUND_TLS_CERT=str(junk),
        INBOUND_TLS_KEY=str(junk),
        INBOUND_SMTP_PORT=str(free_port()),
    )
    result = CliRunner(env=env).invoke(main, ["inbound"])
    assert result.exit_code == 1
    assert "INBOUND_TLS_CERT / INBOUND_TLS_KEY could not be loaded" in result.output
    half = CliRunner(env={**env, "INBOUND_TLS_KEY": ""}).invoke(main, ["inbound"])
    assert half.exit_code == 1 and "set both (or neither)" in half.output


def test_with_redis_away_a_reply_is_still_accepted_and_forwarded_once_it_is_back(
    rt: Runtime, listener: int, smtp_sink: SMTPSink, tmp_path: Path
) -> None:
    healthy = rt.settings
    rt.settings = replace(healthy, REDIS_URL=f"unix://{tmp_path}/gone.sock")
    rt.__dict__.pop("redis", None)  # the listener's runtime now finds no Redis
    assert send(listener, "reader@example.test", [_address(rt)], RAW) == {}  # still 250
    [stored] = _stored(rt)
    assert stored.claimed_at is None  # handed back at once, for the tick
    rt.settings = healthy
    rt.__dict__.pop("redis", None)
    assert tick.run_once(rt).replies == 1
    work(rt)
    assert _stored(rt)[0].status != InboundStatus.RECEIVED  # the reply job has read it
