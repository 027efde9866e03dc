"""Scenarios 4-5: the relay misbehaves, and poison records sit among ordinary ones."""

from __future__ import annotations

import smtplib
import time
from email import message_from_bytes
from email.policy import default
from email.utils import parseaddr

from bench.reliability.processes import PATIENCE
from bench.reliability.stack import THERAPIST, Row, Stack
from service.store.models import DeliveryStatus

ENCODED_WORD_NAME = "=?utf-8?q?Eve=0D=0ABcc:_victim@evil.test?="


def scripted_relay() -> Row:
    """Bursts of 421/451, 550 for some addresses, a disconnect after DATA three times."""
    stack = Stack("sqlite")
    try:
        handler = stack.sink_handler
        handler.data_replies = (["421 4.3.2 closing"] * 5 + ["451 4.3.0 try later"] * 25) * 1
        expected = stack.seed(300)
        refused = expected[:10]
        for address in refused:
            handler.rcpt_replies[address] = "550 5.1.1 no such user"
        handler.drop_after_data = 3
        stack.start("tick")
        stack.start("worker")
        stack.wait(lambda: not handler.data_replies and handler.drop_after_data == 0, PATIENCE)
        fault_ended = time.monotonic()
        wanted = expected[10:]
        stack.wait(lambda: stack.settled(wanted), PATIENCE)
        row = Row(
            "relay answers 4xx, 5xx, drops",
            "30 × 421/451 at DATA, 10 × 550 at RCPT, 3 × disconnect after DATA",
            "sqlite",
            0,
            0,
            0,
            0,
            0,
            None,
        )
        row = stack.outcome(row, wanted, fault_ended)
        bounced = stack.count(DeliveryStatus.FAILED_PERMANENT)
        row.notes.append(f"{bounced} of 10 refused addresses failed and were suppressed")
        row.notes.append("the 4xx ones waited the first retry (1 minute, by design)")
        return row
    finally:
        stack.close()


def relay_down() -> Row:
    """The relay is down for 60 s in the middle of 300 sends."""
    stack = Stack("sqlite")
    try:
        expected = stack.seed(300)
        stack.sink_handler.delay = 0.02  # a relay with some latency, so the outage lands mid-run
        stack.start("tick")
        stack.start("worker")
        stack.wait(lambda: len(stack.arrivals()) >= 50, PATIENCE)
        stack.sink_down()
        time.sleep(60)
        stack.sink_up()
        fault_ended = time.monotonic()
        stack.wait(lambda: stack.settled(expected), PATIENCE)
        row = Row(
            "relay down", "SMTP server unreachable for 60 s mid-run", "sqlite", 0, 0, 0, 0, 0, None
        )
        row = stack.outcome(row, expected, fault_ended)
        row.notes.append("failed tries wait their backoff (1 minute) after the relay is back")
        return row
    finally:
        stack.close()


def poison() -> Row:
    """International addresses (relay without SMTPUTF8), encoded-word names, and replies from
    non-ASCII senders, mixed into 200 ordinary readers."""
    stack = Stack("sqlite")
    try:
        ordinary = stack.seed(200)
        named = stack.seed(5, prefix="eve", names=lambda _: ENCODED_WORD_NAME)
        stack.seed(5, emails=lambda i: f"josé{i}@example.test")
        stack.start("inbound")
        stack.start("tick")
        stack.start("worker")
        wanted = ordinary + named
        stack.wait(lambda: len(stack.arrivals()) >= len(wanted), PATIENCE)
        first_pass = time.monotonic()
        forwards = _replies_from_international_senders(stack, ordinary[:3])
        stack.wait(lambda: len(stack.arrivals().get(THERAPIST, [])) >= forwards, 60)
        row = Row(
            "poison records",
            "5 non-ASCII mailboxes (relay without SMTPUTF8), 5 "
            "encoded-word names, 3 replies from non-ASCII senders",
            "sqlite",
            0,
            0,
            0,
            0,
            0,
            None,
        )
        row = stack.outcome(row, wanted, first_pass)
        row.delay = None
        failed = stack.count(DeliveryStatus.FAILED_PERMANENT)
        got = len(stack.arrivals().get(THERAPIST, []))
        row.notes.append(f"{failed} of 5 non-ASCII mailboxes failed alone, with the reason")
        row.notes.append(f"{got} of {forwards} replies from non-ASCII senders forwarded")
        if failed != 5 or got != forwards:
            row.problems.append("a poison record did not end as it should")
        if any(b"Bcc" in r.data.split(b"\r\n\r\n")[0] for r in stack.sink_handler.received):
            row.problems.append("a Bcc header appeared")
        return row
    finally:
        stack.close()


def _replies_from_international_senders(stack: Stack, readers: list[str]) -> int:
    """Answer three course emails from josé-style addresses, over SMTP with SMTPUTF8."""
    sent = 0
    for received in list(stack.sink_handler.received):
        if sent == 3 or received.rcpt_tos[0] not in readers:
            continue
        original = message_from_bytes(received.data, policy=default)
        to = parseaddr(str(original["Reply-To"]))[1]
        sender = f"josé{sent}@example.test"
        reply = (
            f"From: José {sent} <{sender}>\r\nTo: {to}\r\nSubject: Re: hola\r\n"
            f"Message-ID: <intl-{sent}@example.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nGracias, de corazón.\r\n"
        ).encode()
        with smtplib.SMTP("127.0.0.1", stack.inbound_port, timeout=10) as smtp:
            smtp.sendmail(sender, [to], reply, mail_options=["SMTPUTF8"])
        sent += 1
    return sent
