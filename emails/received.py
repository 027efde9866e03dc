"""Understand one received message: who wrote it, what they wrote, and whether a person did.

Input is the raw bytes exactly as stored; nothing here touches the database. Hostile mail is
normal, so every step has a defined fallback: a header the parser chokes on is read raw, an
unknown charset is decoded as UTF-8 with replacements, a message nested past ``MAX_DEPTH`` is
"damaged" (its headers are still read), and each oddity becomes a note for the therapist.
"""

from __future__ import annotations

import email.policy
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser, Parser
from email.utils import getaddresses, parseaddr
from typing import Any

from mailparser_reply import EmailReplyParser

from emails.html_text import html_to_text

#: MIME nesting deeper than this is not a reply anyone wrote; the parser itself fails
#: somewhere past 500 levels (FACTS.md), so stop long before.
MAX_DEPTH = 30
#: Only this much of a body is read for the reply (the stripper's regexes are not linear);
#: the whole message is always attached to the forward.
STRIP_LIMIT = 200_000

#: Headers that may carry the address a reply was sent to.
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "Resent-To")

_OUT_OF_OFFICE = re.compile(
    r"^\s*(auto(matic|matische)?[\s_-]*(reply|response|antwort)|out of (the )?office"
    r"|away from (the |my )?(office|desk)|on (annual )?leave|on vacation|abwesen"
    r"|absence|r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica)",
    re.IGNORECASE,
)


#: An enhanced status code (RFC 3463) inside a server's words: "550 5.7.515 Access denied".
#: (never part of a dotted IP address: "from 4.7.120.3" is not code 4.7.120)
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![.\d])")
#: A basic SMTP reply code at the start of a server's words, when no enhanced one is given.
_BASIC = re.compile(r"^\s*([245])\d\d\b")
#: Permanent codes that say nothing against the address: a full mailbox, a message too big,
#: trouble on the way (listmonk and the large senders count these as soft).
_SOFT_PERMANENT = ("5.2.2", "5.2.3", "5.3.", "5.4.6", "5.4.7", "5.6.")


#: x.7.x refusals that are about the one address, not our setup: Microsoft's "the group or
#: mailbox only takes mail from some senders" codes, and a server's own "Recipient address
#: rejected" (a rule on that mailbox). These are the address's lesson, like 5.1.1.
_ADDRESS_LEVEL = ("5.7.129", "5.7.133", "5.7.134", "5.7.135", "5.7.136")
_ADDRESS_WORDS = re.compile(r"recipient address rejected", re.IGNORECASE)


def policy_code(words: str) -> str | None:
    """The enhanced code of a server's answer refusing us for our sending setup or reputation
    (x.7.x: "550 5.7.26 Unauthenticated email", "421 4.7.28 unusual rate"), not for the
    address; None for any other answer (an x.7.x about the one mailbox included)."""
    said = _ENHANCED.search(words)
    if said is None or said.group(2) != "7":
        return None
    code = ".".join(said.groups())
    return None if _about_the_address(code, words) else code


def _about_the_address(code: str, words: str) -> bool:
    return code in _ADDRESS_LEVEL or bool(_ADDRESS_WORDS.search(words))


@dataclass(frozen=True)
class DeliveryReport:
    """What a delivery-status report (a bounce) says happened."""

    action: str
    status: str
    recipient: str | None
    #: the receiving server's own words (Diagnostic-Code), when given
    diagnostic: str = ""

    @property
    def code(self) -> str:
        """The most specific status code: a generic ``5.0.0`` gives way to the one in the
        server's words (Gmail and Microsoft put their real reason there)."""
        said = _ENHANCED.search(self.diagnostic)
        if said and (not self.status or self.status.endswith(".0.0")):
            return ".".join(said.groups())
        return self.status

    @property
    def kind(self) -> str:
        """What the bounce teaches, for the reader's address:

        - ``hard``: the address does not exist or is disabled (5.1.x, 5.2.1 and other
          permanent refusals): never mail it again;
        - ``sender_setup``: a policy or reputation refusal (5.7.x and 4.7.x: Gmail's
          4.7.23-32 and 5.7.25-30, Microsoft's 5.7.515 for authentication): our setup is at
          fault, not the address; never suppress;
        - ``expired``: the relay gave up after its retries (4.4.x, or any 4.x.x, failed);
        - ``soft``: a permanent code that says nothing against the address (mailbox full);
        - ``none``: not a failure (delayed, delivered, relayed).
        """
        if self.action != "failed":
            return "none"
        code = self.code
        if not code:  # no status at all: the basic code of the server's words decides
            basic = _BASIC.match(self.diagnostic)
            return "hard" if basic and basic.group(1) == "5" else "soft"
        if code[1:3] == ".7" and not _about_the_address(code, self.diagnostic):
            return "sender_setup"
        if code.startswith("4"):
            return "expired"
        if code.startswith(_SOFT_PERMANENT):
            return "soft"
        return "hard" if code.startswith("5") else "soft"

    @property
    def hard(self) -> bool:
        """A permanent failure: the address does not exist or refuses us for good."""
        return self.kind == "hard"


@dataclass(frozen=True)
class Complaint:
    """A complaint report (ARF, RFC 5965): someone marked our message as spam."""

    feedback_type: str
    #: the headers of our message as the report quotes them (where the tracked addresses are)
    original_headers: str


@dataclass
class ParsedMail:
    from_address: str | None = None
    from_name: str | None = None
    subject: str = ""
    message_id: str | None = None
    recipients: list[str] = field(default_factory=list)
    #: what the person wrote, without quoted history or signature
    reply_text: str = ""
    #: why this looks machine-written (None: a person wrote it)
    auto_reason: str | None = None
    report: DeliveryReport | None = None
    complaint: Complaint | None = None
    damaged: bool = False
    notes: list[str] = field(default_factory=list)


def parse(raw: bytes, *, envelope_sender: str | None = None) -> ParsedMail:
    """Everything the reply job needs from ``raw``; never raises on bad input.

    ``envelope_sender`` is the SMTP ``MAIL FROM`` when known: empty means a null sender
    (``<>``), which only machines use.
    """
    parser = BytesParser(policy=email.policy.default)
    result = ParsedMail()
    # only the header block: parsing headers-only would still copy the whole body. Headers
    # are read as UTF-8 (RFC 6532: what an SMTPUTF8 sender writes), never as ASCII with
    # surrogates, which no database can store ("josé" became "jos\udcc3\udca9")
    block = _header_block(raw).decode("utf-8", "replace")
    _read_headers(Parser(policy=email.policy.default).parsestr(block, headersonly=True), result)
    try:
        message: Message | None = parser.parsebytes(raw)
    except RecursionError:
        message = None
    if message is None or _depth(message) > MAX_DEPTH:
        result.damaged = True
        result.notes.append(
            f"the message is nested more than {MAX_DEPTH} levels deep, so its text could not "
            "be read safely; the original is attached as a file"
        )
        return result
    if message.defects:
        names = sorted({type(d).__name__ for d in message.defects})
        result.notes.append("the message is malformed in places (" + ", ".join(names) + ")")
    text = _body_text(message, result.notes)
    result.complaint = _complaint(message)
    result.report = None if result.complaint else _delivery_report(message)
    result.auto_reason = _auto_reason(message, result, envelope_sender)
    del message  # the parsed tree can be large; the text is all that is needed from here
    if len(text) > STRIP_LIMIT:
        result.notes.append("the text is very long, so only its beginning is shown here")
    result.reply_text = strip_reply(text)
    return result


def _header_block(raw: bytes) -> bytes:
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[: min(ends) + 2] if ends else raw


def strip_reply(text: str) -> str:
    """The newest part of a reply: quoted history and a signature removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return ""
    parsed = EmailReplyParser(languages=["en"]).read(text[:STRIP_LIMIT])
    if parsed.replies:
        body = parsed.replies[0].body.strip()
        if body:
            return body
    return text[:STRIP_LIMIT].strip()


def _depth(message: Message) -> int:
    """How deeply parts nest, counted without recursion."""
    deepest = 0
    stack: list[tuple[Message, int]] = [(message, 1)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend((sub, depth + 1) for sub in payload if isinstance(sub, Message))
    return deepest


def header(message: Message, name: str) -> str | None:
    """A header as text; a value the parser cannot handle is decoded by hand instead."""
    try:
        value = message.get(name)
        return None if value is None else " ".join(str(value).split())
    except Exception:  # noqa: BLE001 - the stdlib raises many kinds on hostile headers
        pass
    for key, raw_value in message.raw_items():
        if key.lower() == name.lower():
            try:
                decoded = str(make_header(decode_header(str(raw_value))))
            except Exception:  # noqa: BLE001 - as above: fall back to the raw characters
                decoded = str(raw_value).encode("ascii", "replace").decode()
            return " ".join(decoded.split())
    return None


def _sender(head: Message) -> tuple[str, str, str]:
    """(display name, address, the header as text). The address is taken before any
    encoded words are decoded, so an encoded CR/LF in a display name stays in the name."""
    text = header(head, "From") or ""
    try:
        value: Any = head["From"]
        addresses = value.addresses if value is not None else ()
        if addresses:
            return addresses[0].display_name, addresses[0].addr_spec, text
    except Exception:  # noqa: BLE001 - as in header(): fall back to the raw reading below
        pass
    raw = next((str(v) for k, v in head.raw_items() if k.lower() == "from"), "")
    encoded_name, address = parseaddr(" ".join(raw.split()))
    try:
        name = str(make_header(decode_header(encoded_name)))
    except Exception:  # noqa: BLE001 - an undecodable name is shown as written
        name = encoded_name
    return re.sub(r"[\x00-\x1f\x7f]+", " ", name), address, text


def _read_headers(head: Message, result: ParsedMail) -> None:
    name, address, sender = _sender(head)
    if "@" in address and not any(ch in address for ch in "\r\n\0 "):
        result.from_address = address
    else:
        result.notes.append(f"the From header is not a usable address: {sender[:200]!r}")
    name = " ".join(name.replace("\0", "").split())
    result.from_name = name[:200] or None
    result.subject = (header(head, "Subject") or "").replace("\0", "")[:998]
    message_id = header(head, "Message-ID")
    result.message_id = message_id[:998] if message_id else None
    wanted = {name.lower() for name in RECIPIENT_HEADERS}
    for key, raw_value in head.raw_items():  # raw: addresses need no decoding, only finding
        if key.lower() in wanted:
            for _, addr in getaddresses([" ".join(str(raw_value).split())]):
                if addr and addr not in result.recipients:
                    result.recipients.append(addr)


def _body_text(message: Message, notes: list[str]) -> str:
    body = (
        message.get_body(preferencelist=("plain", "html"))
        if isinstance(message, EmailMessage)
        else None
    )
    if body is None:
        return ""
    text = _decode(body, notes).replace("\r\n", "\n")
    if body.get_content_subtype() == "html":
        return html_to_text(text)
    return text


def _decode(part: Message, notes: list[str]) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content.replace("\0", "")
    except LookupError:
        notes.append(f"unknown character set {part.get_content_charset()!r}: read as UTF-8")
    except Exception:  # noqa: BLE001 - a broken transfer encoding: fall back below
        notes.append("the text's encoding is broken in places")
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    return data.decode("utf-8", "replace").replace("\0", "")


def _complaint(message: Message) -> Complaint | None:
    """The complaint a feedback report carries, with our message's headers as quoted."""
    if message.get_content_type() != "multipart/report":
        return None
    if str(message.get_param("report-type", "")).lower() != "feedback-report":
        return None
    feedback_type, quoted = "abuse", ""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/feedback-report":
            fields = part.get_payload()
            block = fields[0] if isinstance(fields, list) and fields else part
            if isinstance(block, Message):
                feedback_type = (header(block, "Feedback-Type") or "abuse").strip().lower()
            else:
                found = re.search(r"(?im)^Feedback-Type:\s*(\S+)", str(part.get_payload()))
                feedback_type = found.group(1).lower() if found else "abuse"
        elif kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                quoted = "".join(f"{k}: {v}\n" for k, v in inner[0].items())
            else:
                quoted = str(part.get_payload(decode=False))
    return Complaint(feedback_type=feedback_type, original_headers=quoted[:20_000])


def _delivery_report(message: Message) -> DeliveryReport | None:
    if message.get_content_type() != "multipart/report":
        return None
    for part in message.walk():
        if part.get_content_type() not in (
            "message/delivery-status",
            "message/global-delivery-status",
        ):
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks:
            if not isinstance(block, Message):
                continue
            action = (header(block, "Action") or "").lower()
            status = (header(block, "Status") or "").strip()
            if action:
                recipient = header(block, "Final-Recipient") or header(block, "Original-Recipient")
                if recipient and ";" in recipient:
                    recipient = recipient.split(";", 1)[1].strip()
                said = header(block, "Diagnostic-Code") or ""
                if ";" in said:
                    said = said.split(";", 1)[1]
                return DeliveryReport(
                    action=action,
                    status=status,
                    recipient=recipient,
                    diagnostic=" ".join(said.split())[:500],
                )
    return DeliveryReport(action="unknown", status="", recipient=None)


def _auto_reason(message: Message, result: ParsedMail, envelope_sender: str | None) -> str | None:
    if result.report is not None:
        return "a delivery-status report"
    if result.complaint is not None:
        return "a complaint report"
    auto_submitted = (header(message, "Auto-Submitted") or "no").lower()
    if not auto_submitted.startswith("no"):
        return f"Auto-Submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if header(message, name) is not None:
            return f"{name} header"
    precedence = (header(message, "Precedence") or "").lower()
    if precedence in ("auto_reply", "bulk", "junk", "list"):
        return f"Precedence: {precedence}"
    if _OUT_OF_OFFICE.search(result.subject):
        return "an out-of-office subject"
    if envelope_sender is not None and envelope_sender.strip("<> ") == "":
        return "a null envelope sender"
    return None
