"""The tick at 10,000 and at 1,000,000 readers, 1,000 due each time, on SQLite and on
PostgreSQL: its time (median of repeated passes), its peak Python memory, and the plan of
every query it sends (``EXPLAIN``). Then Redis: a million enrolled readers with nothing due
must leave Redis as empty as it started (it holds work in flight only).
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text

from bench.common import progress
from bench.reliability.stack import postgres_url
from bench.stats import Figure
from service.clock import ManualClock
from service.settings import Settings
from service.store.migrate import upgrade
from workers import tick
from workers.redis_server import EmbeddedRedis
from workers.runtime import Runtime

DUE = 1_000
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)


@dataclass
class TickFigures:
    database: str
    readers: int
    seconds: Figure
    peak_kib: float
    plans: list[str] = field(default_factory=list)


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or a private PostgreSQL schema."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'tick-{uuid.uuid4().hex[:6]}.db'}"
        upgrade(url)
        yield url
        return
    base = postgres_url()
    assert base is not None, "PostgreSQL is not reachable"
    schema = f"cm_bench_{uuid.uuid4().hex[:8]}"
    superuser = create_engine(base)
    with superuser.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with superuser.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        superuser.dispose()


def numbers_from_one(postgres: bool) -> str:
    """A FROM item giving x = 1 … :total, generated inside the database."""
    if postgres:
        return "generate_series(1, :total) AS n(x)"
    return (
        "(WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < :total) "
        "SELECT x FROM n)"
    )


def populate(rt: Runtime, total: int) -> None:
    """``total`` confirmed readers, generated inside the database; the first ``DUE`` due."""
    postgres = not rt.database.is_sqlite
    numbers = numbers_from_one(postgres)
    at = {"created": _stored(NOW - timedelta(days=1), postgres)}
    later = " ".join(
        f"WHEN {d} THEN :future{d}" for d in range(9)
    )  # due one to nine days from now: the rest of the list is spread over the course
    at |= {f"future{d}": _stored(NOW + timedelta(days=1 + d), postgres) for d in range(9)}
    with rt.database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscribers (id, public_id, email, timezone, status, "
                "unsubscribe_token, created_at, confirmed_at) "
                f"SELECT x, 'p' || x, 'r' || x || '@example.test', 'UTC', 'active', "
                f"'t' || x, :created, :created FROM {numbers}"
            ),
            {"total": total, **at},
        )
        conn.execute(
            text(
                "INSERT INTO enrollments (id, subscriber_id, course, course_version, next_step, "
                "status, created_at, next_send_at) "
                "SELECT x, x, 'rebuilding-trust', 1, 1, 'active', :created, "
                f"CASE x % 9 {later} END FROM {numbers}"
            ),
            {"total": total, **at},
        )
        if postgres:
            conn.execute(text("ANALYZE subscribers; ANALYZE enrollments"))
        else:
            conn.execute(text("ANALYZE"))
    reset(rt)


def reset(rt: Runtime) -> None:
    """Forget the last pass: no deliveries, the first ``due`` readers due again, Redis empty."""
    postgres = not rt.database.is_sqlite
    with rt.database.engine.begin() as conn:
        conn.execute(text("DELETE FROM deliveries"))
        conn.execute(
            text("UPDATE enrollments SET next_send_at = :past WHERE id <= :due"),
            {"past": _stored(NOW - timedelta(minutes=1), postgres), "due": DUE},
        )
    rt.redis.flushdb()


def _stored(moment: datetime, postgres: bool) -> Any:
    """As ``UTCDateTime`` stores it: naive UTC (SQLite keeps it as text)."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    return naive if postgres else naive.strftime("%Y-%m-%d %H:%M:%S.%f")


def measure(kind: str, total: int, folder: Path, *, reps: int) -> TickFigures:
    with database(kind, folder) as url, _runtime(url, folder) as rt:
        started = time.monotonic()
        populate(rt, total)
        progress(f"  {kind}: {total:,} readers written in {time.monotonic() - started:.0f}s")
        seconds = []
        for _ in range(reps):
            reset(rt)
            start = time.perf_counter()
            report = tick.run_once(rt)
            seconds.append(time.perf_counter() - start)
            assert report.created == report.enqueued == DUE, report
        reset(rt)
        tracemalloc.start()
        tick.run_once(rt)
        peak = tracemalloc.get_traced_memory()[1] / 1024
        tracemalloc.stop()
        reset(rt)
        plans = explain(rt)
    return TickFigures(kind, total, Figure.of(seconds), peak, plans)


def explain(rt: Runtime) -> list[str]:
    """Run one tick, catch every statement it sends, and ask the database for its plan."""
    caught: list[tuple[str, Any]] = []

    def catch(_c: Any, _cur: Any, statement: str, parameters: Any, _x: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")) and not many:
            caught.append((statement, parameters))

    event.listen(rt.database.engine, "before_cursor_execute", catch)
    try:
        tick.run_once(rt)
    finally:
        event.remove(rt.database.engine, "before_cursor_execute", catch)
    prefix = "EXPLAIN QUERY PLAN " if rt.database.is_sqlite else "EXPLAIN "
    lines: list[str] = []
    with rt.database.engine.connect() as conn:
        for statement, parameters in caught:
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            lines.append(" ".join(statement.split())[:160] + " ...")
            lines += ["    " + str(row[-1]) for row in rows]
        conn.rollback()
    return lines


def redis_at_rest(folder: Path, total: int = 1_000_000) -> tuple[int, int]:
    """Redis's used memory (bytes) empty, and after ticks over ``total`` readers, none due."""
    with database("sqlite", folder) as url, _runtime(url, folder) as rt:
        populate(rt, total)
        with rt.database.engine.begin() as conn:  # nothing due: the next is tomorrow's
            conn.execute(
                text("UPDATE enrollments SET next_send_at = :later WHERE id <= :due"),
                {"later": _stored(NOW + timedelta(days=1), False), "due": DUE},
            )
        rt.redis.flushall()
        empty = int(rt.redis.info("memory")["used_memory"])
        for _ in range(3):
            report = tick.run_once(rt)
            assert report.created == 0, report
        return empty, int(rt.redis.info("memory")["used_memory"])


@contextmanager
def _runtime(url: str, folder: Path) -> Iterator[Runtime]:
    redis = EmbeddedRedis(Path(tempfile.mkdtemp(dir=folder))).start()
    settings = Settings.from_env(
        environ={},
        overrides={
            "DATABASE_URL": url,
            "REDIS_URL": redis.url,
            "COURSEMAIL_ENV": "test",
            "COURSEMAIL_INSTANCE": str(folder),
            "SECRET_KEY": "bench-secret",
        },
    )
    rt = Runtime(settings, clock=ManualClock(NOW))
    try:
        yield rt
    finally:
        rt.database.dispose()
        rt.redis.close()
        redis.stop()
