"""Consent records for each sign-up.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("ip", sa.String(45)),
        sa.Column("user_agent", sa.String(400)),
        sa.Column("form_version", sa.String(40), nullable=False),
        sa.Column("consent_text", sa.Text, nullable=False),
    )
    op.create_index("ix_consents_subscriber_id", "consents", ["subscriber_id"])


def downgrade() -> None:
    op.drop_table("consents")
