"""SMTP transport: one connection reused for a whole batch, every failure classified.

- ``TransientError``: 4xx replies and connection trouble before the message was handed
  over: worth a retry later.
- ``PermanentError``: 5xx replies to the recipient or the message: a hard bounce.
- ``AmbiguousError``: the connection dropped after the final ``.`` was sent and before
  the server answered: it may have the message. Never resend blindly.
- ``Unsupported``: the relay cannot carry this message at all (an international address
  without SMTPUTF8): this one message fails for good; the address itself is not to blame.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Protocol

from emails.headers import wire_address
from emails.message import needs_smtputf8, to_bytes
from service.relay import Relay

#: Seconds to wait on the SMTP server for any one step.
SMTP_TIMEOUT = 30.0


class DeliveryError(Exception):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientError(DeliveryError):
    pass


class PermanentError(DeliveryError):
    pass


class AmbiguousError(DeliveryError):
    pass


class Unsupported(PermanentError):
    pass


@dataclass(frozen=True)
class Outgoing:
    """One message ready for the wire: envelope sender, recipient, bytes."""

    envelope_from: str
    recipient: str
    data: bytes
    #: only an SMTPUTF8 relay may carry it (an international address, RFC 6531)
    smtputf8: bool = False

    @classmethod
    def of(cls, envelope_from: str, recipient: str, message: EmailMessage) -> Outgoing:
        """``message`` to ``recipient`` (domain in IDNA), with what its bytes require."""
        return cls.raw(envelope_from, recipient, to_bytes(message))

    @classmethod
    def raw(cls, envelope_from: str, recipient: str, data: bytes) -> Outgoing:
        """Finished bytes to ``recipient`` (domain in IDNA), with what they require."""
        return cls(envelope_from, wire_address(recipient), data, needs_smtputf8(data))


class Transport(Protocol):
    def send(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        data: bytes,
        *,
        smtputf8: bool = False,
    ) -> None: ...

    def close(self) -> None: ...


def _classify(code: int, reply: bytes | str, stage: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    message = f"{stage}: {code} {text}".strip()
    if 500 <= code < 600:
        return PermanentError(message, code)
    return TransientError(message, code)


_LEADING_DOT = re.compile(rb"(?m)^\.")


class SMTPTransport:
    """Talks SMTP to the relay named by ``SMTP_URL``; connects lazily, reconnects on need."""

    def __init__(
        self, url: str, *, timeout: float = SMTP_TIMEOUT, helo_name: str | None = None
    ) -> None:
        relay = Relay.parse(url)
        self.implicit_tls, self.starttls = relay.implicit_tls, relay.starttls
        self.host, self.port = relay.host, relay.port
        self.username, self.password = relay.username, relay.password
        self.timeout = timeout
        #: the name given in EHLO (None: smtplib's own guess)
        self.helo_name = helo_name
        self._conn: smtplib.SMTP | None = None

    def __enter__(self) -> SMTPTransport:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.implicit_tls:
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.helo_name,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                conn = smtplib.SMTP(
                    self.host, self.port, local_hostname=self.helo_name, timeout=self.timeout
                )
            conn.ehlo()
            if self.starttls:
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as error:
            # our own configuration is wrong: the message is fine, retry once it is fixed
            raise TransientError(f"login refused: {error.smtp_code}", error.smtp_code) from error
        except smtplib.SMTPResponseException as error:
            raise _classify(error.smtp_code, error.smtp_error, "connect") from error
        except (OSError, smtplib.SMTPException) as error:
            raise TransientError(f"cannot reach {self.host}:{self.port}: {error}") from error
        return conn

    def send(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        data: bytes,
        *,
        smtputf8: bool = False,
    ) -> None:
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        if smtputf8 and not conn.has_extn("smtputf8"):
            raise Unsupported(
                "the mail relay does not accept international addresses (it does not offer "
                "SMTPUTF8), so this email cannot be sent to this address"
            )
        try:
            code, reply = conn.mail(envelope_from, ["SMTPUTF8"] if smtputf8 else [])
            if code != 250:
                # the sender was refused: our configuration, not the recipient, so not permanent
                raise TransientError(f"MAIL FROM: {code} {reply.decode('utf-8', 'replace')}", code)
            for recipient in recipients:
                code, reply = conn.rcpt(recipient)
                if code not in (250, 251):
                    raise _classify(code, reply, "RCPT TO")
            code, reply = conn.docmd("DATA")
            if code != 354:
                raise _classify(code, reply, "DATA")
            body = _LEADING_DOT.sub(b"..", data)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            conn.send(body + b".\r\n")
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self._drop()
            raise TransientError(f"connection lost before the message was sent: {error}") from error
        except DeliveryError:
            self._reset()
            raise
        try:
            code, reply = conn.getreply()
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as error:
            self._drop()
            raise AmbiguousError(
                f"connection lost after the message was sent, before the server answered: {error}"
            ) from error
        if code != 250:
            self._reset()
            raise _classify(code, reply, "end of DATA")

    def _reset(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            self._drop()
