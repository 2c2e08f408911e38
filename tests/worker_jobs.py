"""Set-up shared by the tests that run a ``JobRunner`` by hand on a session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
