"""Migration 0005 on SQLite and PostgreSQL: the ``login_failures`` table appears with its
primary key and expiry index, takes counts, and goes away again on downgrade."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from server.localservers import fresh_database
from server.login_failures import Window, failed, refusal
from server.store.db import alembic_config, upgrade
from server.store.types import utcnow

BEFORE = "0004_finding_message_en"
REVISION = "0005_login_failures"
LIMITS = {"account": (Window(60, 2),), "address": (Window(60, 10),)}
IDENTS = {"account": "alice", "address": "192.0.2.7"}


def _tables(conn: sa.Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def _indexes(conn: sa.Connection) -> set[str]:
    return {str(i["name"]) for i in sa.inspect(conn).get_indexes("login_failures")}


def _use(conn: sa.Connection) -> None:
    """Count failures through the module the server uses, with the migrated schema."""
    with sa.orm.Session(bind=conn) as s:
        now = utcnow()
        failed(s, LIMITS, IDENTS, 100, now, purge=True)
        assert refusal(s, LIMITS, IDENTS, 100, now) is None
        failed(s, LIMITS, IDENTS, 100, now + timedelta(seconds=1), purge=False)
        refused = refusal(s, LIMITS, IDENTS, 100, now + timedelta(seconds=1))
        assert refused is not None and refused.scope == "account"
        s.flush()


def _duplicate(conn: sa.Connection) -> None:
    table = sa.table(
        "login_failures",
        *(sa.column(c) for c in ("scope", "key", "window_s", "count", "expires_at")),
    )
    row = {"scope": "account", "key": "alice", "window_s": 60, "count": 1, "expires_at": utcnow()}
    conn.execute(table.insert().values(**row))


async def _check(url: str) -> None:
    await asyncio.to_thread(upgrade, url, BEFORE)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            assert "login_failures" not in await conn.run_sync(_tables)
        await asyncio.to_thread(upgrade, url, REVISION)
        async with engine.begin() as conn:
            assert "login_failures" in await conn.run_sync(_tables)
            assert "ix_login_failures_expires_at" in await conn.run_sync(_indexes)
            await conn.run_sync(_use)
        with pytest.raises(IntegrityError):  # (scope, key, window_s) is the primary key
            async with engine.begin() as conn:
                await conn.run_sync(_duplicate)
        await asyncio.to_thread(command.downgrade, alembic_config(url), BEFORE)
        async with engine.connect() as conn:
            assert "login_failures" not in await conn.run_sync(_tables)
        await asyncio.to_thread(upgrade, url, REVISION)  # and up again, from a downgrade
    finally:
        await engine.dispose()


async def test_sqlite_login_failures_up_and_down(tmp_path: Path) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path / 'kesu.db'}")


async def test_postgres_login_failures_up_and_down(pg_admin: str) -> None:
    await _check(await fresh_database(pg_admin))
