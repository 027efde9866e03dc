"""The inbound SMTP listener for replies (``REPLY_DOMAIN``).

It accepts mail only for tracked addresses with a valid token (``reply+``, ``bounces+``,
``unsubscribe+`` at ``REPLY_DOMAIN``) and for the mailboxes every domain keeps
(``postmaster@``, ``abuse@``, ``fbl@``); anything else is refused with 550, so it is never
an open relay. Every refusal carries an enhanced status code; HELP lists only what it
offers. It answers 250 only once the raw bytes are stored in the database; a database
outage answers 451 so the sender tries again. It reads nothing beyond the envelope: parsing
and forwarding to the therapist happen in the reply job, enqueued as soon as the bytes are
safe (or found by the next tick if Redis is away).
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import ssl
import threading
from email.utils import format_datetime
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from sqlalchemy.exc import SQLAlchemyError

from service.addresses import role_mailbox
from service.inbox import inbound
from service.inbox.handoff import enqueue_replies
from service.settings import ConfigError, Settings
from workers.runtime import Runtime

log = logging.getLogger("coursemail.inbound")

#: A HELO name worth repeating in Received: a host name or an address literal.
_HELO = re.compile(r"[A-Za-z0-9.:\[\]-]{1,255}")
#: An enhanced status code (RFC 3463) at the start of a reply's text.
_ENHANCED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}\b")
#: The enhanced code for a refusal the library writes without one (RFC 3463, RFC 5248).
ENHANCED_FOR = {
    "421": "4.3.2",
    "450": "4.2.0",
    "451": "4.3.0",
    "452": "4.3.1",
    "500": "5.5.2",
    "501": "5.5.4",
    "502": "5.5.1",
    "503": "5.5.1",
    "504": "5.5.4",
    "530": "5.7.0",
    "535": "5.7.8",
    "550": "5.1.1",
    "552": "5.3.4",
    "553": "5.1.3",
    "554": "5.6.0",
    "555": "5.5.4",
}


def with_enhanced_code(reply: str) -> str:
    """``reply`` with an enhanced status code after a 4xx/5xx code that lacks one: the
    library's own refusals ("552 Error: Too much mail data") have none."""
    code, sep, text = reply[:3], reply[3:4], reply[4:]
    if code[:1] not in "45" or sep not in (" ", "-") or _ENHANCED.match(text):
        return reply
    return f"{code}{sep}{ENHANCED_FOR.get(code, code[0] + '.0.0')} {text}"


class ReplySMTP(SMTP):
    """aiosmtpd's server with a reply listener's manners: HELP lists only what it offers (no
    AUTH, no VRFY: VRFY still answers 252 as RFC 5321 asks), and every refusal carries an
    enhanced status code."""

    def _syntax_available(self, method: Any) -> bool:
        if getattr(method, "__name__", "") in ("smtp_AUTH", "smtp_VRFY"):
            return False
        return bool(super()._syntax_available(method))

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = with_enhanced_code(status)
        await super().push(status)


class ReplyController(Controller):
    def factory(self) -> SMTP:
        return ReplySMTP(self.handler, **self.SMTP_kwargs)


class InboundHandler:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.domain = rt.settings.REPLY_DOMAIN.lower()
        self.hostname = rt.settings.INBOUND_HOSTNAME

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """Offer no AUTH: nobody logs in to a reply listener (aiosmtpd would advertise it
        after STARTTLS with nothing behind it, so every attempt would get 535)."""
        session.host_name = hostname  # with a handler's hook, aiosmtpd leaves this to us
        kept = [line for line in responses if not line[4:].upper().startswith("AUTH")]
        # every refusal carries an enhanced status code (RFC 2034): say so
        return [*kept[:-1], "250-ENHANCEDSTATUSCODES", kept[-1]]

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if role_mailbox(address, self.domain) is not None:
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"
        if address.rpartition("@")[2].lower() != self.domain:
            return "550 5.7.1 Relaying denied: this server only receives replies"
        if self.rt.addresses.read(address) is None:
            return "550 5.1.1 No such address here"
        loop = asyncio.get_running_loop()
        try:
            erased = await loop.run_in_executor(None, self._erased, address)
        except SQLAlchemyError:
            # the database is away: DATA will ask for a retry if it still is; a message for
            # an erased reader that gets through is dropped, unkept, when it is read
            erased = False
        if erased:
            return "550 5.1.1 This address no longer receives mail"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = self.received_header(session, envelope) + (
            envelope.original_content or envelope.content
        )
        loop = asyncio.get_running_loop()
        try:
            # the database write runs off the event loop: a slow write stalls no other session
            stored = await loop.run_in_executor(None, self._store, envelope, raw)
        except SQLAlchemyError as error:
            log.error("could not store a message (%s); asking the sender to retry", error)
            return "451 4.3.0 Temporary problem storing your message; please try again"
        log.info(
            "stored message %d (%d bytes) for %s", stored, len(raw), ", ".join(envelope.rcpt_tos)
        )
        # the bytes are safe: hand them to the reply job now (if Redis is away, the claim is
        # handed back and the tick enqueues it later); off the loop, like the write
        await loop.run_in_executor(None, enqueue_replies, self.rt, [stored])
        return "250 OK: received"

    def received_header(self, session: Any, envelope: Any) -> bytes:
        """The trace line every MTA adds (RFC 5321, 4.4), so the forward shows the path."""
        helo = session.host_name or ""
        helo = helo if _HELO.fullmatch(helo) else "unknown"
        peer = session.peer[0] if isinstance(session.peer, tuple) else "unknown"
        protocol = ("UTF8SMTP" if envelope.smtp_utf8 else "ESMTP") + (
            "S" if session.ssl is not None else ""
        )
        recipient = envelope.rcpt_tos[0] if len(envelope.rcpt_tos) == 1 else None
        target = f"\r\n\tfor <{recipient}>" if recipient and recipient.isascii() else ""
        when = format_datetime(self.rt.clock.now())
        line = (
            f"Received: from {helo} ([{peer}])\r\n\tby {self.hostname} (coursemail) with "
            f"{protocol}{target}; {when}\r\n"
        )
        return line.encode("ascii", "replace")

    def _erased(self, address: str) -> bool:
        with self.rt.database.session(read_only=True) as session:
            return inbound.for_erased_reader(session, self.rt.addresses, [address])

    def _store(self, envelope: Any, raw: bytes) -> int:
        with self.rt.database.session() as session:
            return inbound.store(
                session,
                raw,
                source="smtp",
                now=self.rt.clock.now(),
                mail_from=str(envelope.mail_from or ""),
                recipients=envelope.rcpt_tos,
            )


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """STARTTLS for senders that offer it (most do), when a certificate is configured."""
    if settings.INBOUND_TLS_CERT is None or settings.INBOUND_TLS_KEY is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.INBOUND_TLS_CERT, settings.INBOUND_TLS_KEY)
    except ssl.SSLError as error:
        raise ConfigError(
            f"INBOUND_TLS_CERT / INBOUND_TLS_KEY could not be loaded as a certificate and its "
            f"private key ({error.reason or error})"
        ) from None
    return context


#: aiosmtpd's own logger writes every line of a message's DATA at DEBUG: never let it.
logging.getLogger("mail.log").setLevel(logging.INFO)


def start(rt: Runtime, host: str, port: int) -> Controller:
    context = tls_context(rt.settings)
    controller = ReplyController(
        InboundHandler(rt),
        hostname=host,
        port=port,
        data_size_limit=rt.settings.INBOUND_MAX_BYTES,
        tls_context=context,
        # greet as the MX host, without the library's name and version
        server_hostname=rt.settings.INBOUND_HOSTNAME,
        ident="ESMTP",
        # readers with international addresses reply too (RFC 6531)
        enable_SMTPUTF8=True,
        # a sender without TLS may still deliver: refusing would lose the reply instead
        require_starttls=False,
    )
    controller.start()
    if context is None and host not in ("127.0.0.1", "::1", "localhost"):
        log.warning(
            "listening on %s without STARTTLS: replies cross the internet unencrypted; "
            "set INBOUND_TLS_CERT and INBOUND_TLS_KEY",
            host,
        )
    return controller


def run_until_signalled(rt: Runtime, host: str, port: int) -> None:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    controller = start(rt, host, port)
    log.info("receiving replies for @%s on %s:%d", rt.settings.REPLY_DOMAIN, host, port)
    try:
        stop.wait()
    finally:
        controller.stop()
