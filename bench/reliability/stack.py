"""One private coursemail for a fault scenario: its own database (SQLite, or a fresh schema on
PostgreSQL), its own redis-server, a scriptable SMTP sink, and the Procfile's processes
started as subprocesses on loopback. Everything it starts, it stops (``close``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from redis import Redis
from sqlalchemy import create_engine, func, insert, select, text

from service.settings import Settings
from service.store.db import Database
from service.store.migrate import upgrade
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Reader,
    ReaderStatus,
)
from tests.support.procs import kill_all_with, processes_with
from tests.support.smtp import SinkHandler, SMTPSink, free_port
from workers.redis_server import EmbeddedRedis

#: Where the therapist's mail goes here: never the seed's real inbox.
THERAPIST = "therapist@example.test"


@dataclass
class Row:
    """One line of docs/RELIABILITY.md."""

    scenario: str
    inflicted: str
    database: str
    expected: int
    sent: int
    lost: int
    duplicated: int
    ambiguous: int
    #: seconds from the end of the last fault to the last expected email's arrival
    delay: float | None
    notes: list[str] = field(default_factory=list)
    #: what breaks the goal beyond the counts (a process exited, a step out of order...)
    problems: list[str] = field(default_factory=list)


def postgres_url() -> str | None:
    """The PostgreSQL to use (TEST_DATABASE_URL, else the local one), if it answers."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip() or "postgresql://postgres@127.0.0.1/test"
    # (only to normalise the URL: development, or a clean clone with no instance folder
    # would stop at the server-in-development refusal)
    settings = Settings.from_env(
        environ={"COURSEMAIL_ENV": "development"}, overrides={"DATABASE_URL": url}
    )
    url = settings.DATABASE_URL
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:  # noqa: BLE001 - no PostgreSQL here: the suite runs on SQLite alone
        return None
    return url


class Stack:
    def __init__(
        self,
        database: str = "sqlite",
        *,
        smtputf8: bool = False,
        sink_handler: SinkHandler | None = None,
        database_url: str | None = None,
        **env: str,
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="cm-rel-"))
        self.database_kind = database
        self.schema: str | None = None
        self.redis = EmbeddedRedis(self.folder / "r").start()
        self.sink_handler = sink_handler or SinkHandler()
        self.sink_port = free_port()
        self.smtputf8 = smtputf8
        self.sink: SMTPSink | None = None
        self.sink_up()
        url = database_url or self._database_url(database)
        upgrade(url)
        self.inbound_port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("COURSEMAIL", "DATABASE"))},
            "COURSEMAIL_ENV": "test",
            "COURSEMAIL_INSTANCE": str(self.folder),
            "DATABASE_URL": url,
            "REDIS_URL": self.redis.url,
            "SMTP_URL": f"smtp://127.0.0.1:{self.sink_port}",
            "SECRET_KEY": "reliability-suite-secret-key",
            "PUBLIC_URL": "http://127.0.0.1:5999",
            "REPLY_DOMAIN": "reply.example.test",
            "MAIL_FROM": "course@example.test",
            "THERAPIST_EMAIL": THERAPIST,
            "POSTAL_ADDRESS": "1 Test Street, Testville",
            "TICK_INTERVAL": "1",
            "INBOUND_SMTP_PORT": str(self.inbound_port),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.settings = Settings.from_env(environ=self.env)
        self.database = Database(self.settings.DATABASE_URL)
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def _database_url(self, kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{self.folder / 'coursemail.db'}"
        base = postgres_url()
        assert base is not None, "PostgreSQL is not reachable"
        self.schema = f"cm_rel_{uuid.uuid4().hex[:10]}"
        engine = create_engine(base)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        engine.dispose()
        joiner = "&" if "?" in base else "?"
        return f"{base}{joiner}options=-csearch_path%3D{self.schema}"

    # --- processes ----------------------------------------------------------------------

    def start(
        self, kind: str, *, app: str = "service.web:create_app()", web_workers: str = "2"
    ) -> subprocess.Popen[bytes]:
        """``worker``, ``tick``, ``inbound`` (as the Procfile runs them) or ``web`` (gunicorn
        serving ``app``, without an access log)."""
        if kind == "web":
            self.web_port = free_port()
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                "--no-control-socket",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                web_workers,
                "--graceful-timeout",
                "2",
                app,
            ]
        else:
            command = [sys.executable, "-m", "workers.cli", kind]
        log = (self.folder / f"{kind}-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append((kind, process))
        return process

    def running(self, kind: str) -> list[subprocess.Popen[bytes]]:
        return [p for k, p in self.processes if k == kind and p.poll() is None]

    def worker_pids(self, worker: subprocess.Popen[bytes]) -> list[int]:
        """The processes that send: the pool's children, or the worker itself (WORKERS=1)."""
        return self.children(worker) or [worker.pid]

    def children(self, worker: subprocess.Popen[bytes]) -> list[int]:
        """The worker processes a ``coursemail worker`` pool started (its children)."""
        children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.folder.glob("*.log"))

    # --- mail -----------------------------------------------------------------------------

    def sink_up(self) -> None:
        self.sink = SMTPSink(
            smtputf8=self.smtputf8, port=self.sink_port, handler=self.sink_handler
        ).start()

    def sink_down(self) -> None:
        assert self.sink is not None
        self.sink.stop()
        self.sink = None

    def arrivals(self) -> dict[str, list[float]]:
        """Recipient -> the times each of its messages arrived."""
        found: dict[str, list[float]] = {}
        for received in list(self.sink_handler.received):
            for rcpt in received.rcpt_tos:
                found.setdefault(rcpt.lower(), []).append(received.at)
        return found

    # --- readers --------------------------------------------------------------------------

    def seed(
        self,
        count: int,
        *,
        prefix: str = "r",
        names: Callable[[int], str] | None = None,
        emails: Callable[[int], str] | None = None,
    ) -> list[str]:
        """``count`` confirmed readers whose welcome email is due now; their addresses."""
        now = datetime.now(UTC)
        with self.database.session() as session:
            first = int(session.scalar(select(func.coalesce(func.max(Reader.id), 0))) or 0)
            ids = range(first + 1, first + count + 1)
            addresses = [emails(i) if emails else f"{prefix}{i}@example.test" for i in ids]
            session.execute(
                insert(Reader),
                [
                    {
                        "id": i,
                        "public_id": uuid.uuid4().hex,
                        "email": address,
                        "first_name": names(i) if names else f"Reader {i}",
                        "timezone": "UTC",
                        "status": ReaderStatus.ACTIVE,
                        "unsubscribe_token": uuid.uuid4().hex,
                        "created_at": now,
                        "confirmed_at": now,
                    }
                    for i, address in zip(ids, addresses, strict=True)
                ],
            )
            session.execute(
                insert(Enrollment),
                [
                    {
                        "reader_id": i,
                        "course": "rebuilding-trust",
                        "course_version": 1,
                        "next_step": 0,
                        "status": EnrollmentStatus.ACTIVE,
                        "created_at": now,
                        "next_send_at": now,
                    }
                    for i in ids
                ],
            )
        return [a.lower() for a in addresses]

    def redis_client(self) -> Redis:
        return Redis.from_url(self.redis.url)

    def settled(self, expected: list[str]) -> bool:
        """Every expected reader has their email, or it is recorded ambiguous."""
        arrivals = self.arrivals()
        waiting = [a for a in expected if a not in arrivals]
        return not waiting or not set(waiting) - self.ambiguous_recipients()

    def why(self, addresses: list[str]) -> list[tuple[str, str, str]]:
        """The state and reason of each address's course emails."""
        with self.database.session() as session:
            rows = session.execute(
                select(Reader.email, Delivery.status, Delivery.last_error)
                .join(Delivery, Delivery.reader_id == Reader.id)
                .where(func.lower(Reader.email).in_(addresses))
            ).all()
        return [(email, str(status), reason or "") for email, status, reason in rows]

    def ambiguous_recipients(self) -> set[str]:
        """Readers whose email is recorded ambiguous: the server may or may not have it."""
        with self.database.session() as session:
            rows = session.scalars(
                select(Reader.email)
                .join(Delivery, Delivery.reader_id == Reader.id)
                .where(Delivery.status == DeliveryStatus.AMBIGUOUS)
            )
            return {email.lower() for email in rows}

    def count(self, status: DeliveryStatus) -> int:
        with self.database.session() as session:
            return int(
                session.scalar(
                    select(func.count(Delivery.id)).where(
                        Delivery.status == status, Delivery.kind == DeliveryKind.STEP
                    )
                )
                or 0
            )

    def wait(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            time.sleep(0.25)
        return done()

    def outcome(self, row: Row, expected: list[str], fault_ended: float | None) -> Row:
        """Fill in sent, lost, duplicated, ambiguous and the delay for ``expected``."""
        arrivals = self.arrivals()
        got = [arrivals[a] for a in expected if a in arrivals]
        row.expected = len(expected)
        row.sent = len(got)
        row.duplicated = sum(len(times) - 1 for times in got)
        doubtful = self.ambiguous_recipients()
        row.ambiguous = len(doubtful)
        missing = [a for a in expected if a not in arrivals and a not in doubtful]
        row.lost = len(missing)
        for address, status, reason in self.why(missing[:3]):
            row.problems.append(f"lost {address}: {status} ({reason})")
        last = max((max(times) for times in got), default=None)
        if fault_ended is not None and last is not None:
            row.delay = max(0.0, last - fault_ended)
        return row

    def close(self) -> None:
        marker = f"COURSEMAIL_INSTANCE={self.folder}"
        for _, process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        kill_all_with(marker)
        for _, process in self.processes:
            process.wait()
        if self.sink is not None:
            self.sink.stop()
        self.redis.stop()
        self.database.dispose()
        if self.schema:
            engine = create_engine(postgres_url() or "")
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)
