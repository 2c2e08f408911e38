"""media nodes: a heartbeat row per `kesu serve`, and which node holds each session's room

Revision ID: 0003_media_nodes
Revises: 0002_audit_mac
Create Date: 2026-11-29 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.store.types import UTCDateTime

revision = "0003_media_nodes"
down_revision = "0002_audit_mac"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_nodes",
        sa.Column("id", sa.String(length=128), primary_key=True),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("live_rooms", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("recording_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node_id", sa.String(length=128), nullable=True))
        batch_op.create_index("ix_recording_sessions_node_id", ["node_id"])


def downgrade() -> None:
    with op.batch_alter_table("recording_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_recording_sessions_node_id")
        batch_op.drop_column("node_id")
    op.drop_table("media_nodes")
