"""Smaller pieces: confirm tokens, engines after fork, the tick loop, the CLI, /healthz."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from service.store.db import Database
from service.store.migrate import upgrade
from service.store.models import Delivery, DeliveryKind, Enrollment, Reader, ReaderStatus
from service.tokens import ConfirmTokens, TokenExpired, TokenInvalid
from service.web import create_app
from tests.support.env import PRODUCTION, settings_env
from tests.support.harness import enrolled
from tests.support.smtp import SMTPSink
from tests.support.tokens import confirm_token_issued_days_ago
from tests.support.waiting import wait_for
from workers import tick
from workers.cli import main
from workers.runtime import Runtime


def test_confirm_token_round_trip_tamper_and_expiry() -> None:
    tokens = ConfirmTokens("k" * 32)
    token = tokens.make("pub-123")
    assert tokens.read(token) == ("pub-123", None)
    assert tokens.read(tokens.make("pub-123", "grief")) == ("pub-123", "grief")
    with pytest.raises(TokenInvalid):
        tokens.read(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    with pytest.raises(TokenInvalid):
        ConfirmTokens("other" * 8).read(token)

    old = confirm_token_issued_days_ago("k" * 32, "pub-9", days=8)
    with pytest.raises(TokenExpired) as caught:
        tokens.read(old)
    assert caught.value.public_id == "pub-9"


def test_a_forked_child_builds_its_own_engine(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    parent_engine = database.engine
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        ok = database.engine is not parent_engine
        with database.session() as session:
            session.execute(text("SELECT 1"))
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    assert database.engine is parent_engine
    database.dispose()


def test_the_tick_loop_survives_a_database_outage(
    rt: Runtime, smtp_sink: SMTPSink, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stop = threading.Event()

    def run() -> None:
        tick.run_forever(rt, stop=stop, interval=0.05)

    enrolled(rt, "sam@example.test", timezone="UTC")
    # the loop keeps going after a failing pass: break the database for a moment
    real_url = rt.database.url
    rt.database.url = f"sqlite:///{tmp_path}"  # a folder, not a database: every pass fails
    rt.database.dispose()
    thread = threading.Thread(target=run)
    thread.start()
    # the database comes back only once a pass has really failed
    wait_for(lambda: "tick failed; trying again" in caplog.text, 10, "a failing pass")
    rt.database.url = real_url
    rt.database.dispose()

    def sent_a_step() -> bool:
        with rt.database.session() as session:
            found = session.scalar(select(Delivery.id).where(Delivery.kind == DeliveryKind.STEP))
        return found is not None

    wait_for(sent_a_step, 10, "the loop to go on and claim the due step")
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert "tick failed; trying again" in caplog.text  # it did fail, and went on
    with rt.database.session() as session:
        assert session.scalar(select(Delivery.id).where(Delivery.kind == DeliveryKind.STEP))


def test_cli_sign_up_and_tick_once(rt: Runtime, smtp_sink: SMTPSink) -> None:
    from workers import runtime as runtime_module

    runtime_module.install(None)  # the CLI builds its own runtime from the environment
    runner = CliRunner(env=settings_env(rt.settings))
    result = runner.invoke(main, ["sign-up", "Ada@Example.TEST", "--name", "Ada"])
    assert result.exit_code == 0, result.output
    assert "confirmation email goes out" in result.output
    again = runner.invoke(main, ["sign-up", "ada@example.test"])
    assert "nothing new to send" in again.output
    bad = runner.invoke(main, ["sign-up", "not-an-address"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    zone = runner.invoke(main, ["sign-up", "b@example.test", "--timezone", "Mars/Base"])
    assert zone.exit_code == 2 and "unknown time zone" in zone.output

    ticked = runner.invoke(main, ["tick", "--once"])
    assert ticked.exit_code == 0, ticked.output
    assert "1 enqueued in 1 jobs" in ticked.output
    with rt.database.session() as session:
        ada = session.scalars(select(Reader)).one()
        assert (ada.email, ada.status) == ("ada@example.test", ReaderStatus.PENDING)
        assert session.scalars(select(Enrollment)).all() == []
    built_by_cli = runtime_module.current()
    assert built_by_cli is not rt
    built_by_cli.database.dispose()
    built_by_cli.redis.close()
    runtime_module.install(rt)


def test_cli_sign_up_confirm_is_refused_in_production(tmp_path: Path) -> None:
    env = {**PRODUCTION, "COURSEMAIL_INSTANCE": str(tmp_path)}
    result = CliRunner(env=env).invoke(main, ["sign-up", "a@example.org", "--confirm"])
    assert result.exit_code == 1 and "refused in production" in result.output


def test_healthz_reports_the_database(tmp_path: Path, database_url: str) -> None:
    app = create_app({"COURSEMAIL_INSTANCE": str(tmp_path), "DATABASE_URL": database_url})
    assert app.test_client().get("/healthz").get_json() == {
        "ok": True,
        "replies_waiting": 0,
        "ambiguous_24h": 0,
        "failed_24h": 0,
        "stale_claims": 0,
        "replies_unreadable_24h": 0,
        "replies_returned": 0,
    }
    app.extensions["coursemail"].database.dispose()
    down = create_app(
        {"COURSEMAIL_INSTANCE": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}"}
    )
    response = down.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["ok"] is False
    down.extensions["coursemail"].database.dispose()


def test_healthz_reports_a_database_that_reads_but_refuses_writes(tmp_path: Path) -> None:
    """As when its disk is full (make reliability fills a real one): reads alone would say
    healthy, so every probe writes one row."""
    path = tmp_path / "coursemail.db"
    upgrade(f"sqlite:///{path}")
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    app = create_app({"COURSEMAIL_INSTANCE": str(tmp_path), "DATABASE_URL": read_only})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "readonly database" in response.get_json()["error"]
    app.extensions["coursemail"].database.dispose()


def test_a_read_only_session_never_makes_a_writer_wait(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'read.db'}"
    upgrade(url)
    database = Database(url)
    try:
        with database.session(read_only=True) as reading:
            reading.execute(select(Reader.id)).all()
            writer = sqlite3.connect(tmp_path / "read.db", timeout=0)  # fails at once if locked
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("DELETE FROM suppressions")
            writer.commit()
            writer.close()
        with database.session() as writing:
            writing.execute(select(Reader.id)).all()
            blocked = sqlite3.connect(tmp_path / "read.db", timeout=0)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                blocked.execute("BEGIN IMMEDIATE")  # a plain session holds the write lock
            blocked.close()
    finally:
        database.dispose()


def test_sqlite_writers_queue_on_a_lock_given_back_with_the_connection(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    upgrade(url)
    database = Database(url)
    other = os.open(tmp_path / "q.db.writers", os.O_RDWR | os.O_CREAT)
    try:

        def free() -> bool:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(other, fcntl.LOCK_UN)
            return True

        with database.session() as session:
            session.execute(text("DELETE FROM suppressions"))
            assert not free()  # a writer holds its place in the queue until it is done
        assert free()  # given back with the connection, right after the commit
        with database.session(read_only=True) as session:
            session.execute(select(Reader.id)).all()
            assert free()  # a reader never queues
        with pytest.raises(RuntimeError), database.session() as session:
            session.execute(text("DELETE FROM suppressions"))
            raise RuntimeError("rolled back")
        assert free()

        done: list[int] = []

        def write(n: int) -> None:
            for _ in range(20):
                with database.session() as session:
                    session.execute(text("DELETE FROM suppressions"))
            done.append(n)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(done) == [0, 1, 2, 3]  # threads queue too, and nobody is left waiting
    finally:
        os.close(other)
        database.dispose()
