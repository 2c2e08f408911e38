"""``kesu serve`` stopping does not wait for a running job: its worker processes no longer
die of the terminal's Ctrl-C (tests/test_serve_ctrl_c_group.py), so the server ends the
ones still busy after a short grace. Before, ``JobRunner.close`` waited for the job to
finish (minutes for an inspection); the queue puts such a job back at the next start."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from server.worker import STOP_GRACE_S, JobRunner
from tests.conftest import make_settings, serving


def hold(started: str, seconds: float) -> None:
    """A job (run in a worker process) that says it started, then runs for ``seconds``."""
    Path(started).touch()
    time.sleep(seconds)


async def test_closing_the_runner_ends_a_running_job(tmp_path: Path) -> None:
    started = tmp_path / "started"
    async with serving(make_settings(tmp_path)) as srv:
        runner = JobRunner(srv.ctx)
        runner.start()
        job = asyncio.ensure_future(runner._in_process(hold, str(started), 600))
        for _ in range(1200):  # up to a minute for the worker to start it, not timing it
            if started.exists():
                break
            await asyncio.sleep(0.05)
        assert started.exists(), "the job never started"
        await asyncio.wait_for(runner.close(grace_s=STOP_GRACE_S), timeout=60)
        await asyncio.gather(job, return_exceptions=True)
        assert job.done()
