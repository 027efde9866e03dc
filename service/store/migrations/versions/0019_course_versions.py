"""Course versions: each publish of a course's files, so the therapist can change her words
on the desk (and by import) without a developer; every enrollment's course_version names one.
And the desk's drafts: what she is writing, saved as she types, until she publishes it.
A fresh or upgraded install gets version 1 of each course shipped in the package, exactly as
its files are written (the version enrollments made so far recorded).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "course_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("published_by", sa.String(100), nullable=False),
        sa.UniqueConstraint("slug", "number", name="uq_course_versions_slug_number"),
    )
    from service.courses.versions import packaged_rows

    rows = packaged_rows(datetime.now(UTC).replace(tzinfo=None))  # (a plain DateTime column)
    op.bulk_insert(table, rows)
    op.create_table(
        "course_drafts",
        sa.Column("slug", sa.String(64), primary_key=True),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("revisions", sa.Text(), nullable=False),
        sa.Column("base_number", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("course_drafts")
    op.drop_table("course_versions")
