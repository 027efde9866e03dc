"""Private links: what a reader wrote, their data and erasing open only through a fresh
link emailed to them, good once for 30 minutes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "private_links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), nullable=False),
        sa.Column(
            "delivery_id", sa.Integer, sa.ForeignKey("deliveries.id"), nullable=False, unique=True
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("used_at", sa.DateTime),
    )
    op.create_index("ix_private_links_subscriber_id", "private_links", ["subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_private_links_subscriber_id", "private_links")
    op.drop_table("private_links")
