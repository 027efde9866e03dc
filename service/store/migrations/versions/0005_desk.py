"""The therapist's desk: pausing a course, erasing a reader, replies marked handled, the
record of what was done to a reader, and the overview's refreshed figures.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime))
    op.create_index("ix_subscribers_created_at", "subscribers", ["created_at"])
    op.create_index(
        "ix_subscribers_first_name_lower", "subscribers", [sa.text("lower(first_name)")]
    )
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(sa.Column("paused_at", sa.DateTime))
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("handled_at", sa.DateTime))
    op.create_table(
        "reader_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_reader_events_subscriber_id", "reader_events", ["subscriber_id"])
    op.create_table(
        "desk_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("taken_at", sa.DateTime, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("desk_snapshots")
    op.drop_table("reader_events")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("handled_at")
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("paused_at")
    op.drop_index("ix_subscribers_first_name_lower", "subscribers")
    op.drop_index("ix_subscribers_created_at", "subscribers")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("erased_at")
