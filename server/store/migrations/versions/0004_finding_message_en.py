"""findings.message_en: the finding's English message in a column of its own (it was kept
under the key ``_message_en`` of the evidence JSON); old rows' key moved into the column

Revision ID: 0004_finding_message_en
Revises: 0003_media_nodes
Create Date: 2026-11-30 03:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004_finding_message_en"
down_revision = "0003_media_nodes"
branch_labels = None
depends_on = None

#: Where earlier versions kept the English message.
OLD_KEY = "_message_en"

_findings = sa.table(
    "findings",
    sa.column("id", sa.Integer()),
    sa.column("evidence", sa.JSON()),
    sa.column("message_en", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_en", sa.Text(), nullable=True))
    conn = op.get_bind()
    # Only rows whose JSON text mentions the key are read (LIKE's "_" matches any character:
    # a superset, checked again below). Cast, since PostgreSQL's json has no LIKE.
    rows = conn.execute(
        sa.select(_findings.c.id, _findings.c.evidence).where(
            sa.cast(_findings.c.evidence, sa.Text()).like(f"%{OLD_KEY}%")
        )
    ).all()
    for fid, evidence in rows:
        if not isinstance(evidence, dict) or OLD_KEY not in evidence:
            continue
        text = evidence.pop(OLD_KEY)
        conn.execute(
            _findings.update()
            .where(_findings.c.id == fid)
            .values(evidence=evidence, message_en=text if isinstance(text, str) else None)
        )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_findings.c.id, _findings.c.evidence, _findings.c.message_en).where(
            _findings.c.message_en.is_not(None)
        )
    ).all()
    for fid, evidence, text in rows:
        moved: dict[str, Any] = {**(evidence or {}), OLD_KEY: text}
        conn.execute(_findings.update().where(_findings.c.id == fid).values(evidence=moved))
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_column("message_en")
