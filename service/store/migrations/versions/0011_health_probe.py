"""One row /healthz writes on every probe: a database that answers reads but refuses writes
(its disk full, a read-only failover) is not healthy, and only a write shows it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "health_probe",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("written_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("health_probe")
