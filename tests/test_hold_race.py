"""Concurrent legal hold changes on one session: each real change is one audit entry. The
hold lives in the audit chain, so ``set_hold`` reads the newest hold entry and appends the
next; without a lock on the session row two admins asking at once (on PostgreSQL, where
writers do not queue) both read "no hold" and both write a ``retention.hold``. SQLite's
writers take the write lock (BEGIN IMMEDIATE) before the read, checked here too."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from server import retention
from server.localservers import fresh_database
from server.store.models import AuditEntry, RecordingSession, User
from server.store.types import utcnow
from tests.conftest import RunningServer, make_settings, serving
from tests.review_fixtures import build_session

CONCURRENT = 6


async def _one_change_each(srv: RunningServer) -> None:
    built = await build_session(srv.ctx)
    async with srv.ctx.db.read() as s:
        admin = (await s.execute(select(User).where(User.username == "admin"))).scalar_one()

    async def flip(hold: bool) -> None:
        await retention.set_hold(srv.ctx, built.id, admin, hold, "客户投诉 2026-001")

    for hold in (True, False, True):
        await asyncio.gather(*(flip(hold) for _ in range(CONCURRENT)))
    async with srv.ctx.db.read() as s:
        actions = (
            (
                await s.execute(
                    select(AuditEntry.action)
                    .where(
                        AuditEntry.session_id == built.id,
                        AuditEntry.action.in_((retention.HOLD, retention.RELEASE)),
                    )
                    .order_by(AuditEntry.seq)
                )
            )
            .scalars()
            .all()
        )
        assert await retention.legal_hold(s, built.id) is not None
    # Three real changes, each written once however many admins asked at the same time.
    assert actions == [retention.HOLD, retention.RELEASE, retention.HOLD]


async def test_concurrent_hold_changes_write_once_sqlite(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path, retention_hold_limits="1000/hour")) as srv:
        await _one_change_each(srv)


async def test_concurrent_hold_changes_write_once_postgres(pg_admin: str, tmp_path: Path) -> None:
    url = await fresh_database(pg_admin)
    settings = make_settings(tmp_path, database_url=url, retention_hold_limits="1000/hour")
    async with serving(settings) as srv:
        await _one_change_each(srv)


async def _hold_against_delete(srv: RunningServer) -> None:
    """A hold placed while the session is being deleted: one of them wins, never both (a
    session deleted under a hold, whose hold entry came after the check for one)."""
    built = await build_session(srv.ctx)
    async with srv.ctx.db.session() as s:
        row = await s.get(RecordingSession, built.id)
        assert row is not None
        row.retain_until = utcnow().date() - timedelta(days=1)  # the server's day (UTC)
    async with srv.ctx.db.read() as s:
        admin = (await s.execute(select(User).where(User.username == "admin"))).scalar_one()
    results = await asyncio.gather(
        retention.delete_session(srv.ctx, built.id, admin),
        retention.set_hold(srv.ctx, built.id, admin, True, "客户投诉 2026-001"),
        return_exceptions=True,
    )
    deleted, held = (not isinstance(r, BaseException) for r in results)
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, retention.RetentionError) for r in refused), refused
    assert deleted != held, results
    async with srv.ctx.db.read() as s:
        row = await s.get(RecordingSession, built.id)
        assert row is not None
        assert (row.deleted_at is not None) == deleted
        assert (await retention.legal_hold(s, built.id) is not None) == held
    assert built.file("customer-000.mkv").is_file() == held


async def test_hold_against_delete_sqlite(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path)) as srv:
        await _hold_against_delete(srv)


async def test_hold_against_delete_postgres(pg_admin: str, tmp_path: Path) -> None:
    url = await fresh_database(pg_admin)
    async with serving(make_settings(tmp_path, database_url=url)) as srv:
        await _hold_against_delete(srv)
