"""login_failures: failed-login counters in the database, shared by every server process
(they were in each process's memory)

Revision ID: 0005_login_failures
Revises: 0004_finding_message_en
Create Date: 2026-11-30 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.store.types import UTCDateTime

revision = "0005_login_failures"
down_revision = "0004_finding_message_en"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("window_s", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", "window_s"),
    )
    op.create_index("ix_login_failures_expires_at", "login_failures", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_expires_at", table_name="login_failures")
    op.drop_table("login_failures")
