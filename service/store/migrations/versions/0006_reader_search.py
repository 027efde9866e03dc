"""Search readers by any part of their address or first name without reading every row:
a trigram index on each database (SQLite's FTS5 trigram table, kept by triggers; PostgreSQL's
pg_trgm GIN indexes). These are the database's own indexes, not tables the app writes, so
they are not in ``service.store.models`` (``service.desk.search`` reads them).

Should PostgreSQL refuse ``CREATE EXTENSION pg_trgm`` (a role without the right), the
migration goes on without the
indexes and the desk's search reads every row instead: slower
on a long list, never wrong.

A later migration that rebuilds ``subscribers`` on SQLite (``batch_alter_table``) must
re-create the triggers below.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

SQLITE = [
    "CREATE VIRTUAL TABLE subscriber_search USING fts5("
    "email, first_name, content='subscribers', content_rowid='id', tokenize='trigram')",
    "INSERT INTO subscriber_search(subscriber_search) VALUES ('rebuild')",
    "CREATE TRIGGER subscriber_search_insert AFTER INSERT ON subscribers BEGIN "
    "INSERT INTO subscriber_search(rowid, email, first_name) "
    "VALUES (new.id, new.email, new.first_name); END",
    "CREATE TRIGGER subscriber_search_delete AFTER DELETE ON subscribers BEGIN "
    "INSERT INTO subscriber_search(subscriber_search, rowid, email, first_name) "
    "VALUES ('delete', old.id, old.email, old.first_name); END",
    "CREATE TRIGGER subscriber_search_update AFTER UPDATE OF email, first_name ON subscribers "
    "BEGIN INSERT INTO subscriber_search(subscriber_search, rowid, email, first_name) "
    "VALUES ('delete', old.id, old.email, old.first_name); "
    "INSERT INTO subscriber_search(rowid, email, first_name) "
    "VALUES (new.id, new.email, new.first_name); END",
]
#: (the operator class is named with the extension's schema: it may live outside ours)
POSTGRES = [
    "CREATE INDEX ix_subscribers_email_trgm ON subscribers "
    'USING gin (lower(email) "{schema}".gin_trgm_ops)',
    "CREATE INDEX ix_subscribers_first_name_trgm ON subscribers "
    'USING gin (lower(first_name) "{schema}".gin_trgm_ops)',
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE:
            op.execute(statement)
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            schema = bind.scalar(
                sa.text(
                    "SELECT extnamespace::regnamespace::text FROM pg_extension "
                    "WHERE extname = 'pg_trgm'"
                )
            )
            for statement in POSTGRES:
                bind.execute(sa.text(statement.format(schema=str(schema).strip('"'))))
    except sa.exc.DBAPIError as error:
        log.warning(
            "pg_trgm could not be used (%s): the desk's search reads every row instead",
            str(error).splitlines()[0],
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS subscriber_search_{name}")
        op.execute("DROP TABLE IF EXISTS subscriber_search")
        return
    op.execute("DROP INDEX IF EXISTS ix_subscribers_first_name_trgm")
    op.execute("DROP INDEX IF EXISTS ix_subscribers_email_trgm")
