"""The store on a real PostgreSQL: migrations, an intact audit chain under concurrent writers,
UTC times, and the session API on top (jobs on PostgreSQL: tests/test_jobs_pg.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC
from pathlib import Path

import asyncpg

from server import audit, audit_verify
from server.audit_keys import AuditKeys, CheckpointLog
from server.audit_trail import AuditTrail, attach
from server.localservers import fresh_database
from server.store.db import Database
from tests.conftest import (
    Client,
    add_test_users,
    make_settings,
    new_session_body,
    start_server,
)


async def test_migrations_and_chain(pg_admin: str, tmp_path: Path) -> None:
    url = await fresh_database(pg_admin)
    trail = AuditTrail(
        AuditKeys.load_or_create(tmp_path / "audit.key"),
        CheckpointLog(tmp_path / "audit-checkpoints.jsonl"),
    )
    main = Database(url)
    attach(main, trail)
    await main.migrate()
    dbs = [Database(url) for _ in range(4)]
    for d in dbs:
        attach(d, trail)  # one process, one key: every writer stamps its entries

    async def append(d: Database, n: int) -> None:
        for i in range(5):
            async with d.session() as s:
                await audit.record(s, f"writer{n}", "test.append", None, {"i": i})

    await asyncio.gather(*(append(d, n) for n, d in enumerate(dbs)))
    async with main.session() as s:
        assert await audit_verify.verify_chain(s) == []
        from sqlalchemy import select

        from server.store.models import AuditEntry

        entries = list((await s.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars())
    assert [e.seq for e in entries] == list(range(1, 21))
    assert all(e.at.tzinfo is UTC for e in entries)
    for d in [main, *dbs]:
        await d.close()


async def test_session_api_on_postgres(pg_admin: str, tmp_path: Path) -> None:
    url = await fresh_database(pg_admin)
    srv = await start_server(make_settings(tmp_path, database_url=url))
    await add_test_users(srv.ctx)
    c = Client(srv.url)
    try:
        await c.login("sales1")
        status, body = await c.post("/api/sessions", json=new_session_body())
        assert status == 201, body
        sid = body["session"]["id"]
        status, listed = await c.get("/api/sessions")
        assert [s["id"] for s in listed["sessions"]] == [sid]
        status, body = await c.post(f"/api/sessions/{sid}/end")
        assert status == 200 and body["session"]["status"] == "ended"
        assert body["session"]["ended_at"].endswith("Z")
        # Ending queued the session's jobs on procrastinate, under the session's lock.
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            rows = await conn.fetch("SELECT task_name, lock, status, args FROM procrastinate_jobs")
        finally:
            await conn.close()
        assert {(r["task_name"], r["lock"], r["status"]) for r in rows} == {
            ("kesu.job", f"session:{sid}", "todo")
        }
        assert "inspect" in {json.loads(r["args"])["kind"] for r in rows}
    finally:
        await c.close()
        await srv.runner.cleanup()
