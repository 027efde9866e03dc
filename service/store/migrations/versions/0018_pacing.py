"""Pacing: course email held back in the database (all of it after too many complaints, or
one receiving provider's for an hour after a policy refusal), which provider receives each
domain's mail, and an index on when each email went (pacing counts the last minute and day).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sending_holds",
        sa.Column("scope", sa.String(255), primary_key=True),
        sa.Column("until", sa.DateTime()),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("alerted_at", sa.DateTime()),
    )
    op.create_table(
        "receiving_domains",
        sa.Column("domain", sa.String(255), primary_key=True),
        sa.Column("provider", sa.String(255), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_deliveries_sent_at", "deliveries", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_sent_at", table_name="deliveries")
    op.drop_table("receiving_domains")
    op.drop_table("sending_holds")
