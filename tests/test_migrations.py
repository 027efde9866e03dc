"""The hand-written migrations build exactly the tables the models describe."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from service.store.models import Base


def test_migrations_and_models_agree(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection, warnings.catch_warnings():
            # expression indexes (lower(email)) cannot be reflected on SQLite: alembic says so
            warnings.simplefilter("ignore")
            context = MigrationContext.configure(connection, opts={"include_name": _ours})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def _ours(name: str | None, kind: str, _parents: object) -> bool:
    """The search indexes are the database's own (migration 0006), not in the models."""
    return not (name or "").startswith(
        ("subscriber_search", "ix_subscribers_email_trgm", "ix_subscribers_first_name_trgm")
    )
