"""A name and time zone typed on the form for a reader we already hold wait for the reader's
confirmation (anyone can type an address): they no longer overwrite what the reader gave.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as table:
        table.add_column(sa.Column("pending_first_name", sa.String(100)))
        table.add_column(sa.Column("pending_timezone", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as table:
        table.drop_column("pending_timezone")
        table.drop_column("pending_first_name")
