"""The hour a reader chose for their emails (None: the course's send hour).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column, not batch_alter_table: rebuilding subscribers on SQLite would drop the
    # search triggers of migration 0006
    op.add_column("subscribers", sa.Column("send_hour", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("send_hour")
