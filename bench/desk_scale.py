"""The therapist's desk at 1,000,000 readers and 5,000,000 deliveries, on SQLite and on
PostgreSQL: the server time of the overview and of searches (each beside the same answer at
10,000 readers, and the overview beside counting live on every visit, as a desk without the
tick's snapshot would), and the peak memory of exporting 1,000,000 readers beside 10,000.

Each page is asked through the real app (a signed-in Flask test client), so the time is the
server's whole work for the request: routing, the session, the queries and the template.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import text

from bench.common import progress
from bench.stats import Figure
from bench.tick_scale import NOW, _runtime, _stored, database, numbers_from_one
from emails.course import default_course
from service.desk import overview as desk_overview
from service.desk import snapshot
from service.web import create_app
from workers.runtime import Runtime

#: Emails per reader already sent: 5 × 1,000,000 = 5,000,000 deliveries.
SENT_EACH = 5
#: Days the readers' sign-ups are spread over (the chart shows the last 30).
SPREAD_DAYS = 60
PASSWORD = "bench-password"
SEARCHES = {
    "a whole address": "r765432@example.test",
    "a first name": "Name765432",
    "a part of an address": "r76543",
    "text every reader holds": "example",
    "two letters": "r7",
    "no match at all": "zzzz",
}
#: Prints the command's peak resident memory (KiB) on stderr after it ran.
MEASURED = (
    "import resource, sys\n"
    "from workers.cli import main\n"
    "try:\n    main(sys.argv[1:], standalone_mode=False)\n"
    "finally:\n"
    "    print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


@dataclass
class DeskFigures:
    database: str
    readers: int
    overview: Figure
    live: Figure
    refresh_seconds: float
    searches: dict[str, Figure]


def populate(rt: Runtime, total: int) -> None:
    """``total`` readers signed up over ``SPREAD_DAYS`` days, each with ``SENT_EACH`` emails
    sent and the next due within nine days (a ninth of them in the next 24 hours), generated
    inside the database."""
    postgres = not rt.database.is_sqlite
    numbers = numbers_from_one(postgres)
    days = " ".join(
        f"WHEN {d} THEN :day{d}" for d in range(SPREAD_DAYS)
    )  # sign-ups spread over the last SPREAD_DAYS days
    at = {f"day{d}": _stored(NOW - timedelta(days=d), postgres) for d in range(SPREAD_DAYS)}
    later = " ".join(f"WHEN {d} THEN :due{d}" for d in range(9))
    at |= {f"due{d}": _stored(NOW + timedelta(hours=12 + 24 * d), postgres) for d in range(9)}
    with rt.database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscribers (id, public_id, email, first_name, timezone, status, "
                "unsubscribe_token, created_at, confirmed_at) "
                "SELECT x, 'p' || x, 'r' || x || '@example.test', 'Name' || x, 'UTC', 'active', "
                f"'t' || x, CASE x % {SPREAD_DAYS} {days} END, :day0 FROM {numbers}"
            ),
            {"total": total, **at},
        )
        conn.execute(
            text(
                "INSERT INTO enrollments (id, subscriber_id, course, course_version, next_step, "
                f"status, created_at, next_send_at) SELECT x, x, 'rebuilding-trust', 1, "
                f"{SENT_EACH}, 'active', :day0, CASE x % 9 {later} END FROM {numbers}"
            ),
            {"total": total, **at},
        )
        for step in range(SENT_EACH):
            conn.execute(
                text(
                    "INSERT INTO deliveries (id, kind, subscriber_id, enrollment_id, step, "
                    "status, message_id, attempts, created_at, sent_at) "
                    f"SELECT x * {SENT_EACH} + {step}, 'step', x, x, {step}, 'sent', "
                    f"'<m' || x || '.{step}@example.test>', 1, :day0, :day0 FROM {numbers}"
                ),
                {"total": total, **at},
            )
        conn.execute(text("ANALYZE" if not postgres else "ANALYZE subscribers, deliveries"))


def _client(rt: Runtime) -> FlaskClient:
    env = {
        "DATABASE_URL": rt.settings.DATABASE_URL,
        "REDIS_URL": rt.settings.REDIS_URL,
        "COURSEMAIL_ENV": "test",
        "COURSEMAIL_INSTANCE": str(rt.settings.instance_path),
        "SECRET_KEY": "bench-secret",
        "ADMIN_PASSWORD": PASSWORD,
    }
    app = create_app(env, clock=rt.clock)
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    answer = client.post("/admin/login", data={"username": "admin", "password": PASSWORD})
    assert answer.status_code == 303, answer.status_code
    return client


def _timed(client: FlaskClient, path: str, reps: int, expect: str) -> Figure:
    seconds = []
    for _ in range(reps):
        start = time.perf_counter()
        answer = client.get(path)
        seconds.append(time.perf_counter() - start)
        assert answer.status_code == 200 and expect in answer.get_data(as_text=True), path
    return Figure.of(seconds)


def measure(kind: str, total: int, folder: Path, *, reps: int) -> DeskFigures:
    with database(kind, folder) as url, _runtime(url, folder) as rt:
        started = time.monotonic()
        populate(rt, total)
        progress(
            f"  {kind}: {total:,} readers, {total * SENT_EACH:,} emails written in "
            f"{time.monotonic() - started:.0f}s"
        )
        titles = snapshot.step_titles(default_course())
        start = time.perf_counter()
        assert snapshot.refresh_if_due(rt.database, now=rt.clock.now(), step_titles=titles)
        refresh = time.perf_counter() - start
        client = _client(rt)
        signed_up = f"<td>{total}</td>"
        overview = _timed(client, "/admin", reps, signed_up)
        live = []
        for _ in range(reps):
            with rt.database.session(read_only=True) as session:
                start = time.perf_counter()
                desk_overview.overview(
                    session,
                    now=rt.clock.now(),
                    step_titles=titles,
                    claim_timeout=rt.settings.claim_timeout,
                )
                live.append(time.perf_counter() - start)
        searches = {
            label: _timed(client, f"/admin/readers?q={q}", reps, "Readers")
            for label, q in SEARCHES.items()
        }
    return DeskFigures(kind, total, overview, Figure.of(live), refresh, searches)


def export_peak(folder: Path, total: int) -> int:
    """Peak resident memory (KiB) of ``coursemail readers export`` over ``total``."""
    with database("sqlite", folder) as url, _runtime(url, folder) as rt:
        populate(rt, total)
        env = {
            "DATABASE_URL": url,
            "COURSEMAIL_ENV": "test",
            "SECRET_KEY": "bench-secret",
            "COURSEMAIL_INSTANCE": str(folder),
            "PATH": "/usr/bin:/bin",
        }
        done = subprocess.run(
            [sys.executable, "-c", MEASURED, "readers", "export"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=1800,
            check=True,
        )
        found = re.search(r"^peak (\d+)$", done.stderr, re.MULTILINE)
        assert found, done.stderr
        return int(found.group(1))


if __name__ == "__main__":  # a quick look without the whole `make bench`
    import tempfile

    with tempfile.TemporaryDirectory() as where:
        for database_kind in ("sqlite", "postgres"):
            for size in (10_000, 1_000_000):
                f = measure(database_kind, size, Path(where), reps=5)
                print(
                    database_kind,
                    size,
                    "overview",
                    f.overview.show("s", 3),
                    "live",
                    f.live.show("s", 3),
                    "refresh",
                    f"{f.refresh_seconds:.2f}s",
                )
                for name, figure in f.searches.items():
                    print("   search", name, figure.show("s", 3))
        print(
            "export peak KiB", export_peak(Path(where), 10_000), export_peak(Path(where), 1_000_000)
        )


def spacing_for(seconds: float) -> str:
    """The tick's spacing between refreshes that take ``seconds``, in words."""
    from service.desk.snapshot import spacing

    return f"{spacing(seconds).total_seconds():.0f} s"
