"""An aiosmtpd sink on a free loopback port that records every message, and can be told to
answer with a given code or to drop the connection, for the failure tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    # aiosmtpd's Controller(port=0) fails (FACTS.md): pick the port first
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: Any
    #: the name the client gave in HELO/EHLO
    helo: str = ""
    #: when it arrived (time.monotonic())
    at: float = field(default_factory=time.monotonic)

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SinkHandler:
    received: list[Received] = field(default_factory=list)
    #: address -> reply for RCPT TO, e.g. "550 5.1.1 no such user"
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    #: replies for the next DATA commands, in order
    data_replies: list[str] = field(default_factory=list)
    #: drop the connection after reading the next N messages, without answering
    drop_after_data: int = 0
    #: block RCPT TO until this is set (to kill a worker mid-conversation)
    gate: threading.Event | None = None
    in_rcpt: threading.Event = field(default_factory=threading.Event)
    #: seconds to take over each DATA, like a slow relay
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.in_rcpt.set()
        if self.gate is not None:
            while not self.gate.is_set():
                await asyncio.sleep(0.02)
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if self.drop_after_data > 0:
                self.drop_after_data -= 1
                server.transport.abort()
                return "250 never seen"
            if self.data_replies:
                return self.data_replies.pop(0)
            self.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.content,
                    session.peer,
                    session.host_name or "",
                )
            )
        return "250 Message accepted"


class SMTPSink:
    def __init__(
        self, *, smtputf8: bool = False, port: int | None = None, handler: SinkHandler | None = None
    ) -> None:
        self.handler = handler or SinkHandler()
        self.port = port or free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=smtputf8
        )

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.rcpt_tos]

    def start(self) -> SMTPSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class RoutingHandler(SinkHandler):
    """A relay with a transport map: mail for ``routes``' domains is relayed on over SMTP to
    the host and port given (as an MTA delivers to a domain's MX), the rest is kept here."""

    routes: dict[str, tuple[str, int]] = field(default_factory=dict)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        routed = [r for r in envelope.rcpt_tos if r.rpartition("@")[2].lower() in self.routes]
        if not routed:
            return await super().handle_DATA(server, session, envelope)
        host, port = self.routes[routed[0].rpartition("@")[2].lower()]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            None, self._relay, host, port, envelope.mail_from, routed, envelope.content
        )
        return "250 Message accepted for delivery"

    @staticmethod
    def _relay(host: str, port: int, sender: str, to: list[str], data: bytes) -> None:
        import smtplib

        with smtplib.SMTP(host, port, timeout=10) as onward:
            onward.sendmail(sender, to, data)
