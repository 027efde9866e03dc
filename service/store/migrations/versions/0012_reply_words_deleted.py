"""When a reply's words were deleted (REPLY_RETENTION_DAYS, or an erase): the fact that a
reply came stays, without what it said.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inbound_messages", sa.Column("words_deleted_at", sa.DateTime))


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("words_deleted_at")
