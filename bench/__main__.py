"""Measure the engine against baselines taken in the same run, and write docs/BENCHMARKS.md.

Each figure is a ratio to a baseline measured seconds earlier on the same machine, so the
numbers mean something on any machine. Every loop is bounded; servers bind loopback only.
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import insert

from bench.common import per_second, progress
from bench.replies import bench_listener, bench_reply_parse
from emails.course import default_course
from emails.message import Envelope, build_message, to_bytes
from emails.render import Contact, Renderer
from service import deliveries
from service.db import Database
from service.migrate import upgrade
from service.models import Enrollment, EnrollmentStatus, Subscriber, SubscriberStatus
from tests.support.smtp import SMTPSink
from workers.transport import SMTPTransport

OUT = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
CONTACT = Contact("Lee Miller", "lee@example.test", "(310) 614-0323", "1 Main St")


def bench_render() -> list[tuple[str, str, str, str]]:
    progress("rendering: baseline (a fixed EmailMessage) vs. a personalised course email")
    renderer = Renderer(default_course(), CONTACT)
    fixed = renderer.render_step(3, first_name="Sam", unsubscribe_url="https://x/u/t")
    envelope = Envelope(
        "Lee Miller",
        "course@example.test",
        "sam@example.test",
        "Sam",
        ("Lee Miller", "lee@example.test"),
        "<id@example.test>",
        datetime.now(UTC),
        ("https://x/u/t", "mailto:u@x"),
        ("Course", "c.example.test"),
    )

    def baseline() -> None:
        message = EmailMessage()
        message["Subject"] = fixed.subject
        message.set_content(fixed.text)
        message.add_alternative(fixed.html, subtype="html")
        message.as_bytes()

    def ours() -> None:
        rendered = renderer.render_step(3, first_name="Sam", unsubscribe_url="https://x/u/t")
        to_bytes(build_message(rendered, envelope))

    base, mine = per_second(baseline), per_second(ours)
    tracemalloc.start()
    for _ in range(200):
        ours()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return [
        (
            "render + MIME, per message",
            f"{base:,.0f}/s (fixed EmailMessage)",
            f"{mine:,.0f}/s",
            f"{mine / base:.2f}x",
        ),
        ("peak Python memory, 200 renders", "n/a", f"{peak / 1024:,.0f} KiB", "bounded"),
    ]


def bench_smtp() -> list[tuple[str, str, str, str]]:
    progress("SMTP: a new connection per message vs. one connection for the batch")
    sink = SMTPSink().start()
    data = to_bytes(
        build_message(
            Renderer(default_course(), CONTACT).render_step(
                2, first_name="Sam", unsubscribe_url="https://x/u"
            ),
            Envelope(
                "L",
                "c@example.test",
                "s@example.test",
                None,
                ("L", "l@example.test"),
                "<i@example.test>",
                datetime.now(UTC),
            ),
        )
    )
    n = 300
    try:
        start = time.perf_counter()
        for _ in range(n):
            with SMTPTransport(sink.url) as t:
                t.send("c@example.test", ["s@example.test"], data)
        fresh = n / (time.perf_counter() - start)
        start = time.perf_counter()
        with SMTPTransport(sink.url) as t:
            for _ in range(n):
                t.send("c@example.test", ["s@example.test"], data)
        reused = n / (time.perf_counter() - start)
    finally:
        sink.stop()
    return [
        (
            "SMTP send, 300 messages",
            f"{fresh:,.0f}/s (connection per message)",
            f"{reused:,.0f}/s (one per batch)",
            f"{reused / fresh:.2f}x",
        )
    ]


def bench_due_query() -> list[tuple[str, str, str, str]]:
    progress("tick: claiming 200 due emails among 2,000 vs. among 200,000 subscribers")
    results = []
    for total in (2_000, 200_000):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            upgrade(url)
            database = Database(url)
            now = datetime(2026, 11, 1, tzinfo=UTC)
            with database.session() as session:
                session.execute(
                    insert(Subscriber),
                    [
                        {
                            "id": i,
                            "public_id": f"p{i}",
                            "email": f"r{i}@example.test",
                            "timezone": "UTC",
                            "status": SubscriberStatus.ACTIVE,
                            "unsubscribe_token": f"t{i}",
                            "created_at": now,
                        }
                        for i in range(1, total + 1)
                    ],
                )
                session.execute(
                    insert(Enrollment),
                    [
                        {
                            "subscriber_id": i,
                            "course": "rebuilding-trust",
                            "course_version": 1,
                            "next_step": 1,
                            "status": EnrollmentStatus.ACTIVE,
                            "created_at": now,
                            "next_send_at": now - timedelta(minutes=1)
                            if i <= 200
                            else now + timedelta(days=1 + i % 9),
                        }
                        for i in range(1, total + 1)
                    ],
                )
            start = time.perf_counter()
            with database.session() as session:
                created = deliveries.create_due_step_deliveries(
                    session, now=now, mail_domain="example.test", limit=2000, postgres=False
                )
            results.append((time.perf_counter() - start, created))
            database.dispose()
    (small, n1), (large, n2) = results
    assert n1 == n2 == 200
    return [
        (
            "tick claim of 200 due (SQLite)",
            f"{small * 1000:.1f} ms among 2,000",
            f"{large * 1000:.1f} ms among 200,000",
            f"{large / small:.2f}x for 100x the list",
        )
    ]


def main() -> None:
    print("Running benchmarks (about half a minute)...", file=sys.stderr)
    rows = (
        bench_render() + bench_smtp() + bench_due_query() + bench_reply_parse() + bench_listener()
    )
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python "
        f"{platform.python_version()}, {platform.machine()}. Each row compares our path with a "
        "baseline measured in the same run; the ratio is what carries across machines.",
        "",
        "| what | baseline | coursemail | ratio |",
        "| --- | --- | --- | --- |",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        "- *render + MIME*: the per-recipient cost is a Jinja render of templates compiled once "
        "per process (MJML runs once per process), plus building and serialising the message. "
        "The baseline builds an `EmailMessage` from already-rendered parts.",
        "- *SMTP send*: both against an aiosmtpd sink on loopback; the batch job holds one "
        "connection for up to 50 messages.",
        "- *tick claim*: the due query uses the `(status, next_send_at)` index, so the cost "
        "follows what is due, not the number of subscribers (a ratio near 1 is the goal).",
        "- *parse a reply*: a typical reply with 60 quoted lines. Ours adds the depth check, "
        "auto-reply and bounce detection, and stripping the quote and signature "
        "(mail-parser-reply), which is most of the difference.",
        "- *peak memory*: the standard library's parser holds the raw bytes, a decoded copy, its "
        "line buffer and the joined attachment at once; we add only a copy of the header block. "
        "With `INBOUND_MAX_BYTES` at 25 MB a reply job's peak stays near 200 MB.",
        "- *receive a reply*: one SMTP connection sending 200 replies. The listener checks the "
        "token at `RCPT`, commits the raw bytes to SQLite (WAL) and enqueues the reply job "
        "before answering 250; the baseline sink only appends to a list.",
        "",
    ]
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"Wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
