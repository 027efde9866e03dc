"""International addresses and names typed as people type them: delivered where they can be,
refused for that one email (with the reason) where the relay cannot carry them, and never able
to add a header or a recipient."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from emails.headers import clean_name, wire_address
from emails.message import Envelope, build_message, to_bytes
from emails.render import Rendered
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Reader,
    ReaderStatus,
)
from tests.support.harness import enrolled, tick_and_work
from tests.support.http import csrf
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

#: A name that decodes to "Eve", a line break and a Bcc header if anything decodes it twice.
ENCODED_WORD_NAME = "=?utf-8?q?Eve=0D=0ABcc:_victim@evil.test?="


def parse(data: bytes) -> EmailMessage:
    """As a modern mail program reads it: headers as UTF-8 (RFC 6532), else ASCII."""
    text = data.decode("utf-8")
    parsed = email.message_from_string(text, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.fixture
def utf8_sink(rt: Runtime) -> Iterator[SMTPSink]:
    sink = SMTPSink(smtputf8=True).start()
    rt.settings = replace(rt.settings, SMTP_URL=sink.url)
    yield sink
    sink.stop()


def _step(rt: Runtime, reader_id: int) -> Delivery:
    with rt.database.session() as session:
        return session.scalars(
            select(Delivery).where(
                Delivery.reader_id == reader_id, Delivery.kind == DeliveryKind.STEP
            )
        ).one()


def test_an_international_domain_travels_in_ascii(rt: Runtime, smtp_sink: SMTPSink) -> None:
    enrolled(rt, "ana@bücher.example", timezone="UTC", first_name="Ana")
    tick_and_work(rt)
    [received] = smtp_sink.received
    assert received.rcpt_tos == ["ana@xn--bcher-kva.example"]
    assert received.data.isascii()
    assert received.message["To"].addresses[0].addr_spec == "ana@xn--bcher-kva.example"


def test_a_non_ascii_mailbox_is_sent_with_smtputf8_when_the_relay_offers_it(
    rt: Runtime, utf8_sink: SMTPSink
) -> None:
    enrolled(rt, "josé@example.test", timezone="UTC", first_name="José")
    enrolled(rt, "用户@例子.广告", timezone="UTC", first_name="用户")
    tick_and_work(rt)
    by_rcpt = {r.rcpt_tos[0]: r for r in utf8_sink.received}
    assert set(by_rcpt) == {"josé@example.test", "用户@xn--fsqu00a.xn--4rr70v"}
    message = parse(by_rcpt["josé@example.test"].data)
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("José", "josé@example.test")


def test_without_smtputf8_only_that_email_fails_and_says_why(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    others = [enrolled(rt, f"r{i}@example.test", timezone="UTC") for i in range(3)]
    jose = enrolled(rt, "josé@example.test", timezone="UTC", first_name="José")
    tick_and_work(rt)
    assert sorted(r.rcpt_tos[0] for r in smtp_sink.received) == [
        f"r{i}@example.test" for i in range(3)
    ]
    assert {_step(rt, o).status for o in others} == {DeliveryStatus.SENT}
    row = _step(rt, jose)
    assert row.status == DeliveryStatus.FAILED_PERMANENT
    assert "SMTPUTF8" in (row.last_error or "")
    with rt.database.session() as session:
        reader = session.get(Reader, jose)
        assert reader is not None and reader.status == ReaderStatus.ACTIVE  # not blamed


def test_a_name_that_looks_like_an_encoded_word_is_literal_text(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    enrolled(rt, "eve@example.test", timezone="UTC", first_name=ENCODED_WORD_NAME)
    enrolled(rt, "sam@example.test", timezone="UTC")
    tick_and_work(rt)
    by_rcpt = {r.rcpt_tos[0]: r for r in smtp_sink.received}
    assert set(by_rcpt) == {"eve@example.test", "sam@example.test"}
    eve = by_rcpt["eve@example.test"]
    assert b"\r\nBcc:" not in eve.data and b"evil.test" not in eve.data.split(b"\r\n\r\n")[0]
    [to] = eve.message["To"].addresses
    assert to.display_name == ENCODED_WORD_NAME and to.addr_spec == "eve@example.test"
    assert "Bcc" not in eve.message


@pytest.mark.parametrize("name", ["علی\u200cرضا", "👩\u200d👩\u200d👧", "Zoë"])
def test_names_with_joiners_are_welcome_on_the_form(
    client: FlaskClient, rt: Runtime, name: str
) -> None:
    response = client.post(
        "/",
        data={
            "email": "reader@example.test",
            "first_name": name,
            "timezone": "Asia/Tehran",
            "csrf_token": csrf(client),
        },
    )
    assert response.status_code == 303
    with rt.database.session() as session:
        assert session.scalars(select(Reader.first_name)).one() == name


NAME_PIECES = st.sampled_from(
    [
        "\r",
        "\n",
        "\r\n",
        "\0",
        "\u2028",
        "\u200f",
        "\u200e",
        "\u202e",
        "\u200d",
        "\u200c",
        "=?",
        "?=",
        "=?utf-8?q?",
        "=0D=0A",
        "Bcc: x@evil.test",
        '"',
        "\\",
        "<",
        ">",
        ",",
        ";",
        "@",
        ":",
        " ",
        "é",
        "用户",
        "👩",
        "Eve",
    ]
)
NAMES = st.lists(st.one_of(NAME_PIECES, st.text(min_size=1, max_size=3)), min_size=1).map(
    lambda pieces: "".join(pieces)[:64]
)
ADDRESSES = st.sampled_from(
    ["eve@example.test", "josé@example.test", "ana@bücher.example", "用户@例子.广告"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAMES, address=ADDRESSES)
def test_every_message_builds_and_reparses_with_one_recipient_and_its_name(
    name: str, address: str
) -> None:
    envelope = Envelope(
        from_name="Lee Miller",
        from_address="course@example.test",
        to_address=address,
        to_name=name,
        reply_to=(name, "reply+token@reply.example.test"),
        message_id="<1@example.test>",
        date=datetime(2026, 11, 29, 8, tzinfo=UTC),
        unsubscribe=("https://example.test/u/abc", "mailto:unsubscribe+t@reply.example.test"),
        list_id=("Rebuilding Broken Trust", "rebuilding-trust.reply.example.test"),
    )
    rendered = Rendered(subject=f"Hello {name}", html="<p>Hi</p>", text="Hi\n")
    data = to_bytes(build_message(rendered, envelope))
    head = data.split(b"\r\n\r\n")[0]
    assert all(line[:1] in (b" ", b"\t") or b":" in line for line in head.split(b"\r\n"))
    message = parse(data)
    names = [key.lower() for key in message.keys()]
    assert names.count("to") == 1 and "bcc" not in names and "cc" not in names
    assert len(names) == len(set(names))  # no header added, none doubled
    [to] = message["To"].addresses
    assert "\r" not in to.display_name and "\n" not in to.display_name
    assert to.addr_spec == wire_address(address)
    # the name and the subject decode to what was typed (control characters aside)
    assert rfc2047_name(raw_header(head, "To")) == clean_name(name)
    assert rfc2047_text(raw_header(head, "Subject")) == clean_name(f"Hello {name}")


def raw_header(head: bytes, name: str) -> str:
    """A header's value as it stands on the wire, unfolded."""
    unfolded = re.sub(rb"\r\n[ \t]", b" ", head).decode("utf-8")
    [value] = [
        line.split(":", 1)[1].strip()
        for line in unfolded.split("\r\n")
        if line.lower().startswith(name.lower() + ":")
    ]
    return value


def rfc2047_text(raw: str) -> str:
    """Decoded by RFC 2047's rules: whitespace between adjacent encoded-words is dropped
    (Python's header registry inserts a space there instead)."""
    return str(make_header(decode_header(raw)))


def rfc2047_name(raw: str) -> str:
    name, _ = parseaddr(raw)
    return rfc2047_text(name) if "=?" in name else name
