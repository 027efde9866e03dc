"""Replies: what the parse job learns about each inbound message, and webhook nonces.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NEW_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("source", sa.String(20), nullable=False, server_default="smtp"),
    sa.Column("category", sa.String(20)),
    sa.Column("address_kind", sa.String(20)),
    sa.Column("subscriber_id", sa.Integer),
    sa.Column("delivery_id", sa.Integer),
    sa.Column("dedupe_key", sa.String(64)),
    sa.Column("message_id", sa.Text),
    sa.Column("from_address", sa.String(320)),
    sa.Column("subject", sa.Text),
    sa.Column("reply_text", sa.Text),
    sa.Column("notes", sa.Text),
    sa.Column("damaged", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("crisis_reply", sa.String(20), nullable=False, server_default="none"),
    sa.Column("parsed_at", sa.DateTime),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime),
    sa.Column("forwarded_at", sa.DateTime),
    sa.Column("last_error", sa.Text),
]


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        for column in NEW_COLUMNS:
            batch.add_column(column)
        batch.create_unique_constraint("uq_inbound_dedupe_key", ["dedupe_key"])
    op.create_index("ix_inbound_messages_subscriber_id", "inbound_messages", ["subscriber_id"])
    op.create_index(
        "ix_inbound_status_next_attempt", "inbound_messages", ["status", "next_attempt_at"]
    )
    op.create_table(
        "webhook_nonces",
        sa.Column("nonce", sa.String(200), primary_key=True),
        sa.Column("seen_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_webhook_nonces_seen_at", "webhook_nonces", ["seen_at"])


def downgrade() -> None:
    op.drop_table("webhook_nonces")
    op.drop_index("ix_inbound_status_next_attempt", "inbound_messages")
    op.drop_index("ix_inbound_messages_subscriber_id", "inbound_messages")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_constraint("uq_inbound_dedupe_key", type_="unique")
        for column in reversed(NEW_COLUMNS):
            batch.drop_column(column.name)
