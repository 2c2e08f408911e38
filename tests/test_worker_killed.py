"""A worker process killed (kill -9, the OOM killer) does not stop inspections for good: the
job that met it fails like any transient fault (the queue retries it) and the next jobs run
in new worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from server.jobs import JobInfo, PermanentJobError
from server.worker import JobRunner, _worker_pid
from tests.conftest import make_settings, serving
from tests.worker_jobs import ended_session, no_progress


async def test_jobs_run_again_after_a_worker_process_is_killed(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path)) as srv:
        sid = await ended_session(srv.url)  # nothing recorded
        runner = JobRunner(srv.ctx)
        try:
            loop = asyncio.get_running_loop()
            pid = await loop.run_in_executor(runner._executor, _worker_pid)
            os.kill(pid, signal.SIGKILL)
            job = JobInfo(1, "review_video", {"session_id": sid}, 1)
            # The job's own answer (nothing recorded: a permanent failure) once a worker
            # process runs it; the queue retries a BrokenProcessPool (at most twice here).
            for _ in range(3):
                try:
                    await runner.review_video(job, no_progress)
                except BrokenProcessPool:
                    continue
                except PermanentJobError:
                    break
            else:
                pytest.fail("every attempt met the broken pool")
        finally:
            await runner.close()
