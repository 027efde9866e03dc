"""``coursemail db backup``: a consistent, checked copy while readers keep signing up."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from service.clock import ManualClock
from service.readers import lifecycle
from service.store import backup
from service.store.db import Database
from service.store.models import Consent, Reader
from tests.conftest import make_settings
from tests.support.env import settings_env
from workers.cli import main
from workers.runtime import Runtime


@pytest.fixture
def sqlite_rt(tmp_path: Path, sqlite_template: Path, clock: ManualClock) -> Iterator[Runtime]:
    """A runtime on SQLite only: the online backup is SQLite's (PostgreSQL: pg_dump)."""
    path = tmp_path / "live.db"
    shutil.copy(sqlite_template, path)
    runtime = Runtime(make_settings(tmp_path, DATABASE_URL=f"sqlite:///{path}"), clock=clock)
    yield runtime
    runtime.database.dispose()


def _sign_ups(rt: Runtime, stop: threading.Event, done: list[int]) -> None:
    n = 0
    while not stop.is_set() and n < 2000:
        with rt.database.session() as session:
            result = lifecycle.sign_up(
                session,
                email=f"reader{n}@example.test",
                first_name=None,
                timezone="UTC",
                now=rt.clock.now(),
                mail_domain=rt.settings.mail_domain,
            )
            lifecycle.record_consent(
                session,
                result.reader,
                now=rt.clock.now(),
                ip="127.0.0.1",
                user_agent="test",
                form_version="t",
                consent_text="yes",
            )
        n += 1
        done[0] = n


def test_a_backup_taken_while_readers_sign_up_is_whole_and_restores(
    sqlite_rt: Runtime, tmp_path: Path
) -> None:
    rt = sqlite_rt
    stop, done = threading.Event(), [0]
    writer = threading.Thread(target=_sign_ups, args=(rt, stop, done))
    writer.start()
    try:
        while done[0] < 50:  # sign-ups are arriving
            threading.Event().wait(0.01)
        result = CliRunner(env=settings_env(rt.settings)).invoke(
            main, ["db", "backup", str(tmp_path / "copy.db")]
        )
    finally:
        stop.set()
        writer.join(30)
    assert result.exit_code == 0, result.output
    assert "integrity check: ok" in result.output
    copy = Database(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        with copy.session() as session:
            people = session.scalar(select(func.count(Reader.id)))
            consents = session.scalar(select(func.count(Consent.id)))
    finally:
        copy.dispose()
    assert people is not None and 50 <= people <= done[0]
    assert consents == people  # each sign-up whole: never a reader without their consent
    assert f"{people:,} subscribers" in result.output  # what it printed is what restores
    assert backup.check_copy(tmp_path / "copy.db")["subscribers"] == people


def test_a_backup_never_overwrites_and_says_why(sqlite_rt: Runtime, tmp_path: Path) -> None:
    rt = sqlite_rt
    target = tmp_path / "exists.db"
    target.write_text("precious")
    result = CliRunner(env=settings_env(rt.settings)).invoke(main, ["db", "backup", str(target)])
    assert result.exit_code == 1 and "exists already" in result.output
    assert target.read_text() == "precious"
    assert not (tmp_path / "exists.db.partial").exists()


def test_on_postgresql_the_backup_command_says_how(tmp_path: Path) -> None:
    env = {
        "COURSEMAIL_INSTANCE": str(tmp_path),
        "DATABASE_URL": "postgresql://coursemail:s3cret@db.example.test:5432/coursemail",
    }
    result = CliRunner(env=env).invoke(main, ["db", "backup", "nightly.dump"])
    assert result.exit_code == 0, result.output
    assert 'pg_dump --format=custom --no-owner --file="nightly.dump"' in result.output
    assert "s3cret" not in result.output
