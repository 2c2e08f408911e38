"""recording_sessions.institution: the salesperson's institution when the session was made,
so reviewers of an institution see and act on only its sessions

Existing sessions take the institution stamped in their policy at creation (what the
customer heard), else their salesperson's current one.

Revision ID: 0006_session_institution
Revises: 0005_login_failures
Create Date: 2026-12-01 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_session_institution"
down_revision = "0005_login_failures"
branch_labels = None
depends_on = None

_sessions = sa.table(
    "recording_sessions",
    sa.column("id", sa.String()),
    sa.column("salesperson_id", sa.Integer()),
    sa.column("policy", sa.JSON()),
    sa.column("institution", sa.String()),
)
_users = sa.table("users", sa.column("id", sa.Integer()), sa.column("institution", sa.String()))


def upgrade() -> None:
    with op.batch_alter_table("recording_sessions") as batch:
        batch.add_column(
            sa.Column("institution", sa.String(length=128), nullable=False, server_default="")
        )
        batch.create_index("ix_recording_sessions_institution", ["institution"])
    conn = op.get_bind()
    of_user = {
        int(i): str(n or "") for i, n in conn.execute(sa.select(_users.c.id, _users.c.institution))
    }
    rows = conn.execute(sa.select(_sessions.c.id, _sessions.c.salesperson_id, _sessions.c.policy))
    values = []
    for sid, salesperson, policy in rows.all():
        stamped = policy.get("institution") if isinstance(policy, dict) else None
        name = stamped if isinstance(stamped, str) else of_user.get(int(salesperson), "")
        if name:
            values.append({"sid": sid, "name": name[:128]})
    if values:
        conn.execute(
            _sessions.update()
            .where(_sessions.c.id == sa.bindparam("sid"))
            .values(institution=sa.bindparam("name")),
            values,
        )


def downgrade() -> None:
    with op.batch_alter_table("recording_sessions") as batch:
        batch.drop_index("ix_recording_sessions_institution")
        batch.drop_column("institution")
