"""Apply the Alembic migrations shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from service.store.db import Database, private_file, sqlite_file

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would read a '%' in a password as a placeholder
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    path = sqlite_file(database_url)
    if path is not None:
        private_file(path)  # readers' records: created readable by this user alone
    command.upgrade(alembic_config(database_url), revision)


def behind(database: Database) -> str | None:
    """Why the database is not ready for this code (no tables yet, or an older revision), or
    None when it is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config(database.url)).get_current_head()
    with database.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return None
    if current is None:
        return "it has no tables yet"
    return f"it is at migration {current}, and this version needs {head}"
