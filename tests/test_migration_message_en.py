"""Migration 0004 on SQLite and PostgreSQL: a finding's English message, kept by earlier
versions under ``_message_en`` in its evidence JSON, moves into the ``message_en`` column
(and back on downgrade); findings without one keep their evidence as it was."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from server.localservers import fresh_database
from server.store.db import alembic_config, upgrade
from server.store.types import UTCDateTime, utcnow

BEFORE = "0003_media_nodes"
REVISION = "0004_finding_message_en"

# The tables as they were at 0003, only the columns without a server default.
_users = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("username", sa.String()),
    sa.column("role", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("display_name", sa.String()),
    sa.column("institution", sa.String()),
    sa.column("qualified_remote", sa.Boolean()),
    sa.column("disabled", sa.Boolean()),
    sa.column("created_at", UTCDateTime()),
)
_sessions = sa.table(
    "recording_sessions",
    *(
        sa.column(name, sa.String())
        for name in (
            "id",
            "customer_name",
            "customer_id_number",
            "product_name",
            "product_type",
            "template_id",
            "status",
            "inspection_status",
            "review_status",
            "join_nonce",
        )
    ),
    sa.column("salesperson_id", sa.Integer()),
    sa.column("policy", sa.JSON()),
    sa.column("finding_count", sa.Integer()),
    sa.column("created_at", UTCDateTime()),
)
_findings = sa.table(
    "findings",
    sa.column("id", sa.Integer()),
    sa.column("session_id", sa.String()),
    sa.column("code", sa.String()),
    sa.column("severity", sa.String()),
    sa.column("message", sa.Text()),
    sa.column("evidence", sa.JSON()),
    sa.column("review_state", sa.String()),
    sa.column("review_comment", sa.Text()),
)

OLD_EVIDENCE = {"rule": "R12", "_message_en": "The customer left", "threshold": {"s": 3}}
PLAIN_EVIDENCE = {"rule": "R7", "note": "_message_en is only a key name here"}


def _old_rows(conn: sa.Connection) -> None:
    now = utcnow()
    conn.execute(
        _users.insert().values(
            id=1,
            username="sales1",
            role="salesperson",
            password_hash="x",
            display_name="",
            institution="",
            qualified_remote=True,
            disabled=False,
            created_at=now,
        )
    )
    conn.execute(
        _sessions.insert().values(
            id="s-0000000000000001",
            customer_name="李明华",
            customer_id_number="11010519491231002X",
            product_name="安康定期寿险",
            product_type="traditional",
            template_id="traditional_life",
            status="ended",
            inspection_status="done",
            review_status="queued",
            join_nonce="n",
            salesperson_id=1,
            policy={},
            finding_count=2,
            created_at=now,
        )
    )
    for fid, evidence in ((1, OLD_EVIDENCE), (2, PLAIN_EVIDENCE)):
        conn.execute(
            _findings.insert().values(
                id=fid,
                session_id="s-0000000000000001",
                code="face.absent",
                severity="fail",
                message="客户离开画面",
                evidence=evidence,
                review_state="open",
                review_comment="",
            )
        )


def _read(conn: sa.Connection, with_column: bool) -> dict[int, tuple[Any, ...]]:
    cols = [_findings.c.id, _findings.c.evidence]
    if with_column:
        cols.append(sa.column("message_en", sa.Text()))
    rows = conn.execute(sa.select(*cols).select_from(_findings)).all()
    return {int(r[0]): tuple(r[1:]) for r in rows}


async def _check(url: str) -> None:
    await asyncio.to_thread(upgrade, url, BEFORE)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_old_rows)
        await asyncio.to_thread(upgrade, url, REVISION)
        async with engine.connect() as conn:
            after = await conn.run_sync(_read, True)
        assert after[1] == ({"rule": "R12", "threshold": {"s": 3}}, "The customer left")
        assert after[2] == (PLAIN_EVIDENCE, None)
        await asyncio.to_thread(command.downgrade, alembic_config(url), BEFORE)
        async with engine.connect() as conn:
            back = await conn.run_sync(_read, False)
        assert back == {1: (OLD_EVIDENCE,), 2: (PLAIN_EVIDENCE,)}
    finally:
        await engine.dispose()


async def test_sqlite_moves_message_en_into_its_column(tmp_path: Path) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path / 'kesu.db'}")


async def test_postgres_moves_message_en_into_its_column(pg_admin: str) -> None:
    await _check(await fresh_database(pg_admin))
