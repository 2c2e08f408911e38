"""A session cut by a crash that nobody resumes is ended by the system and inspected."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from server import housekeeping
from server.session_dir import SessionDir
from server.session_format import iso_z
from server.store.models import AuditEntry, Job, RecordingSession
from tests.conftest import RunningServer
from tests.test_api_recording import open_session


async def _jobs(srv: RunningServer, sid: str) -> list[str]:
    async with srv.ctx.db.session() as db:
        jobs = (await db.execute(select(Job))).scalars()
        return sorted(j.kind for j in jobs if j.payload.get("session_id") == sid)


async def test_unresumed_interrupted_session_is_ended_and_queued(
    server: RunningServer, client_factory: Any
) -> None:
    sales = await client_factory("sales1")
    sid, _ = await open_session(sales)
    # What a kill -9 leaves: the row and metadata say live, a segment is still "recording".
    sdir = SessionDir(server.ctx.settings.sessions_dir / sid)
    t0 = datetime.now(UTC) - timedelta(seconds=60)
    seg = await sdir.open_segment("customer")
    await sdir.start_segment(seg, t0)
    seg.write_bytes(b"x" * 1000)
    last_write = t0 + timedelta(seconds=12)
    os.utime(seg, (last_write.timestamp(), last_write.timestamp()))
    async with server.ctx.db.session() as db:
        row = await db.get(RecordingSession, sid)
        assert row is not None
        row.status = "live"

    assert await housekeeping.recover_interrupted(server.ctx) == [sid]
    meta = sdir.metadata
    (event,) = [e for e in meta["events"] if e["type"] == "interrupted"]
    assert event["at"] == iso_z(last_write) == meta["segments"][0]["ended_at"]
    # Within the rejoin window nothing is decided yet: the participants may come back.
    await housekeeping.sweep(server.ctx)
    assert await _jobs(server, sid) == []

    server.ctx.settings = replace(server.ctx.settings, rejoin_window_s=30.0)
    for _ in range(100):
        if await _jobs(server, sid):
            break
        await asyncio.sleep(0.1)
    assert await _jobs(server, sid) == ["inspect", "review_video"]
    status, body = await sales.get(f"/api/sessions/{sid}")
    assert status == 200
    assert body["session"]["status"] == "ended"
    assert body["session"]["inspection_status"] == "queued"
    meta = sdir.metadata
    assert meta["events"][-1]["type"] == "end"
    assert meta["events"][-1]["detail"] == {"reason": "interrupted"}
    async with server.ctx.db.session() as db:
        actions = [
            (a.action, a.actor, a.detail.get("reason"))
            for a in (await db.execute(select(AuditEntry))).scalars()
            if a.session_id == sid
        ]
    assert ("session.interrupted", "system", None) in actions
    assert ("session.end", "system", "interrupted") in actions
