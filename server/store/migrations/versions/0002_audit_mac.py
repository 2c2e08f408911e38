"""audit entries carry an HMAC under the audit key

Revision ID: 0002_audit_mac
Revises: 0001
Create Date: 2026-11-29 20:45:00

Existing entries keep ``mac`` NULL: they were written before the key existed and are
reported by ``kesu audit verify`` as legacy (hash-chained only), up to the ``keyed_from``
recorded in the first signed checkpoint. See docs/audit.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_audit_mac"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("mac")
