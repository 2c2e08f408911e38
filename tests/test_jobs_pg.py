"""Jobs on procrastinate over a real PostgreSQL: a worker runs them, failures are retried,
one session's jobs never overlap, and the job of a worker killed with SIGKILL is recovered
and finished exactly once by another worker process."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from server.app import build_queue
from server.jobs import JobHandler, JobInfo, PermanentJobError, ProgressFn
from server.jobs_pg import ProcrastinateQueue
from server.localservers import fresh_database
from server.settings import Settings
from server.store.db import Database
from server.store.models import Job
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, limit_s: float = 60) -> None:
    for _ in range(int(limit_s * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def _jobs(db: Database) -> dict[int, Job]:
    async with db.session() as s:
        return {j.id: j for j in (await s.execute(select(Job))).scalars()}


class Setup:
    def __init__(self, settings: Settings, db: Database, queue: ProcrastinateQueue) -> None:
        self.settings, self.db, self.queue = settings, db, queue


@pytest.fixture
async def setup(pg_admin: str, tmp_path: Path) -> AsyncIterator[Setup]:
    url = await fresh_database(pg_admin)
    settings = make_settings(
        tmp_path,
        database_url=url,
        workers=2,
        job_poll_s=0.2,
        job_retry_delay_s=0,
        job_max_attempts=3,
        job_stalled_after_s=3,
    )
    db = Database(url)
    await db.migrate()
    queue = build_queue(db, settings)
    assert isinstance(queue, ProcrastinateQueue)
    yield Setup(settings, db, queue)
    await queue.close()
    await db.close()


async def _with_worker(
    s: Setup, handlers: dict[str, JobHandler], body: Callable[[], Awaitable[None]]
) -> None:
    worker = asyncio.create_task(s.queue.run_worker(handlers, s.settings.workers))
    try:
        await body()
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


async def test_runs_retries_and_fails_permanently(setup: Setup) -> None:
    runs: dict[str, int] = {"ok": 0, "flaky": 0, "bad": 0}

    async def ok(job: JobInfo, progress: ProgressFn) -> None:
        runs["ok"] += 1
        await progress("half", 0.5)

    async def flaky(job: JobInfo, progress: ProgressFn) -> None:
        runs["flaky"] += 1
        if job.attempts < 3:
            raise RuntimeError(f"transient failure {job.attempts}")

    async def bad(job: JobInfo, progress: ProgressFn) -> None:
        runs["bad"] += 1
        raise PermanentJobError("bad input")

    ids = {k: await setup.queue.enqueue(k, {"session_id": k}) for k in ("ok", "flaky", "bad")}
    unknown = await setup.queue.enqueue("unknown-kind", {})

    async def settled() -> bool:
        jobs = await _jobs(setup.db)
        return all(j.status in ("done", "failed") for j in jobs.values())

    await _with_worker(
        setup,
        {"ok": ok, "flaky": flaky, "bad": bad},
        lambda: wait_until(settled, "all jobs to settle"),
    )
    jobs = await _jobs(setup.db)
    assert (jobs[ids["ok"]].status, jobs[ids["ok"]].progress) == ("done", 1.0)
    assert (jobs[ids["flaky"]].status, jobs[ids["flaky"]].attempts) == ("done", 3)
    assert "transient failure 2" in (jobs[ids["flaky"]].last_error or "")
    assert (jobs[ids["bad"]].status, jobs[ids["bad"]].attempts) == ("failed", 1)
    assert jobs[unknown].status == "failed" and "no handler" in (jobs[unknown].last_error or "")
    assert runs == {"ok": 1, "flaky": 3, "bad": 1}


async def test_one_session_s_jobs_never_overlap(setup: Setup) -> None:
    active: dict[str, int] = {}
    peak: dict[str, int] = {}
    peak_all = 0
    both_sessions_seen = asyncio.Event()

    async def slow(job: JobInfo, progress: ProgressFn) -> None:
        nonlocal peak_all
        sid = job.payload["session_id"]
        active[sid] = active.get(sid, 0) + 1
        peak[sid] = max(peak.get(sid, 0), active[sid])
        peak_all = max(peak_all, sum(active.values()))
        if len([k for k, v in active.items() if v]) == 2:
            both_sessions_seen.set()
        # Hold the slot until the other session's job runs too (or a generous time passes),
        # so a missing lock would show as two jobs of one session at once.
        try:
            await asyncio.wait_for(both_sessions_seen.wait(), 5)
        except TimeoutError:
            pass
        active[sid] -= 1

    for _ in range(3):
        await setup.queue.enqueue("slow", {"session_id": "A"})
    await setup.queue.enqueue("slow", {"session_id": "B"})

    async def all_done() -> bool:
        return all(j.status == "done" for j in (await _jobs(setup.db)).values())

    await _with_worker(setup, {"slow": slow}, lambda: wait_until(all_done, "jobs done", 120))
    assert peak == {"A": 1, "B": 1}
    assert peak_all == 2  # the worker does run two jobs at once: of different sessions


def _start_worker(url: str, marks: Path, stalled_s: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pg_job_worker", url, str(marks), str(stalled_s)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(marks / f"worker-{len(list(marks.glob('worker-*')))}.log", "wb"),  # noqa: SIM115
    )


async def test_job_of_a_killed_worker_is_finished_once_by_another(
    setup: Setup, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    (marks / "hold").touch()
    url = setup.settings.database_url
    first = _start_worker(url, marks, setup.settings.job_stalled_after_s)
    procs = [first]
    try:
        job_id = await setup.queue.enqueue("mark", {"session_id": "S", "hold": True})

        async def first_started() -> bool:
            return (marks / f"started-{job_id}-{first.pid}").exists()

        await wait_until(first_started, "the first worker to start the job")
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = time.monotonic()
        (marks / "hold").unlink()
        second = _start_worker(url, marks, setup.settings.job_stalled_after_s)
        procs.append(second)

        async def finished() -> bool:
            job = (await _jobs(setup.db))[job_id]
            return job.status == "done"

        await wait_until(finished, "the second worker to finish the job", 120)
        print(
            f"job of the killed worker finished {time.monotonic() - killed_at:.1f} s after the kill"
        )
        # Let any duplicate run surface before counting.
        later = await setup.queue.enqueue("mark", {"session_id": "S"})

        async def later_done() -> bool:
            return (await _jobs(setup.db))[later].status == "done"

        await wait_until(later_done, "a later job of the same session")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    assert (marks / f"done-{job_id}").read_text().split() == [str(second.pid)]
    job = (await _jobs(setup.db))[job_id]
    assert job.attempts == 2 and job.locked_by is None
    assert second.returncode == 0, (marks / "worker-1.log").read_text()[-2000:]


async def test_one_attempt_means_no_retry(pg_admin: str, tmp_path: Path) -> None:
    # procrastinate reads a RetryStrategy's max_attempts 0 as "no limit": job_max_attempts 1
    # (max_attempts 0 retries) retried a failing job for ever.
    url = await fresh_database(pg_admin)
    settings = make_settings(
        tmp_path, database_url=url, job_poll_s=0.2, job_retry_delay_s=0, job_max_attempts=1
    )
    db = Database(url)
    await db.migrate()
    queue = build_queue(db, settings)
    assert isinstance(queue, ProcrastinateQueue)
    runs = 0

    async def failing(job: JobInfo, progress: ProgressFn) -> None:
        nonlocal runs
        runs += 1
        raise RuntimeError("transient failure")

    try:
        job_id = await queue.enqueue("failing", {"session_id": "s"})

        async def failed() -> bool:
            return (await _jobs(db))[job_id].status == "failed"

        async def failed_then_idle() -> None:
            await wait_until(failed, "the job to fail")
            # A retry (no delay, 0.2 s polls) would run while the worker goes on here.
            await asyncio.sleep(2.0)

        await _with_worker(Setup(settings, db, queue), {"failing": failing}, failed_then_idle)
        assert runs == 1
    finally:
        await queue.close()
        await db.close()
