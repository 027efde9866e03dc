"""The inbound listener over real SMTP: replies for REPLY_DOMAIN are stored raw, nothing
else is accepted, and a database outage asks the sender to retry instead of losing mail."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from service.models import InboundMessage
from tests.support.smtp import free_port
from workers import inbound
from workers.runtime import Runtime

RAW = b"From: reader@example.test\r\nSubject: Re: Step 1\r\n\r\nThank you.\x00 Really.\r\n"


@pytest.fixture
def listener(rt: Runtime) -> Iterator[int]:
    port = free_port()
    controller = inbound.start(rt, "127.0.0.1", port)
    yield port
    controller.stop()


def test_a_reply_is_stored_byte_for_byte_before_250(rt: Runtime, listener: int) -> None:
    with smtplib.SMTP("127.0.0.1", listener, timeout=10) as smtp:
        refused = smtp.sendmail("reader@example.test", ["reply+abc@reply.example.test"], RAW)
    assert refused == {}
    with rt.database.session() as session:
        stored = session.scalars(select(InboundMessage)).one()
        assert stored.raw == RAW  # NUL bytes and all
        assert stored.rcpt_tos == "reply+abc@reply.example.test"
        assert stored.mail_from == "reader@example.test"


def test_mail_for_any_other_domain_is_refused(rt: Runtime, listener: int) -> None:
    with smtplib.SMTP("127.0.0.1", listener, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            smtp.sendmail("spammer@example.test", ["victim@elsewhere.example"], RAW)
    assert caught.value.recipients["victim@elsewhere.example"][0] == 550
    with rt.database.session() as session:
        assert session.scalars(select(InboundMessage)).all() == []


def test_a_database_outage_answers_451(rt: Runtime, listener: int, tmp_path: Path) -> None:
    real_url = rt.database.url
    rt.database.url = f"sqlite:///{tmp_path}"  # a folder: every write fails
    rt.database.dispose()
    try:
        with smtplib.SMTP("127.0.0.1", listener, timeout=10) as smtp:
            with pytest.raises(smtplib.SMTPDataError) as caught:
                smtp.sendmail("reader@example.test", ["reply+abc@reply.example.test"], RAW)
        assert caught.value.smtp_code == 451
    finally:
        rt.database.url = real_url
        rt.database.dispose()
