"""The hand-written migrations build exactly the tables the models describe."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from service.models import Base


def test_migrations_and_models_agree(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection, warnings.catch_warnings():
            # expression indexes (lower(email)) cannot be reflected on SQLite: alembic says so
            warnings.simplefilter("ignore")
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
