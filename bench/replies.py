"""Benchmarks for replies: parsing one, and receiving them over SMTP."""

from __future__ import annotations

import tempfile
import time
import tracemalloc

from bench.common import per_second, progress
from service.store.migrate import upgrade
from tests.support.smtp import SMTPSink

REPLY = (
    "From: Robin <robin@example.test>\r\nSubject: Re: Step 2 of 6\r\n"
    "Message-ID: <{n}@example.test>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    "Thank you for this one. It was hard to read, but I needed it.\r\n\r\n"
    "On Thu, 29 Oct 2026, Lee Miller wrote:\r\n" + "> A line of the course email, quoted.\r\n" * 60
)


def bench_reply_parse() -> list[tuple[str, str, str, str]]:
    progress("replies: the standard library's parse vs. ours (+ charset, auto-reply, stripping)")
    from email.parser import BytesParser
    from email.policy import default

    from emails.received import parse

    raw = REPLY.format(n=1).encode()

    def baseline() -> None:
        message = BytesParser(policy=default).parsebytes(raw)
        message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]

    base, mine = per_second(baseline), per_second(lambda: parse(raw))
    big = _with_attachment(raw, 5 * 1024 * 1024)
    tracemalloc.start()
    parse(big)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return [
        (
            "parse a reply, per message",
            f"{base:,.0f}/s (stdlib parse)",
            f"{mine:,.0f}/s",
            f"{mine / base:.2f}x",
        ),
        (
            "peak memory, parsing a reply with a 5 MiB photo",
            f"{len(big) / 1024:,.0f} KiB (the message)",
            f"{peak / 1024:,.0f} KiB",
            f"{peak / len(big):.1f}x its size",
        ),
    ]


def _with_attachment(raw: bytes, size: int) -> bytes:
    """The reply with a binary attachment of ``size`` bytes, as a mail client sends it."""
    import os
    from email.parser import BytesParser
    from email.policy import SMTP, default

    message = BytesParser(policy=default).parsebytes(raw)
    message.add_attachment(os.urandom(size), maintype="image", subtype="jpeg", filename="p.jpg")  # type: ignore[attr-defined]
    return message.as_bytes(policy=SMTP)


def bench_listener() -> list[tuple[str, str, str, str]]:
    progress(
        "inbound: an in-memory SMTP sink vs. our listener (token check, durable store, enqueue)"
    )
    import smtplib

    from service.addresses import AddressKind
    from service.settings import Settings
    from tests.support.smtp import free_port
    from workers import listener
    from workers.redis_server import EmbeddedRedis
    from workers.runtime import Runtime

    n = 200

    def blast(port: int, to: str) -> float:
        start = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            for i in range(n):
                smtp.sendmail("robin@example.test", [to], REPLY.format(n=i).encode())
        return n / (time.perf_counter() - start)

    sink = SMTPSink().start()
    try:
        base = blast(sink.port, "anyone@example.test")
    finally:
        sink.stop()
    with tempfile.TemporaryDirectory() as folder, EmbeddedRedis() as redis_server:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        settings = Settings.from_env(
            environ={},
            overrides={
                "COURSEMAIL_INSTANCE": folder,
                "DATABASE_URL": url,
                "REDIS_URL": redis_server.url,
                "SECRET_KEY": "bench",
                "REPLY_DOMAIN": "reply.example.test",
            },
        )
        rt = Runtime(settings)
        port = free_port()
        controller = listener.start(rt, "127.0.0.1", port)
        try:
            mine = blast(port, rt.addresses.address(AddressKind.REPLY, 1, 1, owner="p1"))
        finally:
            controller.stop()
            rt.database.dispose()
            rt.redis.close()
    return [
        (
            "receive a reply over SMTP, 200 messages",
            f"{base:,.0f}/s (in-memory sink)",
            f"{mine:,.0f}/s (stored in SQLite, then queued)",
            f"{mine / base:.2f}x",
        ),
    ]
