"""What a browser holds open is held on the server, so ending it ends it: the desk's second
sign-in step is a pending session row (its tries counted there, ended with the account's
other sessions), a code being set up waits sealed on the account, the last time step a code
was used is kept (a code works once), and a reader's opened private page is the link's row
(closing it closes it for a copied cookie too).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ALTERs, no batch: a batch reflects desk_users (desk_sessions refers to it) and
    # SQLAlchemy cannot reflect its expression index
    op.add_column(
        "desk_sessions",
        sa.Column("pending", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "desk_sessions", sa.Column("code_tries", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("desk_users", sa.Column("totp_pending", sa.Text()))
    op.add_column("desk_users", sa.Column("totp_last_step", sa.BigInteger()))
    op.add_column("private_links", sa.Column("closed_at", sa.DateTime()))


def downgrade() -> None:
    # (SQLite 3.35 and later drop columns without a batch)
    op.drop_column("private_links", "closed_at")
    op.drop_column("desk_users", "totp_last_step")
    op.drop_column("desk_users", "totp_pending")
    op.drop_column("desk_sessions", "code_tries")
    op.drop_column("desk_sessions", "pending")
