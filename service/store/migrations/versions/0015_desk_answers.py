"""The therapist's answers, written on the desk and sent by the outbox, threaded to the
reader's message; their words sealed at rest.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_answers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("inbound_id", sa.Integer, sa.ForeignKey("inbound_messages.id"), nullable=False),
        sa.Column(
            "delivery_id", sa.Integer, sa.ForeignKey("deliveries.id"), nullable=False, unique=True
        ),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("in_reply_to", sa.Text),
        sa.Column("references", sa.Text),
        sa.Column("body", sa.Text),
        sa.Column("by_user", sa.String(100)),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_desk_answers_inbound_id", "desk_answers", ["inbound_id"])


def downgrade() -> None:
    op.drop_index("ix_desk_answers_inbound_id", "desk_answers")
    op.drop_table("desk_answers")
