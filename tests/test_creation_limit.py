"""Sessions one user may create per hour: counted from the sessions table, so two server
instances on one database share it; a refused creation leaves no row and no directory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from server.store.models import RecordingSession
from server.store.types import utcnow
from tests.conftest import Client, add_test_users, new_session_body
from tests.test_api_auth import assert_error
from tests.test_media_nodes import start_node


async def test_hourly_limit_is_shared_and_leaves_nothing_behind(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "node-a", max_sessions_per_hour=3)
    b = await start_node(tmp_path, "node-b", max_sessions_per_hour=3)
    await add_test_users(a.ctx)
    clients = [Client(a.url), Client(b.url), Client(a.url)]
    try:
        on_a, on_b, other = clients
        for c, name in ((on_a, "sales1"), (on_b, "sales1"), (other, "sales2")):
            await c.login(name)
        for c in (on_a, on_b, on_a):  # 3 in all, over both instances
            status, body = await c.post("/api/sessions", json=new_session_body())
            assert status == 201, body
        dirs = sorted(p.name for p in a.ctx.settings.sessions_dir.iterdir())
        for c in (on_b, on_a):
            async with c.http.post(
                f"{c.base}/api/sessions",
                json=new_session_body(),
                headers={"X-CSRF-Token": c.csrf or ""},
            ) as r:
                body = await r.json()
                assert r.status == 429, body
                assert_error(body, "too_many_sessions")
                wait = int(r.headers["Retry-After"])
                assert 3590 <= wait <= 3600 and body["error"]["details"]["retry_after_s"] == wait
        # Nothing of the refused ones: no directory, no row.
        assert sorted(p.name for p in a.ctx.settings.sessions_dir.iterdir()) == dirs
        async with a.ctx.db.read() as s:
            rows = (await s.execute(select(func.count()).select_from(RecordingSession))).scalar()
        assert rows == 3
        # Another salesperson has a limit of their own.
        assert (await other.post("/api/sessions", json=new_session_body()))[0] == 201
        # An hour later (moved in the database, not waited for) sales1 may create again.
        async with a.ctx.db.session() as s:
            await s.execute(
                update(RecordingSession).values(created_at=utcnow() - timedelta(hours=1))
            )
        assert (await on_b.post("/api/sessions", json=new_session_body()))[0] == 201
    finally:
        for c in clients:
            await c.close()
        await b.runner.cleanup()
        await a.runner.cleanup()
