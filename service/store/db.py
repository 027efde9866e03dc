"""Engines and sessions, built lazily once per process (and again after a fork)."""

from __future__ import annotations

import fcntl
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

#: How long a SQLite writer waits for another's lock before giving up, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 15_000

#: An execution option: this transaction only reads (see ``Database.session``).
READ_ONLY = "coursemail_read_only"

_live: weakref.WeakSet[Database] = weakref.WeakSet()


class Database:
    """One engine and session factory for one URL; safe across ``fork()``.

    A child process must never reuse its parent's pooled connections: the engine is
    dropped in the child (RQ's work-horse, gunicorn's workers) and built again on first use.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._sessionmaker: sessionmaker[Session] | None = None
        self._pid = os.getpid()
        #: the last erase whose old row versions this process has VACUUMed (PostgreSQL)
        self.vacuumed_until: datetime | None = None
        _live.add(self)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def engine(self) -> Engine:
        if self._engine is None or self._pid != os.getpid():
            self._engine = _make_engine(self.url)
            self._sessionmaker = sessionmaker(self._engine, expire_on_commit=False)
            self._pid = os.getpid()
        return self._engine

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        ``read_only`` (for a session that only reads) lets SQLite begin without taking the
        write lock, so a read never makes a writer wait (WAL: readers see a snapshot).
        """
        self.engine  # noqa: B018 - builds the factory when needed
        assert self._sessionmaker is not None
        with self._sessionmaker() as session, session.begin():
            if read_only:
                session.connection(execution_options={READ_ONLY: True})
            yield session

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _forget_after_fork(self) -> None:
        if self._engine is not None:
            # close=False: the parent's connections stay the parent's; the child just forgets
            self._engine.dispose(close=False)
            self._engine = None


def _after_fork_in_child() -> None:
    for database in list(_live):
        database._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def private_file(path: Path) -> None:
    """Create ``path`` readable by this user alone (0600) unless it exists. SQLite gives its
    WAL and shared-memory files the database file's own permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    name = parsed.database
    if name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # hide_parameters: an error's text never quotes the values (addresses, tokens, names)
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    path = sqlite_file(url)
    if path is not None:
        private_file(path)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, hide_parameters=True
    )
    if path is not None:
        _queue_writers(engine, Path(f"{path}.writers"))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy, not pysqlite, decide when transactions begin (see _on_begin)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # erased and forgotten words are zeroed in the file, not left in free pages
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers queue on the busy timeout
        # instead of one failing at once when its read snapshot turns out to be stale. A
        # transaction that only reads begins without it.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _queue_writers(engine: Engine, lock_path: Path) -> None:
    """Writers to one SQLite file wait their turn on an ``flock`` the kernel hands over at
    once, instead of in SQLite's busy handler, which sleeps 1, 2, 5, 10... ms between tries:
    with several processes writing small transactions (web workers, worker connections),
    those sleeps, not the writes, were most of the time (bench/wire.py, bench/signup.py).

    Each pooled connection has its own lock file descriptor, so threads exclude each other
    too. The lock is taken just before ``BEGIN IMMEDIATE`` and given back when the connection
    returns to the pool (right after its commit or rollback); a process that dies gives it
    back with its descriptors. SQLite's own lock still guards the file: this only orders the
    queue in front of it.
    """

    @event.listens_for(engine, "connect")
    def _open(_dbapi_connection: Any, record: Any) -> None:
        record.info[_WRITER_FD] = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @event.listens_for(engine, "begin")
    def _take(conn: Any) -> None:
        if not conn.get_execution_options().get(READ_ONLY, False):
            fd = conn.connection._connection_record.info.get(_WRITER_FD)
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)

    @event.listens_for(engine, "checkin")
    def _give_back(_dbapi_connection: Any, record: Any) -> None:
        fd = record.info.get(_WRITER_FD) if record is not None else None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)

    @event.listens_for(engine, "close")
    def _close(_dbapi_connection: Any, record: Any) -> None:
        fd = record.info.pop(_WRITER_FD, None)
        if fd is not None:
            os.close(fd)


_WRITER_FD = "coursemail_writer_lock_fd"
