"""A reader may ask for discretion: nothing in their inbox names the course.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column, not batch_alter_table: rebuilding subscribers on SQLite would drop the
    # search triggers of migration 0006
    op.add_column(
        "subscribers",
        sa.Column("discreet", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("discreet")
