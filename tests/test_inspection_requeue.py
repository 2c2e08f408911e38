"""An inspection that failed because the object store (or the database) stayed out of reach
longer than the job's retries is queued again by the housekeeping, a bounded number of
times; one that can never succeed (its files gone) stays ``failed``. The kind of each failure
is in its ``inspection.failed`` audit entry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from server import inspection_resume, worker
from server.archive import ArchiveIncomplete
from server.jobs import JobInfo, PermanentJobError
from server.store.models import AuditEntry, Job, RecordingSession
from server.worker import JobRunner
from tests.conftest import RunningServer, make_settings, serving
from tests.worker_jobs import ended_session, no_progress, not_uploaded_yet


async def _status(srv: RunningServer, sid: str) -> str:
    async with srv.ctx.db.read() as s:
        row = await s.get(RecordingSession, sid)
    assert row is not None
    return row.inspection_status


async def _audit(srv: RunningServer, sid: str) -> list[tuple[str, dict[str, object]]]:
    query = (
        select(AuditEntry)
        .where(AuditEntry.session_id == sid, AuditEntry.action.like("inspection.%"))
        .order_by(AuditEntry.seq)
    )
    async with srv.ctx.db.read() as s:
        return [(e.action, e.detail) for e in (await s.execute(query)).scalars()]


async def test_transient_failures_are_queued_again_a_bounded_number_of_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "ARCHIVE_WAIT_S", 0.1)
    monkeypatch.setattr(inspection_resume, "REQUEUE_AFTER_S", (0.0, 0.0))
    archive = tmp_path / "archive"
    archive.mkdir()
    async with serving(make_settings(tmp_path, storage_url=archive.as_uri())) as srv:
        late = await ended_session(srv.url)
        await not_uploaded_yet(srv, archive, late)
        gone = await ended_session(srv.url)
        assert srv.ctx.archive is not None
        await srv.ctx.archive.sync(gone)
        shutil.rmtree(srv.ctx.settings.sessions_dir / gone)
        shutil.rmtree(archive / "sessions" / gone)
        runner = JobRunner(srv.ctx)
        last = srv.ctx.settings.job_max_attempts
        try:
            with pytest.raises(PermanentJobError):
                await runner.inspect(JobInfo(1, "inspect", {"session_id": gone}, 1), no_progress)
            job = JobInfo(2, "inspect", {"session_id": late}, last)
            with pytest.raises(ArchiveIncomplete):
                await runner.inspect(job, no_progress)
            # A failure older than the window is left to the operator.
            monkeypatch.setattr(inspection_resume, "REQUEUE_WINDOW_S", 0.0)
            assert await inspection_resume.requeue_failed(srv.ctx) == []
            monkeypatch.setattr(inspection_resume, "REQUEUE_WINDOW_S", 3600.0)
            for n in range(3):
                if n:
                    with pytest.raises(ArchiveIncomplete):
                        await runner.inspect(job, no_progress)
                assert await _status(srv, late) == "failed"
                await inspection_resume.requeue_failed(srv.ctx)
        finally:
            await runner.close()
        assert await _status(srv, gone) == "failed"
        assert await _status(srv, late) == "failed"  # queued twice, then left
        async with srv.ctx.db.read() as s:
            jobs = [j.payload["session_id"] for j in (await s.execute(select(Job))).scalars()]
        # Ending queued a review video and an inspection each; then two inspections of ``late``.
        assert jobs.count(late) == 2 + 2 and jobs.count(gone) == 2
        history = await _audit(srv, late)
        assert [(a, d.get("permanent"), d.get("requeue")) for a, d in history] == [
            ("inspection.failed", False, None),
            ("inspection.requeued", None, 1),
            ("inspection.failed", False, None),
            ("inspection.requeued", None, 2),
            ("inspection.failed", False, None),
        ]
        assert [(a, d.get("permanent")) for a, d in await _audit(srv, gone)] == [
            ("inspection.failed", True)
        ]
