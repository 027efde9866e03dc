"""A consistent copy of the database while the service keeps running.

SQLite: the online backup API copies the database page by page under a read snapshot, so
sign-ups that arrive meanwhile neither block nor tear it; the copy is then checked with
``PRAGMA integrity_check`` and its rows are counted. PostgreSQL: ``pg_dump`` is the tool for
the job, so the command to run is given instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from service.store.db import private_file
from service.store.models import Base

#: Pages copied per step of the online backup, between progress reports.
PAGES_PER_STEP = 256


class BackupError(Exception):
    """The copy could not be made or did not check out; the message says why."""


@dataclass(frozen=True)
class Copy:
    path: Path
    bytes: int
    #: rows per table in the copy: compare them after a restore
    counts: dict[str, int]


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL, or None for any other database."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database:
        return None
    return Path(url.database)


def pg_dump_command(database_url: str, target: Path) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    safe = url.render_as_string(hide_password=True).replace("***", "PASSWORD")
    return f'pg_dump --format=custom --no-owner --file="{target}" "{safe}"'


def backup_sqlite(
    source: Path, target: Path, *, progress: Callable[[int, int], None] | None = None
) -> Copy:
    """Copy ``source`` to ``target`` (which must not exist) and check the copy."""
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file name")
    partial = target.with_name(target.name + ".partial")
    try:
        private_file(partial)  # a copy of readers' records: this user's alone
        with sqlite3.connect(source) as live, sqlite3.connect(partial) as copy:
            live.execute("PRAGMA busy_timeout=10000")
            live.backup(
                copy,
                pages=PAGES_PER_STEP,
                progress=(lambda _status, left, total: progress(total - left, total))
                if progress
                else None,
            )
        counts = check_copy(partial)
        partial.replace(target)  # only a checked copy ever carries the name asked for
    except (sqlite3.Error, OSError) as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed: {error}") from None
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    return Copy(target, target.stat().st_size, counts)


def check_copy(path: Path) -> dict[str, int]:
    """``PRAGMA integrity_check`` and the rows per table; raises ``BackupError`` if bad."""
    with sqlite3.connect(path) as conn:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"the copy is damaged: {verdict}")
        return {
            table.name: int(conn.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0])
            for table in Base.metadata.sorted_tables
        }
