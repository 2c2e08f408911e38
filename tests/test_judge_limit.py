"""A reviewer's finding judgements on one session are bounded (``review_judge_limits``):
each is an audit entry and a write transaction, and before the bound a reviewer's login in a
loop (confirm, reopen, confirm...) could add them without end. Beyond the limit ``429
too_many_judgements`` with ``Retry-After``, the finding unchanged and no audit entry; other
reviewers and other sessions are not held back. Counted in the database (SQLite and
PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from server.localservers import fresh_database
from server.store.models import AuditEntry, FindingRow
from tests.conftest import Client, RunningServer, add_test_users, make_settings, start_server
from tests.review_fixtures import build_session
from tests.test_api_auth import assert_error

LIMIT = 4


async def _judge(rev: Client, fid: int, state: str) -> tuple[int, Any, dict[str, str]]:
    async with rev.http.post(
        f"{rev.base}/api/review/findings/{fid}",
        json={"state": state, "comment": "看过录像"},
        headers={"X-CSRF-Token": rev.csrf or ""},
    ) as r:
        return r.status, await r.json(), dict(r.headers)


async def _judgements(server: RunningServer, session_id: str) -> int:
    async with server.ctx.db.read() as s:
        query = select(func.count()).where(
            AuditEntry.session_id == session_id, AuditEntry.action == "finding.judge"
        )
        return int((await s.execute(query)).scalar_one())


async def _bounded(server: RunningServer) -> None:
    built = await build_session(server.ctx)
    other = await build_session(server.ctx)
    rev1, rev2 = Client(server.url), Client(server.url)
    try:
        await rev1.login("rev1")
        await rev2.login("rev2")
        fid = built.finding_ids[0]
        states = ["confirmed", "open"] * LIMIT
        for state in states[:LIMIT]:
            status, body, _h = await _judge(rev1, fid, state)
            assert status == 200, body
        status, body, headers = await _judge(rev1, fid, "dismissed")
        assert status == 429, body
        assert_error(body, "too_many_judgements")
        assert int(headers["Retry-After"]) > 0
        assert body["error"]["details"]["retry_after_s"] == int(headers["Retry-After"])
        async with server.ctx.db.read() as s:
            row = await s.get(FindingRow, fid)
            assert row is not None and row.review_state == states[LIMIT - 1]
        assert await _judgements(server, built.id) == LIMIT
        # Another reviewer on the session, the same reviewer on another session: not held.
        status, body, _h = await _judge(rev2, fid, "confirmed")
        assert status == 200, body
        status, body, _h = await _judge(rev1, other.finding_ids[0], "confirmed")
        assert status == 200, body
        # A refused bad request does not count (nothing to bound: it writes nothing new).
        status, body, _h = await _judge(rev2, fid, "maybe")
        assert status == 400, body
    finally:
        await rev1.close()
        await rev2.close()


async def test_judgements_are_bounded_per_reviewer_and_session(tmp_path: Path) -> None:
    srv = await start_server(make_settings(tmp_path, review_judge_limits=f"{LIMIT}/hour"))
    try:
        await add_test_users(srv.ctx)
        await _bounded(srv)
    finally:
        await srv.runner.cleanup()


async def test_judgements_are_bounded_on_postgres(pg_admin: str, tmp_path: Path) -> None:
    url = await fresh_database(pg_admin)
    srv = await start_server(
        make_settings(tmp_path, database_url=url, review_judge_limits=f"{LIMIT}/hour")
    )
    try:
        await add_test_users(srv.ctx)
        await _bounded(srv)
    finally:
        await srv.runner.cleanup()
