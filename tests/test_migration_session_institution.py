"""Migration 0006 on SQLite and PostgreSQL: existing sessions get the institution stamped
in their policy at creation, else their salesperson's; the column goes away on downgrade.
(Failed before the migration existed: no such revision.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from server.localservers import fresh_database
from server.store.db import alembic_config, upgrade
from server.store.types import utcnow
from tests.test_migration_message_en import _sessions, _users

BEFORE = "0005_login_failures"
REVISION = "0006_session_institution"
# session id -> (salesperson id, policy)
OLD = {
    "s-0000000000000001": (1, {"institution": "甲保险", "customer_name": "李明华"}),
    "s-0000000000000002": (1, {}),  # made before the policy kept the institution
    "s-0000000000000003": (2, {}),  # a salesperson without an institution
}


def _old_rows(conn: sa.Connection) -> None:
    now = utcnow()
    for uid, name, institution in ((1, "sales1", "乙银行"), (2, "sales2", "")):
        conn.execute(
            _users.insert().values(
                id=uid,
                username=name,
                role="salesperson",
                password_hash="x",
                display_name="",
                institution=institution,
                qualified_remote=True,
                disabled=False,
                created_at=now,
            )
        )
    for sid, (uid, policy) in OLD.items():
        conn.execute(
            _sessions.insert().values(
                id=sid,
                customer_name="李明华",
                customer_id_number="11010519491231002X",
                product_name="安康定期寿险",
                product_type="traditional",
                template_id="traditional_life",
                status="ended",
                inspection_status="done",
                review_status="queued",
                join_nonce="n",
                salesperson_id=uid,
                policy=policy,
                finding_count=0,
                created_at=now,
            )
        )


def _institutions(conn: sa.Connection) -> dict[str, str]:
    rows = conn.execute(sa.text("SELECT id, institution FROM recording_sessions"))
    return {str(sid): str(name) for sid, name in rows.all()}


def _columns(conn: sa.Connection) -> set[str]:
    return {c["name"] for c in sa.inspect(conn).get_columns("recording_sessions")}


async def _check(url: str) -> None:
    await asyncio.to_thread(upgrade, url, BEFORE)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_old_rows)
        await asyncio.to_thread(upgrade, url, REVISION)
        async with engine.connect() as conn:
            assert await conn.run_sync(_institutions) == {
                "s-0000000000000001": "甲保险",
                "s-0000000000000002": "乙银行",
                "s-0000000000000003": "",
            }
        await asyncio.to_thread(command.downgrade, alembic_config(url), BEFORE)
        async with engine.connect() as conn:
            assert "institution" not in await conn.run_sync(_columns)
        await asyncio.to_thread(upgrade, url, REVISION)  # and up again
        async with engine.connect() as conn:
            assert (await conn.run_sync(_institutions))["s-0000000000000002"] == "乙银行"
    finally:
        await engine.dispose()


async def test_sqlite_sessions_take_their_institution(tmp_path: Path) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path / 'kesu.db'}")


async def test_postgres_sessions_take_their_institution(pg_admin: str) -> None:
    await _check(await fresh_database(pg_admin))
