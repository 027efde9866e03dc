"""The SMTP transport against a real aiosmtpd server: reuse, and every failure classified."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.smtp import SMTPSink, free_port
from workers.transport import AmbiguousError, PermanentError, SMTPTransport, TransientError

MESSAGE = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nHello\r\n"


@pytest.fixture
def transport(smtp_sink: SMTPSink) -> Iterator[SMTPTransport]:
    with SMTPTransport(smtp_sink.url, timeout=5) as t:
        yield t


def test_one_connection_carries_a_whole_batch(
    transport: SMTPTransport, smtp_sink: SMTPSink
) -> None:
    for n in range(10):
        transport.send("a@example.test", [f"r{n}@example.test"], MESSAGE)
    assert len(smtp_sink.received) == 10
    assert len({r.peer for r in smtp_sink.received}) == 1


def test_a_line_starting_with_a_dot_arrives_intact(
    transport: SMTPTransport, smtp_sink: SMTPSink
) -> None:
    transport.send("a@example.test", ["b@example.test"], MESSAGE + b".hidden?\r\n.\r\nend\r\n")
    assert smtp_sink.received[0].data.endswith(b".hidden?\r\n.\r\nend\r\n")


def test_recipient_5xx_is_permanent_and_the_connection_stays_usable(
    transport: SMTPTransport, smtp_sink: SMTPSink
) -> None:
    smtp_sink.handler.rcpt_replies["gone@example.test"] = "550 5.1.1 no such user"
    with pytest.raises(PermanentError) as caught:
        transport.send("a@example.test", ["gone@example.test"], MESSAGE)
    assert caught.value.code == 550
    transport.send("a@example.test", ["b@example.test"], MESSAGE)
    assert [r.rcpt_tos for r in smtp_sink.received] == [["b@example.test"]]


def test_4xx_is_transient(transport: SMTPTransport, smtp_sink: SMTPSink) -> None:
    smtp_sink.handler.data_replies = ["451 4.3.0 later"]
    with pytest.raises(TransientError) as caught:
        transport.send("a@example.test", ["b@example.test"], MESSAGE)
    assert caught.value.code == 451


def test_a_drop_after_the_final_dot_is_ambiguous(
    transport: SMTPTransport, smtp_sink: SMTPSink
) -> None:
    smtp_sink.handler.drop_after_data = 1
    with pytest.raises(AmbiguousError):
        transport.send("a@example.test", ["b@example.test"], MESSAGE)
    # the transport reconnects for the next message
    transport.send("a@example.test", ["c@example.test"], MESSAGE)
    assert [r.rcpt_tos for r in smtp_sink.received] == [["c@example.test"]]


def test_nobody_listening_is_transient() -> None:
    with SMTPTransport(f"smtp://127.0.0.1:{free_port()}", timeout=2) as transport:
        with pytest.raises(TransientError, match="cannot reach"):
            transport.send("a@example.test", ["b@example.test"], MESSAGE)


def test_url_options_are_read() -> None:
    t = SMTPTransport("smtp://user%40x:p%3Ass@relay.example.test:587?starttls=true")
    assert (t.host, t.port, t.username, t.password, t.starttls, t.implicit_tls) == (
        "relay.example.test",
        587,
        "user@x",
        "p:ss",
        True,
        False,
    )
    assert SMTPTransport("smtps://relay.example.test").port == 465
