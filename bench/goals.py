"""Issue 11's goals, each measured beside its baseline in the same run (bench/__main__.py
writes them to docs/BENCHMARKS.md)."""

from __future__ import annotations

import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import desk_goals, scaling, signup, tick_scale, wire
from bench.common import per_second, progress
from bench.stats import Figure, Goal, ratio
from emails import wire as wire_bytes
from emails.course import default_course
from emails.message import Envelope, build_message, to_bytes
from emails.render import Contact, Renderer

REPS = 5
SIGNUP_WHY = (
    "Why the ratio stays low: the constant route costs about half a millisecond of CPU a "
    "request; a sign-up costs about three, spread over work a sign-up cannot skip: an "
    "ORM write of three rows in one transaction (on SQLite, writers also queue for the "
    "single write lock), two rate-limit counters and the enqueue in Redis, the CSRF check. "
    "The machine's two cores are full (gunicorn, Redis and wrk itself), so p99 follows. On "
    "PostgreSQL it is lower still (each commit waits for the WAL flush). Sign-ups scale "
    "out with web processes on more machines (docs/SCALING.md), and goal 7 shows that even "
    "at this rate every reader's confirmation arrives within seconds."
)
BURST = 10_000
CONTACT = Contact("Lee Miller", "lee@example.test", "(310) 614-0323", "1 Main St")


def compose_cost() -> Goal:
    progress("goal 2: the per-recipient cost of a course email")
    renderer = Renderer(default_course(), CONTACT)
    envelope = Envelope(
        "Lee Miller",
        "course@example.test",
        "sam@example.test",
        "Sam",
        ("Lee Miller", "reply+t@reply.example.test"),
        "<id@example.test>",
        datetime.now(UTC),
        ("https://x.example.test/u/t", "mailto:u@x.example.test"),
        ("Course", "c.example.test"),
    )

    def rendered():  # type: ignore[no-untyped-def]
        return renderer.render_step(3, first_name="Sam", unsubscribe_url="https://x/u/t")

    def before() -> None:
        to_bytes(build_message(rendered(), envelope))

    def after() -> None:
        wire_bytes.write(rendered(), envelope)

    old = Figure.of([per_second(before) for _ in range(REPS)])
    new = Figure.of([per_second(after) for _ in range(REPS)])
    times = ratio(new, old)
    return Goal(
        2,
        "per-recipient cost of a course email (render + headers + bytes)",
        "≥ 3× cheaper than `build_message`",
        f"{times:.1f}× ({new.show()} vs {old.show()})",
        times >= 3,
        [
            "Both render the step with Jinja for the reader; *before* builds an `EmailMessage` "
            "and serialises it, *after* is `emails/wire.py`. `tests/test_wire_bytes.py` parses "
            "what it writes and checks it says exactly what `build_message` says."
        ],
    )


def end_to_end() -> tuple[Goal, Goal]:
    progress(f"goal 1: the wire, {REPS} x {BURST:,} emails over two smtplib connections")
    baseline = wire.wire(BURST, reps=REPS)
    progress(f"goal 1: coursemail, {2 * REPS} bursts of {BURST:,} due, two worker processes")
    ours = wire.ours(BURST, reps=2 * REPS)
    naive_count = 300
    progress(f"goal 1: the naive design, {REPS} x {naive_count} emails, one forking job each")
    naive = wire.naive(naive_count, reps=REPS)
    share, times = ratio(ours.rates, baseline), ratio(ours.rates, naive)
    profile = ours.profile.lines() if ours.profile else ["(py-spy could not attach here)"]
    first, end = sum(ours.rss_first), sum(ours.rss_end)
    growth = end / first - 1 if first else 0.0
    send = Goal(
        1,
        "end to end, 10,000 due, two worker processes",
        "≥ 40 % of the wire and ≥ 5× the naive design",
        f"{share:.0%} of the wire, {times:.0f}× naive ({ours.rates.show()}; wire "
        f"{baseline.show()}; naive {naive.show()})",
        share >= 0.40 and times >= 5,
        [
            f"Each burst: {BURST:,} confirmed readers whose welcome is due at once, written to "
            "SQLite; the Procfile's `tick` and `worker` (WORKERS=2) as subprocesses; an aiosmtpd "
            "sink in this process that only counts. Timed from the commit of the due rows to the "
            f"last arrival. The naive design ran {naive_count} emails a burst (its rate does not "
            "depend on the count: one job, one fork and one connection per email).",
            *profile,
        ],
    )
    memory = Goal(
        6,
        f"a worker's memory over {ours.sent:,} sends",
        "RSS at the end within 20 % of after the first 1,000",
        f"{growth:+.0%} ({first:,} KiB → {end:,} KiB, both processes)",
        growth <= 0.20,
        [
            "Read from /proc/PID/status (VmRSS) of both worker processes, during the bursts "
            "of goal 1."
        ],
    )
    return send, memory


def tick_at_scale(folder: Path) -> tuple[Goal, Goal]:
    progress("goal 3: the tick among 10,000 and 1,000,000 readers, 1,000 due")
    rows, details, met = [], [], True
    plans: list[str] = []
    for kind in ("sqlite", "postgres"):
        small = tick_scale.measure(kind, 10_000, folder, reps=REPS)
        large = tick_scale.measure(kind, 1_000_000, folder, reps=REPS)
        times = ratio(large.seconds, small.seconds)
        memory = large.peak_kib / small.peak_kib
        met = met and times <= 2 and memory <= 1.5
        rows.append(f"{kind}: {times:.2f}× the time, {memory:.2f}× the memory")
        details.append(
            f"{kind}: {large.seconds.show('s', 3)} among 1,000,000 vs "
            f"{small.seconds.show('s', 3)} among 10,000; peak Python memory "
            f"{large.peak_kib:,.0f} KiB vs {small.peak_kib:,.0f} KiB."
        )
        plans += [f"-- {kind}, 1,000,000 readers", *large.plans]
    progress("goal 4: Redis with 1,000,000 enrolled readers, nothing due")
    empty, after = tick_scale.redis_at_rest(folder)
    plan_block = ["The plans, as the databases gave them:", "\n".join(["```", *plans, "```"])]
    tick = Goal(
        3,
        "the tick at 1,000,000 readers (1,000 due)",
        "within 2× of at 10,000, memory flat, both databases",
        "; ".join(rows),
        met,
        [*details, *plan_block],
    )
    redis = Goal(
        4,
        "Redis with 1,000,000 enrolled readers, nothing due",
        "within 1 MB of empty",
        f"{(after - empty) / 1024:+,.0f} KiB ({empty:,} → {after:,} bytes used)",
        abs(after - empty) <= 1024 * 1024,
        ["Three tick passes over the million; Redis carries ids of claimed work only."],
    )
    return tick, redis


def signups() -> tuple[Goal, Goal]:
    progress(f"goal 5: sign-ups under gunicorn, {REPS} rounds of 10 s with wrk")
    load = signup.throughput(reps=REPS)
    share = ratio(load.signup.rate, load.constant.rate)
    tail = ratio(load.signup.p99_ms, load.constant.p99_ms)
    throughput = Goal(
        5,
        "sign-up POST under gunicorn, 16 connections, 10 s",
        "≥ 50 % of a constant response's requests/s, p99 ≤ 3× its p99",
        f"{share:.0%} of the requests/s, p99 {tail:.1f}× ({load.signup.rate.show()}, p99 "
        f"{load.signup.p99_ms.show('ms', 1)}; constant {load.constant.rate.show()}, p99 "
        f"{load.constant.p99_ms.show('ms', 1)}; {load.signup.failures} failed)",
        share >= 0.5 and tail <= 3 and load.signup.failures == 0,
        [
            "wrk (2 threads, 16 connections) against the Procfile's gunicorn (2 sync workers) on "
            "SQLite; each POST carries the form's CSRF token and cookie, a new address and a new "
            "client address (`TRUSTED_PROXIES=1`), so it does everything a reader's does: CSRF, "
            "validation, rate limits in Redis, one write transaction (reader, consent, claimed "
            "confirmation), the enqueue.",
            "Where a gunicorn worker's CPU went during the first round (py-spy, CPU samples): "
            + "; ".join(f"{stage}: {share:.0%}" for stage, share in load.profile.items())
            + ".",
            SIGNUP_WHY,
        ],
    )
    progress("goal 7: 1,000 sign-ups while 10,000 course emails go out")
    burst = signup.confirmations_during_a_burst()
    confirmations = Goal(
        7,
        "confirmations during a sign-up burst and a 10,000-email course burst",
        "every confirmation at the SMTP server within 10 s of its sign-up",
        f"p50 {burst.p50:.2f} s, p99 {burst.p99:.2f} s, slowest {max(burst.delays):.2f} s",
        max(burst.delays) <= 10,
        [
            f"{burst.signups:,} sign-ups took {burst.signup_seconds:.1f} s through the web (16 "
            f"clients); {burst.course_sent_meanwhile:,} course emails went out meanwhile. "
            "Confirmations wait in their own queue, which workers take first."
        ],
    )
    return throughput, confirmations


def scale_out() -> list[str]:
    progress("scaling: 1, 2 and 4 worker processes on PostgreSQL")
    lines = [
        "| worker processes | emails/s | CPU busy (both cores) | workers | SMTP sink "
        "| PostgreSQL |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for workers in (1, 2, 4):
        s = scaling.scale(workers, count=4_000, reps=REPS)
        lines.append(
            f"| {workers} | {s.rate.show()} | {s.machine_busy:.0%} | "
            f"{s.cores['workers']:.2f} cores | {s.cores['SMTP sink']:.2f} | "
            f"{s.cores['PostgreSQL']:.2f} |"
        )
    return lines


def header(seconds: float) -> list[str]:
    return [
        f"Measured by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in "
        f"{seconds / 60:.1f} minutes: Python {platform.python_version()}, "
        f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores. Every "
        "figure is the median of its repetitions (min-max and n beside it), each compared with "
        "a baseline measured in the same run: the ratios are what carry across machines.",
    ]


def run_all() -> tuple[list[Goal], list[str], float]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cm-bench-") as folder:
        goals = [compose_cost()]
        goals += end_to_end()
        goals += tick_at_scale(Path(folder))
        goals += signups()
        scaling_lines = scale_out()
        goals += desk_goals.desk_at_scale(Path(folder))
    goals.sort(key=lambda g: g.number)
    return goals, scaling_lines, time.monotonic() - started
