"""A course or confirmation email's bytes, written directly: the sending path.

``message.build_message`` builds the same email as an ``EmailMessage``; serialising that
walks the standard library's generator and encodes both parts in pure Python, about 1 ms an
email. Here the headers come from the same list (``message.header_fields``, written and
folded by ``emails.headers``), the two parts are quoted-printable encoded by ``binascii`` (C),
and the MIME frame around them is fixed text. Tests parse what this writes with the standard
library and check it says exactly what ``build_message`` says, for hard names and addresses.

The result follows RFC 5322/2045: CRLF line endings, header lines under 998 characters
(folded at 78 by ``emails.headers``), body lines under 77 (quoted-printable), 7-bit except
for a UTF-8 header naming an international address (RFC 6532, sent with SMTPUTF8).
"""

from __future__ import annotations

import binascii
import secrets
from email import quoprimime

from emails.message import Envelope, header_fields
from emails.render import Rendered

#: The longest quoted-printable line (RFC 2045 §6.7).
MAX_QP_LINE = 76
#: The longest line SMTP carries (RFC 5321 §4.5.3.1.6), without its CRLF.
MAX_LINE = 998


class Unwritable(ValueError):
    """A header line too long for the wire: the caller falls back to ``build_message``."""


def write(rendered: Rendered, envelope: Envelope) -> bytes:
    # "=_" can never occur in quoted-printable text (an "=" there is always "=XX" or a soft
    # break), so this boundary cannot appear inside either part
    boundary = f"=_{secrets.token_hex(12)}"
    lines = [_header(name, value) for name, value in header_fields(rendered.subject, envelope)]
    lines.append("MIME-Version: 1.0\r\n")
    lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n')
    head = "".join(lines).encode("utf-8")
    return b"".join(
        (
            head,
            _part(boundary, "plain", rendered.text),
            _part(boundary, "html", rendered.html),
            f"--{boundary}--\r\n".encode("ascii"),
        )
    )


def _header(name: str, value: str) -> str:
    # emails.headers folds with "\n "; the wire wants CRLF (as the WIRE policy writes it)
    folded = value.splitlines()
    if len(name) + 2 + len(folded[0]) > MAX_LINE or any(len(x) > MAX_LINE for x in folded[1:]):
        raise Unwritable(f"the {name} header has a line over {MAX_LINE} characters")
    return f"{name}: " + "\r\n".join(folded) + "\r\n"


def _part(boundary: str, subtype: str, content: str) -> bytes:
    body = content if content.endswith("\n") else content + "\n"
    raw = body.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    encoded = binascii.b2a_qp(raw)
    if max(map(len, encoded.split(b"\r\n"))) > MAX_QP_LINE:
        # binascii lets a line ending in encoded whitespace reach 77 characters: the
        # library's own (slower, pure Python) encoder never does
        text = raw.replace(b"\r\n", b"\n").decode("latin-1")
        encoded = quoprimime.body_encode(text, MAX_QP_LINE, eol="\r\n").encode("ascii")
        if not encoded.endswith(b"\r\n"):
            encoded += b"\r\n"
    return (
        (
            f"--{boundary}\r\n"
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode("ascii")
        + encoded
        + b"\r\n"
    )  # this CRLF belongs to the next boundary line
