"""An inspection whose session files are gone (a lost disk, a directory removed by hand)
fails at once, and the session says so: ``inspection_status`` ``failed``, not ``queued``
for good, so reviewers and admins see it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server import worker
from server.archive import ArchiveIncomplete
from server.jobs import JobInfo, PermanentJobError
from server.store.models import RecordingSession
from server.worker import JobRunner
from tests.conftest import make_settings, serving
from tests.worker_jobs import ended_session, no_progress, not_uploaded_yet


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


@pytest.mark.parametrize(("attempt", "status"), [(1, "queued"), (3, "failed")])
async def test_a_session_not_yet_in_the_store_keeps_its_status_between_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attempt: int, status: str
) -> None:
    """With object storage, a job may run before the node has finished uploading the session
    (here: its stored metadata.json says ``live``, the local copy is gone). That attempt fails
    and the queue retries it; meanwhile the session stays ``queued``, not ``failed``, which
    reviewers took for the end of it. The last attempt (``job_max_attempts``, 3) fails it."""
    archive = tmp_path / "archive"
    archive.mkdir()
    async with serving(make_settings(tmp_path, storage_url=archive.as_uri())) as srv:
        assert srv.ctx.archive is not None
        sid = await ended_session(srv.url)
        await not_uploaded_yet(srv, archive, sid)
        monkeypatch.setattr(worker, "ARCHIVE_WAIT_S", 0.2)
        runner = JobRunner(srv.ctx)
        try:
            with pytest.raises(ArchiveIncomplete):
                job = JobInfo(1, "inspect", {"session_id": sid}, attempt)
                await runner.inspect(job, no_progress)
        finally:
            await runner.close()
        async with srv.ctx.db.read() as s:
            row = await s.get(RecordingSession, sid)
        assert row is not None and row.inspection_status == status
