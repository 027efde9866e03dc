"""Header values written by us, never re-read by the standard library's header registry.

Why: ``EmailMessage`` parses every value it is given, decoding RFC 2047 encoded-words, and
folds it again when the message is written. A name typed as ``=?utf-8?q?Eve=0D=0ABcc:…?=``
then decodes to a line break: either the message cannot be built (a ``ValueError`` that
stopped whole batches) or, for an ``Address`` object, the header is written with a raw CR LF
(FACTS.md). So the values of address, subject and list headers are made here, already encoded
and folded, and set with ``Message.set_raw``; messages are written with ``WIRE``, whose line
limit (998) means the library never refolds them.

- Text a person typed (a name, a subject) is encoded as UTF-8 encoded-words whenever it is not
  plain printable ASCII, or contains ``=?``: it then decodes to exactly what was typed.
- Structured values (``List-Unsubscribe``, ``List-Id``, ``Message-ID``, ``References``) are
  folded at the spaces between their elements and never encoded (mail programs read them
  literally).
- Addresses go on the wire with an ASCII (IDNA) domain; a non-ASCII local part is written as
  UTF-8 and needs the relay's SMTPUTF8 (RFC 6531/6532).
"""

from __future__ import annotations

import email.policy
import re
import unicodedata
from collections.abc import Sequence
from email.header import Header

import idna

#: Where header lines are folded (RFC 5322 recommends 78 characters).
FOLD_AT = 78
#: Writes headers exactly as set (SMTP's hard limit is 998), with CRLF line endings; a header
#: holding UTF-8 (an international address) is written as UTF-8, and ASCII ones as they are.
WIRE = email.policy.SMTPUTF8.clone(max_line_length=998)

#: Printable ASCII that can stand in a phrase without quoting (RFC 5322 atext and space).
_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")


def is_plain(text: str) -> bool:
    """Printable ASCII with no encoded-word marker: safe to write as it is."""
    return text.isascii() and text.isprintable() and "=?" not in text


def encoded(text: str, header_name: str) -> str:
    """``text`` as UTF-8 encoded-words, folded to fit the line."""
    return Header(text, "utf-8", header_name=header_name).encode(linesep="\r\n")


def unstructured(text: str, header_name: str) -> str:
    """A subject or other free text: as it is when plain, else encoded."""
    text = clean_name(text)
    if is_plain(text):
        return fold(text.split(" "), header_name, separator=" ")
    return encoded(text, header_name)


def wire_address(address: str) -> str:
    """The address with its domain in ASCII (IDNA), as SMTP and headers need it."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"


def phrase(text: str, header_name: str) -> str:
    """A display name (or a list's title) as it may stand before ``<address>``."""
    if not is_plain(text):
        return encoded(text, header_name)
    if _ATOM.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def clean_name(name: str | None) -> str:
    """Text for a header (a name, a subject): control characters and line breaks become
    spaces, runs of space one. Nothing else changes (joiners, bidi marks, emoji and every
    script stay as typed)."""
    spaced = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in name or ""
    )
    return " ".join(spaced.split())


def mailbox(name: str | None, address: str, header_name: str) -> str:
    """``Name <address>`` with the name quoted or encoded as it needs, or the bare address."""
    address = wire_address(address)
    name = clean_name(name)
    if not name:
        return address
    return f"{phrase(name, header_name)} <{address}>"


def fold(items: Sequence[str], header_name: str, *, separator: str = ", ") -> str:
    """Join ``items``, breaking the line between them (never inside one) past 78 columns."""
    lines: list[str] = []
    line = ""
    room = FOLD_AT - len(header_name) - 2
    for index, item in enumerate(items):
        piece = item + (separator.rstrip() if index < len(items) - 1 else "")
        if line and len(line) + 1 + len(piece) > room:
            lines.append(line)
            line, room = piece, FOLD_AT - 1
        else:
            line = f"{line} {piece}" if line else piece
    lines.append(line)
    return "\r\n ".join(lines)


def list_unsubscribe(https_url: str, mailto_url: str | None) -> str:
    targets = [https_url] + ([mailto_url] if mailto_url else [])
    return fold([f"<{t}>" for t in targets], "List-Unsubscribe")


def list_id(title: str, list_address: str) -> str:
    """``Title <slug.domain>`` (RFC 2919)."""
    return f"{phrase(clean_name(title), 'List-Id')} <{list_address}>"
