"""Join link revocations at the same moment, on PostgreSQL (where two write transactions run
at once): the per-session bound (MAX_LINK_REVOCATIONS) is counted under the session's row
lock, so a burst of simultaneous revocations stops at the bound like a loop does."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from server import session_call
from server.localservers import fresh_database
from server.session_call import MAX_LINK_REVOCATIONS
from server.sessions import SessionError
from server.store.models import AuditEntry, RecordingSession
from tests.conftest import make_settings, serving
from tests.review_fixtures import build_session

EXTRA = 5


async def test_simultaneous_revocations_stop_at_the_bound(pg_admin: str, tmp_path: Path) -> None:
    url = await fresh_database(pg_admin)
    async with serving(make_settings(tmp_path, database_url=url)) as srv:
        built = await build_session(srv.ctx)
        async with srv.ctx.db.read() as s:
            row = await s.get(RecordingSession, built.id)
        assert row is not None
        results = await asyncio.gather(
            *(
                session_call.revoke_join_link(srv.ctx, row, "user:sales1")
                for _ in range(MAX_LINK_REVOCATIONS + EXTRA)
            ),
            return_exceptions=True,
        )
        refused = [r for r in results if r is not None]
        assert len(refused) == EXTRA, results
        assert all(
            isinstance(r, SessionError) and r.code == "too_many_revocations" for r in refused
        )
        async with srv.ctx.db.read() as s:
            done = await s.scalar(
                select(func.count(AuditEntry.seq)).where(
                    AuditEntry.session_id == built.id, AuditEntry.action == "join_link.revoke"
                )
            )
        assert done == MAX_LINK_REVOCATIONS
