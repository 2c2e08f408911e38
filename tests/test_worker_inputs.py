"""An inspection whose session files are gone (a lost disk, a directory removed by hand)
fails at once, and the session says so: ``inspection_status`` ``failed``, not ``queued``
for good, so reviewers and admins see it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server.jobs import JobInfo, PermanentJobError
from server.store.models import RecordingSession
from server.worker import JobRunner
from tests.conftest import make_settings, serving
from tests.worker_jobs import ended_session, no_progress


async def test_an_inspection_without_its_files_fails_visibly(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path)) as srv:
        sid = await ended_session(srv.url)
        shutil.rmtree(srv.ctx.settings.sessions_dir / sid)
        runner = JobRunner(srv.ctx)
        try:
            with pytest.raises(PermanentJobError, match="not found"):
                await runner.inspect(JobInfo(1, "inspect", {"session_id": sid}, 1), no_progress)
        finally:
            await runner.close()
        async with srv.ctx.db.read() as s:
            row = await s.get(RecordingSession, sid)
        assert row is not None and row.inspection_status == "failed"
