"""Measure the engine against baselines taken in the same run, and write docs/BENCHMARKS.md.

Each figure is a ratio to a baseline measured seconds earlier on the same machine, so the
numbers mean something on any machine. Every loop is bounded; servers bind loopback only.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import progress
from bench.desk_signin import bench_desk_signin
from bench.dkim_cost import bench_dkim
from bench.goals import header, run_all
from bench.replies import bench_listener, bench_reply_parse
from bench.stats import Goal
from emails.course import default_course
from emails.message import Envelope, build_message, to_bytes
from emails.render import Contact, Renderer
from tests.support.smtp import SMTPSink
from workers.transport import SMTPTransport

OUT = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
CONTACT = Contact("Lee Miller", "lee@example.test", "(310) 614-0323", "1 Main St")


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


def _table(goals: list[Goal]) -> list[str]:
    return [
        "| # | goal | target | measured | met |",
        "| --- | --- | --- | --- | --- |",
        *[
            f"| {g.number} | {g.what} | {g.target} | {g.measured} | "
            f"{'yes' if g.met else '**not met**'} |"
            for g in goals
        ],
    ]


def main() -> None:
    print("Running benchmarks (about 18 minutes; progress below)...", file=sys.stderr)
    goals, scaling_lines, seconds = run_all()
    rows = (
        bench_smtp() + bench_reply_parse() + bench_listener() + bench_desk_signin() + bench_dkim()
    )
    lines = [
        "# Benchmarks",
        "",
        *header(seconds),
        "",
    ]
    sections = (
        ("Sending at the speed of the wire (issue 11)", [g for g in goals if g.number <= 7]),
        (
            "The therapist's desk at a million readers (issue 12)",
            [g for g in goals if g.number > 7],
        ),
    )
    for title, chosen in sections:
        lines += [f"## {title}", "", *_table(chosen), ""]
        for goal in chosen:
            lines += [f"### {goal.number}. {goal.what}", ""]
            for paragraph in goal.details:
                lines += [paragraph, ""]
    lines += [
        "## Scaling: worker processes on PostgreSQL",
        "",
        *scaling_lines,
        "",
        "Cores' worth of CPU per part while sending, from /proc (2 cores in all). See "
        "docs/SCALING.md for what this means for adding machines.",
        "",
        "## Other figures",
        "",
        "| what | baseline | coursemail | ratio |",
        "| --- | --- | --- | --- |",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        "- *SMTP send*: both against an aiosmtpd sink on loopback; a batch job holds one "
        "connection per half of its batch.",
        "- *parse a reply*: a typical reply with 60 quoted lines. Ours adds the depth check, "
        "auto-reply and bounce detection, and stripping the quote and signature "
        "(mail-parser-reply), which is most of the difference.",
        "- *peak memory*: the standard library's parser holds the raw bytes, a decoded copy, its "
        "line buffer and the joined attachment at once; we add only a copy of the header block. "
        "With `INBOUND_MAX_BYTES` at 25 MB a reply job's peak stays near 200 MB.",
        "- *receive a reply*: one SMTP connection sending 200 replies. The listener checks the "
        "token at `RCPT`, commits the raw bytes to SQLite (WAL) and enqueues the reply job "
        "before answering 250; the baseline sink only appends to a list.",
        "- *desk sign-in*: `service.desk.accounts.check_password` on SQLite; an unknown name "
        "checks a decoy argon2id hash, so both answers take one password check (a ratio near "
        "1.00 is the goal: the issue measured 77 ms against 240 ms).",
        "- *DKIM*: dkimpy canonicalizes and hashes; the RSA operation is OpenSSL's (through "
        "`cryptography`), as dkimpy's pure-Python arithmetic took 7 of its 8.5 ms per email.",
        "",
    ]
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"Wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
