"""More than one course: the course a reader asked for on a form, taken when they confirm
(a reader new to us, or one already taking another course and asked to join this one), and
the course each confirmation or note is about (its link confirms that one).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("pending_course", sa.String(64)))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("course", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("course")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("pending_course")
