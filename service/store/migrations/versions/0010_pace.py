"""The reader's pace: a slower course (every wait doubled), and a pause that ends by itself.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enrollments", sa.Column("resume_at", sa.DateTime))
    op.add_column("enrollments", sa.Column("pace", sa.Integer, nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("pace")
        batch.drop_column("resume_at")
