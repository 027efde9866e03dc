"""The course engine: subscribers, enrollments, deliveries, suppressions.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    _subscribers_and_enrollments()
    _deliveries_and_suppressions()


def _subscribers_and_enrollments() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("first_name", sa.String(100)),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("unsubscribe_token", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("confirmed_at", sa.DateTime),
        sa.Column("unsubscribed_at", sa.DateTime),
    )
    op.create_index(
        "uq_subscribers_email_lower", "subscribers", [sa.text("lower(email)")], unique=True
    )
    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), nullable=False),
        sa.Column("course", sa.String(64), nullable=False),
        sa.Column("course_version", sa.Integer, nullable=False),
        sa.Column("next_step", sa.Integer, nullable=False),
        sa.Column("next_send_at", sa.DateTime),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("completed_at", sa.DateTime),
    )
    op.create_index("ix_enrollments_subscriber_id", "enrollments", ["subscriber_id"])
    op.create_index("ix_enrollments_due", "enrollments", ["status", "next_send_at"])


def _deliveries_and_suppressions() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), nullable=False),
        sa.Column("enrollment_id", sa.Integer, sa.ForeignKey("enrollments.id")),
        sa.Column("step", sa.Integer),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("claimed_at", sa.DateTime),
        sa.Column("next_attempt_at", sa.DateTime),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("enrollment_id", "step", name="uq_deliveries_enrollment_step"),
    )
    op.create_index("ix_deliveries_subscriber_id", "deliveries", ["subscriber_id"])
    op.create_index(
        "ix_deliveries_status_next_attempt", "deliveries", ["status", "next_attempt_at"]
    )
    op.create_index("ix_deliveries_status_claimed", "deliveries", ["status", "claimed_at"])
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index(
        "uq_suppressions_email_lower", "suppressions", [sa.text("lower(email)")], unique=True
    )


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_table("deliveries")
    op.drop_table("enrollments")
    op.drop_table("subscribers")
