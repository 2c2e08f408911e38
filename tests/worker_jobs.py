"""Set-up shared by the tests that run a ``JobRunner`` by hand on a session, or check what
the housekeeping sweep queues."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import select

from server import housekeeping
from server.session_dir import SessionDir
from server.store.models import AuditEntry, Job, RecordingSession
from tests.conftest import Client, RunningServer
from tests.test_api_recording import open_session


async def no_progress(stage: str, fraction: float) -> None:
    return None


async def ended_session(url: str) -> str:
    """A session salesperson ``sales1`` opened and ended at once (nothing recorded): its
    inspection is ``queued``. Returns its id."""
    sales = Client(url)
    try:
        await sales.login("sales1")
        sid, _token = await open_session(sales)
        status, body = await sales.post(f"/api/sessions/{sid}/end")
        assert status == 200 and body["session"]["inspection_status"] == "queued", body
    finally:
        await sales.close()
    return sid


async def not_uploaded_yet(srv: RunningServer, archive: Path, sid: str) -> None:
    """Make the ended session ``sid`` look as if its node had not finished uploading it to
    the object store at ``archive`` (a local directory, ``storage_url`` ``file://``): the
    stored metadata.json says ``live``, the local copy is gone."""
    assert srv.ctx.archive is not None
    await srv.ctx.archive.sync(sid)
    stored = archive / "sessions" / sid / "metadata.json"
    meta = json.loads(stored.read_text())
    stored.write_text(json.dumps({**meta, "status": "live"}))
    shutil.rmtree(srv.ctx.settings.sessions_dir / sid)


async def record_a_segment(srv: RunningServer, sid: str) -> SessionDir:
    """A closed ``salesperson`` segment in session ``sid`` (something to inspect)."""
    sdir = SessionDir(srv.ctx.settings.sessions_dir / sid)
    seg = await sdir.open_segment("salesperson")
    seg.write_bytes(b"recorded media")
    await sdir.close_segment(seg)
    return sdir


async def swept_twice(
    srv: RunningServer, sid: str, action: str
) -> tuple[RecordingSession, list[str], list[AuditEntry]]:
    """Two housekeeping sweeps (what the first does, the second must not do again); then the
    session's row, the kinds of all jobs, and the session's ``action`` audit entries."""
    await housekeeping.sweep(srv.ctx)
    await housekeeping.sweep(srv.ctx)
    entries = select(AuditEntry).where(AuditEntry.session_id == sid, AuditEntry.action == action)
    async with srv.ctx.db.read() as s:
        row = await s.get(RecordingSession, sid)
        jobs = [j.kind for j in (await s.execute(select(Job))).scalars()]
        found = list((await s.execute(entries)).scalars())
    assert row is not None
    return row, jobs, found
