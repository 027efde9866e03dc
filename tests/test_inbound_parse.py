"""Reading received mail: the parser never raises, whatever arrives, and each oddity gets a
defined answer. Plus the pieces around it: tracked addresses and the safety files."""

from __future__ import annotations

import string
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emails.forward import rfc822_safe
from emails.html_text import html_to_text
from emails.received import MAX_DEPTH, parse, strip_reply
from emails.safety import SAFETY_DIR, SafetyFileError, crisis_phrases, crisis_reply
from service.addresses import MAX_LOCAL_PART, Addresses, AddressKind
from service.inbox.triage import asks_to_stop

ADDRESSES = Addresses("a-secret", "reply.example.test")

# --- the parser -------------------------------------------------------------------------


def _mail(body: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Robin <robin@example.test>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return bytes(message)


def test_the_newest_words_are_kept_and_the_quote_is_dropped() -> None:
    parsed = parse(
        _mail(
            "This one hit home.\n\nOn Tue, 27 Oct 2026, Lee wrote:\n> Step 2 text\n> more\n",
            Subject="Re: Step 2",
            Message_ID="<a@b>",
        )
    )
    assert parsed.reply_text == "This one hit home."
    assert parsed.from_address == "robin@example.test" and parsed.from_name == "Robin"
    assert parsed.message_id == "<a@b>" and parsed.subject == "Re: Step 2"
    assert parsed.auto_reason is None and not parsed.damaged


def test_an_html_only_reply_is_read_as_text() -> None:
    raw = (
        b"From: r@example.test\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><style>p{}</style><p>I read it <b>twice</b>.</p><p>Thank&nbsp;you</p></html>"
    )
    assert parse(raw).reply_text == "I read it twice.\n\nThank you"


def test_a_charset_nobody_knows_is_read_as_utf8_and_noted() -> None:
    raw = (
        b"From: r@example.test\r\nContent-Type: text/plain; charset=klingon\r\n\r\n"
        b"Qapla\xc3\xa9\r\n"
    )
    parsed = parse(raw)
    assert parsed.reply_text == "Qapla\xe9"
    assert parsed.notes == ["unknown character set 'klingon': read as UTF-8"]


def test_latin1_8bit_bodies_are_decoded() -> None:
    raw = (
        b"From: r@example.test\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nMerci, c'\xe9tait doux.\r\n"
    )
    assert parse(raw).reply_text == "Merci, c'\xe9tait doux."


def test_deep_nesting_is_damaged_but_its_headers_are_read() -> None:
    raw = b"From: r@example.test\r\nSubject: deep\r\n"
    raw += b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    for level in range(1, 1200):  # past where the standard library itself gives up
        raw += (
            f'--b{level - 1}\r\nContent-Type: multipart/mixed; boundary="b{level}"\r\n\r\n'.encode()
        )
    parsed = parse(raw)
    assert parsed.damaged and parsed.subject == "deep"
    assert parsed.from_address == "r@example.test"
    assert f"more than {MAX_DEPTH} levels" in parsed.notes[0]


def test_crlf_in_a_display_name_cannot_inject_a_header() -> None:
    raw = b"From: =?utf-8?q?Robin=0D=0ABcc=3A_x=40evil?= <r@example.test>\r\n\r\nhi\r\n"
    parsed = parse(raw)
    assert parsed.from_address == "r@example.test"
    assert "\r" not in (parsed.from_name or "") and "\n" not in (parsed.from_name or "")


def test_a_from_header_without_an_address_is_noted() -> None:
    parsed = parse(b"From: nobody at all\r\n\r\nhello\r\n")
    assert parsed.from_address is None
    assert "not a usable address" in parsed.notes[0]


@pytest.mark.parametrize(
    ("headers", "envelope_sender", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, None, "Auto-Submitted: auto-replied"),
        ({"X_Autoreply": "yes"}, None, "X-Autoreply header"),
        ({"Precedence": "junk"}, None, "Precedence: junk"),
        ({"Subject": "Automatic reply: hello"}, None, "an out-of-office subject"),
        ({"Subject": "Abwesenheitsnotiz"}, None, "an out-of-office subject"),
        ({}, "", "a null envelope sender"),
        ({"Auto_Submitted": "no"}, "r@example.test", None),
        ({"Subject": "Re: I was out of the office when this came"}, None, None),
    ],
)
def test_machines_are_told_apart_from_people(
    headers: dict[str, str], envelope_sender: str | None, reason: str | None
) -> None:
    assert parse(_mail("Away", **headers), envelope_sender=envelope_sender).auto_reason == reason


def test_a_delivery_report_is_read() -> None:
    from tests.support.mail import delivery_report

    parsed = parse(delivery_report(to="bounces+x@reply.example.test", failed="gone@example.test"))
    assert parsed.report is not None and parsed.report.hard
    assert parsed.report.recipient == "gone@example.test" and parsed.report.status == "5.1.1"
    delayed = parse(delivery_report(to="b@x", failed="slow@example.test", status="4.4.1"))
    assert delayed.report is not None and not delayed.report.hard


@pytest.mark.parametrize(
    ("text", "stop"),
    [
        ("stop", True),
        ("STOP!", True),
        ("Unsubscribe", True),
        ("please unsubscribe me.", True),
        ("I can't stop reading these", False),
        ("", False),
    ],
)
def test_only_a_bare_stop_means_stop(text: str, stop: bool) -> None:
    assert asks_to_stop(text) is stop


def test_strip_reply_keeps_text_with_nothing_to_strip() -> None:
    assert strip_reply("Just one line.") == "Just one line."
    assert strip_reply("  \n ") == ""


def test_html_to_text_survives_broken_markup() -> None:
    assert html_to_text("<p>one<div>two</p><a href='https://x.example'>link") == (
        "one\ntwo\nlink (https://x.example)"
    )


def test_only_clean_7bit_mail_is_embedded_as_a_message() -> None:
    assert rfc822_safe(b"From: a@b\r\n\r\nhello\r\n")
    assert not rfc822_safe(b"From: a@b\r\n\r\nh\xe9llo\r\n")
    assert not rfc822_safe(b"From: a@b\r\n\r\nnul\x00\r\n")
    assert not rfc822_safe(b"From: a@b\r\n\r\n" + b"x" * 1200 + b"\r\n")


_header_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80
)


@st.composite
def hostile_messages(draw: st.DrawFn) -> bytes:
    """Messages put together from the parts that break parsers: odd headers, encodings,
    charsets, nesting, NULs, bare CRs, truncated MIME."""
    names = [
        "From",
        "To",
        "Subject",
        "Message-ID",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Auto-Submitted",
        "Precedence",
        "X-Autoreply",
        "Cc",
        "Delivered-To",
    ]
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        name = draw(
            st.sampled_from(names) | st.text(string.ascii_letters + "-", min_size=1, max_size=12)
        )
        value = draw(
            _header_text
            | st.sampled_from(
                [
                    "=?utf-8?q?broken=ZZ?=",
                    "=?x-nope?b?AAAA?=",
                    '"unterminated <a@b',
                    "<>",
                    "multipart/mixed; boundary=",
                    'multipart/report; report-type=delivery-status; boundary="z"',
                    "text/plain; charset=utf-7",
                    "text/html; charset=x-unknown",
                    "base64",
                    "quoted-printable",
                    "a@b, , ,;;<<c@d>>",
                ]
            )
        )
        lines.append(f"{name}: {value}".encode("utf-8", "surrogatepass"))
    body = draw(st.binary(max_size=400))
    nesting = draw(st.integers(0, 60))
    nested = b"".join(
        b'--z\r\nContent-Type: multipart/mixed; boundary="z"\r\n\r\n' for _ in range(nesting)
    )
    separator = draw(st.sampled_from([b"\r\n\r\n", b"\n\n", b"\r\r", b""]))
    return b"\r\n".join(lines) + separator + nested + body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=hostile_messages(), envelope_sender=st.none() | st.sampled_from(["", "a@b.example"]))
def test_the_parser_never_raises_on_hostile_mail(raw: bytes, envelope_sender: str | None) -> None:
    parsed = parse(raw, envelope_sender=envelope_sender)
    assert isinstance(parsed.reply_text, str) and "\0" not in parsed.reply_text
    assert parsed.from_address is None or "@" in parsed.from_address
    assert "\n" not in parsed.subject and "\r" not in parsed.subject


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=2000))
def test_the_parser_never_raises_on_random_bytes(raw: bytes) -> None:
    parse(raw)


# --- tracked addresses ------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(list(AddressKind)),
    reader_id=st.integers(1, 2**32 - 1),
    delivery_id=st.integers(1, 2**32 - 1),
)
def test_every_address_reads_back_and_fits_the_local_part(
    kind: AddressKind, reader_id: int, delivery_id: int
) -> None:
    address = ADDRESSES.address(kind, reader_id, delivery_id, owner="public-id")
    local = address.split("@")[0]
    assert len(local) <= MAX_LOCAL_PART and local == local.lower()
    for seen in (address, address.upper(), f"<{address}>"):
        token = ADDRESSES.read(seen)
        assert token is not None
        assert (token.kind, token.reader_id, token.delivery_id) == (
            kind,
            reader_id,
            delivery_id,
        )
        assert token.belongs_to("public-id") and not token.belongs_to("someone-else")


@settings(max_examples=200, deadline=None)
@given(position=st.integers(0, 35), replacement=st.sampled_from("abcdefghijklmnopqrstuvwxyz234567"))
def test_an_altered_token_never_reads(position: int, replacement: str) -> None:
    token = ADDRESSES.token(AddressKind.REPLY, 12, 34, owner="p")
    if token[position] == replacement:
        return
    altered = token[:position] + replacement + token[position + 1 :]
    assert ADDRESSES.read(f"reply+{altered}@reply.example.test") is None


def test_tokens_are_bound_to_their_kind_secret_and_domain() -> None:
    token = ADDRESSES.token(AddressKind.REPLY, 12, 34, owner="p")
    assert ADDRESSES.read(f"unsubscribe+{token}@reply.example.test") is None
    assert ADDRESSES.read(f"reply+{token}@elsewhere.example") is None
    other = Addresses("another-secret", "reply.example.test")
    assert other.read(f"reply+{token}@reply.example.test") is None
    assert "12" not in token and "34" not in token  # no ids in clear either


@settings(max_examples=300, deadline=None)
@given(address=st.text(max_size=120))
def test_reading_any_string_never_raises(address: str) -> None:
    ADDRESSES.read(address)


# --- the safety files -------------------------------------------------------------------


def test_the_shipped_phrases_find_danger_and_ignore_everyday_words() -> None:
    phrases = crisis_phrases(SAFETY_DIR / "crisis-phrases.txt")
    assert phrases.find("Honestly I wish I were dead some days") == ["wish i were dead"]
    assert phrases.find("He hit me last night.") == ["he hit me"]
    assert phrases.find("I want to kill myself") == ["kill myself"]
    for everyday in (
        "It hits me that I was wrong",
        "She beat me to it",
        "This course is killing me, in a good way",
        "I could die laughing",
    ):
        assert phrases.find(everyday) == [], everyday


def test_a_bad_phrase_file_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "phrases.txt"
    bad.write_text("# notes\nsuicide\nok\n")
    with pytest.raises(SafetyFileError, match=r"phrases.txt:3: 'ok' is too short"):
        crisis_phrases(bad)
    bad.write_text("# only notes\n")
    with pytest.raises(SafetyFileError, match=r"phrases.txt:1: the file lists no phrases"):
        crisis_phrases(bad)


def test_the_crisis_reply_fills_in_names_and_refuses_unknown_placeholders(tmp_path: Path) -> None:
    shipped = crisis_reply(SAFETY_DIR / "crisis-reply.txt")
    text = shipped.text(first_name=None, therapist_name="Lee Miller")
    assert text.startswith("Hi,") and "988" in text and "Lee Miller" in text
    bad = tmp_path / "reply.txt"
    bad.write_text("Subject: Hello\n\nHi $greeting,\nCall $therapist_nmae.\n")
    with pytest.raises(
        SafetyFileError, match=r"reply.txt:4: unknown placeholder '\$therapist_nmae'"
    ):
        crisis_reply(bad)
    bad.write_text("Hello\n")
    with pytest.raises(
        SafetyFileError, match=r"reply.txt:1: the first line must be 'Subject: ...'"
    ):
        crisis_reply(bad)


@pytest.mark.parametrize(
    ("status", "action", "diagnostic", "kind"),
    [
        (
            "5.0.0",
            "failed",
            "550-5.1.1 The email account that you tried to reach does not exist",
            "hard",
        ),
        ("5.4.1", "failed", "550 5.4.1 Recipient address rejected: Access denied", "hard"),
        ("5.4.4", "failed", "550 5.4.4 Unable to route: no such domain", "hard"),
        ("5.0.0", "failed", "550 rejected: client host 4.7.120.3 is not allowed", "hard"),
        ("", "failed", "550 User unknown", "hard"),
        ("", "failed", "421 try again later", "soft"),
        ("5.2.2", "failed", "552 5.2.2 Mailbox full", "soft"),
        ("4.4.7", "failed", "delivery time expired", "expired"),
        ("5.7.9", "failed", "554 5.7.9 Message not accepted for policy reasons", "sender_setup"),
        (
            "5.0.0",
            "failed",
            "550 5.7.515 Access denied, sending domain does not meet",
            "sender_setup",
        ),
        ("4.4.7", "delayed", "still trying", "none"),
    ],
)
def test_bounces_are_told_apart_by_what_they_teach(
    status: str, action: str, diagnostic: str, kind: str
) -> None:
    from emails.received import DeliveryReport

    assert DeliveryReport(action, status, None, diagnostic).kind == kind
