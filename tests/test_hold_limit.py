"""An admin's legal hold changes on one session are bounded (``retention_hold_limits``): each
is an audit entry and a write transaction, and before the bound an admin's login in a loop
(hold, release, hold...) could add them without end. Beyond the limit ``429
too_many_hold_changes`` with ``Retry-After``, the hold unchanged and no audit entry; asking
again for the hold in place is not counted; other sessions are not held back. Counted in
the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from server import retention
from server.localservers import fresh_database
from server.store.models import AuditEntry
from tests.conftest import Client, RunningServer, add_test_users, make_settings, start_server
from tests.review_fixtures import build_session
from tests.test_api_auth import assert_error

LIMIT = 4


async def _hold(admin: Client, session_id: str, hold: bool) -> tuple[int, Any, dict[str, str]]:
    async with admin.http.post(
        f"{admin.base}/api/sessions/{session_id}/hold",
        json={"hold": hold, "reason": "客户投诉 2026-001"},
        headers={"X-CSRF-Token": admin.csrf or ""},
    ) as r:
        return r.status, await r.json(), dict(r.headers)


async def _bounded(srv: RunningServer) -> None:
    admin = Client(srv.url)
    try:
        built = await build_session(srv.ctx)
        other = await build_session(srv.ctx)
        await admin.login("admin")
        for i in range(LIMIT):
            status, body, _h = await _hold(admin, built.id, i % 2 == 0)
            assert status == 200, body
        # The hold in place asked for again: a no-op, not counted, still 200.
        status, body, _h = await _hold(admin, built.id, False)
        assert status == 200 and body["hold"] is None, body
        status, body, headers = await _hold(admin, built.id, True)
        assert status == 429, body
        assert_error(body, "too_many_hold_changes")
        assert int(headers["Retry-After"]) > 0
        assert body["error"]["details"]["retry_after_s"] == int(headers["Retry-After"])
        async with srv.ctx.db.read() as s:
            assert await retention.legal_hold(s, built.id) is None
            query = select(func.count()).where(
                AuditEntry.session_id == built.id,
                AuditEntry.action.in_((retention.HOLD, retention.RELEASE)),
            )
            assert int((await s.execute(query)).scalar_one()) == LIMIT
        # Another session is not held back.
        status, body, _h = await _hold(admin, other.id, True)
        assert status == 200 and body["hold"] is not None, body
    finally:
        await admin.close()


async def test_hold_changes_are_bounded_per_admin_and_session(tmp_path: Path) -> None:
    srv = await start_server(make_settings(tmp_path, retention_hold_limits=f"{LIMIT}/hour"))
    try:
        await add_test_users(srv.ctx)
        await _bounded(srv)
    finally:
        await srv.runner.cleanup()


async def test_hold_changes_are_bounded_on_postgres(pg_admin: str, tmp_path: Path) -> None:
    url = await fresh_database(pg_admin)
    srv = await start_server(
        make_settings(tmp_path, database_url=url, retention_hold_limits=f"{LIMIT}/hour")
    )
    try:
        await add_test_users(srv.ctx)
        await _bounded(srv)
    finally:
        await srv.runner.cleanup()
