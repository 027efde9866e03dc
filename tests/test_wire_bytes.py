"""The sending path's bytes (``emails.wire``) say exactly what ``build_message`` says, and
are valid on the wire: CRLF only, folded headers, quoted-printable bodies with short lines,
RFC 2047 where a name or subject needs it, UTF-8 headers only for international addresses.
Checked by parsing the bytes with the standard library, never by timing."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emails import wire
from emails.course import default_course
from emails.message import (
    Envelope,
    Routing,
    build_message,
    confirmation_parts,
    course_parts,
    needs_smtputf8,
    to_bytes,
)
from emails.render import Contact, Rendered, Renderer
from tests.test_international import ADDRESSES, NAMES

CONTACT = Contact("Lee Miller", "lee@example.test", "+1 (310) 614-0323", "1 Main St, Town")


def envelope(name: str | None = "Sam", address: str = "sam@example.test") -> Envelope:
    return Envelope(
        from_name="Lee Miller",
        from_address="course@example.test",
        to_address=address,
        to_name=name,
        reply_to=("Lee Miller", "reply+token@reply.example.test"),
        message_id="<1.2@example.test>",
        date=datetime(2026, 11, 29, 8, tzinfo=UTC),
        unsubscribe=("https://example.test/u/abc", "mailto:unsubscribe+t@reply.example.test"),
        list_id=("Rebuilding Broken Trust", "rebuilding-trust.reply.example.test"),
    )


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def assert_same_email(fast: bytes, reference: bytes) -> None:
    """Same headers (raw, unfolded), same decoded parts, no defects."""
    ours, theirs = parse(fast), parse(reference)
    unfold = lambda value: re.sub(r"\r?\n[ \t]", " ", value)  # noqa: E731
    skip = {"content-type"}  # the boundary differs by design; the type is checked below
    assert [(k, unfold(v)) for k, v in ours.items() if k.lower() not in skip] == [
        (k, unfold(v)) for k, v in theirs.items() if k.lower() not in skip
    ]
    assert ours.get_content_type() == "multipart/alternative"
    mine, reference_parts = list(ours.iter_parts()), list(theirs.iter_parts())
    assert [p.get_content_type() for p in mine] == ["text/plain", "text/html"]
    assert [p.get_content_type() for p in reference_parts] == ["text/plain", "text/html"]
    for part, expected in zip(mine, reference_parts, strict=True):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_content() == expected.get_content()
        assert not part.defects
    assert not ours.defects


def assert_valid_on_the_wire(data: bytes) -> None:
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")
    head, _, body = data.partition(b"\r\n\r\n")
    assert all(len(line) <= 78 for line in head.split(b"\r\n")), "headers folded at 78"
    assert all(len(line) <= 76 for line in body.split(b"\r\n")), "quoted-printable lines"
    assert body.isascii(), "the body is 7-bit: relays without 8BITMIME carry it"


@pytest.mark.parametrize("step", range(len(default_course().steps)))
def test_every_course_email_is_the_same_email_written_faster(step: int) -> None:
    renderer = Renderer(default_course(), CONTACT)
    when = datetime(2026, 3, 8, 15, tzinfo=UTC)
    routing = Routing(
        "sam@example.test", "Sam", "course@example.test", "<1@x.test>", when, "reply+t@x.test"
    )
    parts = course_parts(
        renderer,
        step,
        routing,
        unsubscribe_url="https://example.test/u/tok",
        unsubscribe_address="unsubscribe+t@reply.example.test",
        list_domain="reply.example.test",
    )
    fast = wire.write(*parts)
    assert_same_email(fast, to_bytes(build_message(*parts)))
    assert_valid_on_the_wire(fast)
    assert not needs_smtputf8(fast)


def test_the_confirmation_email_too() -> None:
    renderer = Renderer(default_course(), CONTACT)
    when = datetime(2026, 11, 1, 9, tzinfo=UTC)
    routing = Routing("zoë@example.test", "Zoë", "course@example.test", "<2@x.test>", when)
    parts = confirmation_parts(renderer, routing, confirm_url="https://example.test/confirm/x")
    fast = wire.write(*parts)
    assert_same_email(fast, to_bytes(build_message(*parts)))
    assert "List-Unsubscribe" not in parse(fast)
    assert needs_smtputf8(fast)  # the address's local part is not ASCII: SMTPUTF8 only


BODY_PIECES = st.sampled_from(
    [
        ".",
        "..",
        "\n.\n",
        "From me\n",
        "  \n",
        "\t\n",
        "=",
        "=_",
        "=3D",
        "--",
        "=_ab",
        "é",
        "用户",
        "👩",
        "\r\n",
        "\r",
        "x" * 120,
        " " * 90,
        "<b>",
        "&amp;",
        "\n\n",
    ]
)
BODIES = st.lists(st.one_of(BODY_PIECES, st.text(max_size=5)), max_size=30).map("".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAMES, address=ADDRESSES, text=BODIES, html=BODIES)
def test_any_name_address_and_body_is_written_as_the_library_writes_it(
    name: str, address: str, text: str, html: str
) -> None:
    rendered = Rendered(subject=f"Step 1 for {name}", html=html, text=text)
    reference = to_bytes(build_message(rendered, envelope(name, address)))
    fast = wire.write(rendered, envelope(name, address))
    ours, theirs = parse(fast), parse(reference)
    assert [v for _, v in ours.items()][:11] == [v for _, v in theirs.items()][:11]
    for part, expected in zip(ours.iter_parts(), theirs.iter_parts(), strict=True):
        # the library writes a lone CR as a line break; either way the reader sees a break
        normal = lambda s: s.replace("\r\n", "\n").replace("\r", "\n")  # noqa: E731
        assert normal(part.get_content()) == normal(expected.get_content())
    head, _, body = fast.partition(b"\r\n\r\n")
    assert b"\n" not in fast.replace(b"\r\n", b"")
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))
    assert body.isascii()
    assert needs_smtputf8(fast) == needs_smtputf8(reference)


def test_a_header_line_too_long_for_the_wire_is_refused_not_written() -> None:
    rendered = Rendered(subject="s", html="<p>h</p>", text="t\n")
    long_address = "a" * 1000 + "@example.test"
    with pytest.raises(wire.Unwritable):
        wire.write(rendered, envelope(None, long_address))


def test_two_emails_never_share_a_boundary() -> None:
    rendered = Rendered(subject="s", html="<p>h</p>", text="t\n")
    first, second = (parse(wire.write(rendered, envelope())) for _ in range(2))
    assert first.get_boundary() != second.get_boundary()


def test_a_line_ending_in_encoded_spaces_stays_within_76_characters() -> None:
    # binascii writes this line at 77 characters (found by the property test above)
    html = ".==_&amp;00\x80\U00010000\U00010000" + "0\x08\x80\x80\U00010000  \n"
    rendered = Rendered(subject="s", html=html, text="t\n")
    fast = wire.write(rendered, envelope())
    body = fast.partition(b"\r\n\r\n")[2]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    [_, html_part] = parse(fast).iter_parts()
    assert html_part.get_content().replace("\r\n", "\n") == html
