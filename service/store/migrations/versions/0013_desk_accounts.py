"""The desk's own accounts (argon2 passwords, an optional second factor), its sessions kept
server-side (so signing out ends them for good), and its audit log.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("totp_secret", sa.Text),
        sa.Column("recovery_codes", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("password_changed_at", sa.DateTime),
    )
    op.create_index("uq_desk_users_name_lower", "desk_users", [sa.text("lower(name)")], unique=True)
    op.create_table(
        "desk_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("desk_users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("seen_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
    )
    op.create_index("ix_desk_sessions_user_id", "desk_sessions", ["user_id"])
    op.create_table(
        "desk_audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("user_name", sa.String(100)),
        sa.Column("ip", sa.String(45)),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_desk_audit_at", "desk_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_desk_audit_at", "desk_audit")
    op.drop_table("desk_audit")
    op.drop_index("ix_desk_sessions_user_id", "desk_sessions")
    op.drop_table("desk_sessions")
    op.drop_index("uq_desk_users_name_lower", "desk_users")
    op.drop_table("desk_users")
