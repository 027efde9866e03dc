"""Scenarios 9-10: the database itself goes away mid-burst. PostgreSQL (a private cluster, so
restarting it disturbs nobody else) is stopped, every connection cut, and started again;
SQLite's disk fills up (a small tmpfs of its own), then space comes back. No process may
exit; each says so in one log line, not a traceback; ``/healthz`` says so; sending goes on by
itself; nothing is lost and nothing is sent twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.reliability.processes import PATIENCE
from bench.reliability.stack import Row, Stack
from tests.support.smtp import free_port

#: How long the database stays away.
OUTAGE = 20.0
#: Emails due at once, and how many arrive before the fault.
BURST, BEFORE = 600, 150


class PrivatePostgres:
    """A PostgreSQL cluster of its own in a temporary folder, from Debian's binaries."""

    def __init__(self) -> None:
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not versions:
            raise RuntimeError("no PostgreSQL binaries in /usr/lib/postgresql")
        self.bin = versions[-1]
        self.folder = Path(tempfile.mkdtemp(prefix="cm-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to postgres
            shutil.chown(self.folder, "postgres")
        self._as_owner("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "postgres.log")
        self._as_owner("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        return self

    def stop(self) -> None:
        """A fast shutdown: every open connection is cut at once, as in a restart."""
        self._as_owner("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.folder, ignore_errors=True)


def postgres_restarted() -> Row:
    cluster = PrivatePostgres().start()
    try:
        stack = Stack("postgresql", database_url=cluster.url)
    except Exception:
        cluster.destroy()
        raise
    try:
        inflicted = (
            f"PostgreSQL stopped (fast: every connection cut) after {BEFORE} of {BURST} sends, "
            f"started again {OUTAGE:.0f} s later"
        )
        return _through_an_outage(
            stack,
            "PostgreSQL restarted mid-burst",
            inflicted,
            away=cluster.stop,
            back=cluster.start,
        )
    finally:
        stack.close()
        cluster.destroy()


def sqlite_disk_full() -> Row:
    scenario, database = "SQLite's disk full", "sqlite"
    if os.geteuid() != 0:
        return Row(
            scenario,
            "not run",
            database,
            0,
            0,
            0,
            0,
            0,
            None,
            problems=["needs root to mount a small file system for the database"],
        )
    disk = Path(tempfile.mkdtemp(prefix="cm-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)], check=True)
    filler = disk / "filler"
    try:
        stack = Stack("sqlite", database_url=f"sqlite:///{disk / 'coursemail.db'}")
        try:
            inflicted = (
                f"the database's file system filled up after {BEFORE} of {BURST} sends; space "
                f"freed {OUTAGE:.0f} s later"
            )
            return _through_an_outage(
                stack, scenario, inflicted, away=lambda: _fill(filler), back=filler.unlink
            )
        finally:
            stack.close()
    finally:
        subprocess.run(["umount", str(disk)], check=False)
        shutil.rmtree(disk, ignore_errors=True)


def _fill(filler: Path) -> None:
    """Write until the file system says it is full (ENOSPC)."""
    with filler.open("wb") as out:
        block = b"\0" * (1 << 20)
        try:
            while True:
                out.write(block)
                out.flush()
        except OSError:
            pass


def _through_an_outage(stack: Stack, scenario: str, inflicted: str, *, away, back) -> Row:  # type: ignore[no-untyped-def]
    expected = stack.seed(BURST)
    stack.sink_handler.delay = 0.02  # a relay with some latency, so the fault lands mid-burst
    for kind in ("web", "tick", "worker"):
        stack.start(kind)
    stack.wait(lambda: len(stack.arrivals()) >= BEFORE, PATIENCE)
    away()
    time.sleep(OUTAGE / 2)
    during = _healthz(stack)
    time.sleep(OUTAGE / 2)
    back()
    fault_ended = time.monotonic()
    stack.wait(lambda: stack.settled(expected), PATIENCE)
    after = _healthz(stack)
    row = Row(scenario, inflicted, stack.database_kind, 0, 0, 0, 0, 0, None)
    row = stack.outcome(row, expected, fault_ended)
    exited = [kind for kind, process in stack.processes if process.poll() is not None]
    if exited:
        row.problems.append(f"exited: {', '.join(exited)}")
    logs = stack.logs()
    if "Traceback" in logs:
        row.problems.append(f"{logs.count('Traceback')} tracebacks in the logs")
    said = sum("database is away" in line or "tick failed" in line for line in logs.splitlines())
    row.notes.append(f"/healthz during the fault: {during}; after: {after}")
    row.notes.append(f"{said} one-line log entries said the database was away")
    return row


def _healthz(stack: Stack) -> str:
    url = f"http://127.0.0.1:{stack.web_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback
            return f"{answer.status} ok={json.loads(answer.read())['ok']}"
    except urllib.error.HTTPError as refused:
        return f"{refused.code} {json.loads(refused.read()).get('error', '')}"
    except OSError as error:
        return f"no answer ({error})"
