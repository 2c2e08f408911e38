"""Job queue on real SQLite: atomic claims under concurrency, retries, permanent failures, UTC times."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.jobs import DbJobQueue, JobInfo, PermanentJobError, WorkerPool
from server.store.db import Database
from server.store.models import Job


async def _db(path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    return db


async def test_concurrent_claims_never_hand_out_a_job_twice(tmp_path: Path) -> None:
    db_file = tmp_path / "jobs.db"
    main = await _db(db_file)
    queue = DbJobQueue(main)
    ids = [await queue.enqueue("inspect", {"n": i}) for i in range(30)]
    # Separate engines: separate SQLite connections, as separate worker processes would have.
    dbs = [Database(f"sqlite+aiosqlite:///{db_file}") for _ in range(4)]
    claimed: list[int] = []

    async def claimer(q: DbJobQueue, name: str) -> None:
        while (job := await q.claim(name)) is not None:
            claimed.append(job.id)

    await asyncio.gather(*(claimer(DbJobQueue(d), f"w{i}") for i, d in enumerate(dbs)))
    assert sorted(claimed) == ids
    async with main.session() as s:
        jobs = list((await s.execute(select(Job))).scalars())
    assert {j.status for j in jobs} == {"running"}
    assert all(j.locked_at is not None and j.locked_at.tzinfo is UTC for j in jobs)
    for d in [main, *dbs]:
        await d.close()


async def test_pool_runs_retries_and_fails(tmp_path: Path) -> None:
    db = await _db(tmp_path / "jobs.db")
    queue = DbJobQueue(db, max_attempts=2, retry_delay_s=0.0)
    seen: list[tuple[str, int]] = []

    async def ok(job: JobInfo, progress: Any) -> None:
        await progress("half", 0.5)
        seen.append(("ok", job.id))

    async def flaky(job: JobInfo, progress: Any) -> None:
        seen.append(("flaky", job.attempts))
        raise RuntimeError("boom")

    async def bad(job: JobInfo, progress: Any) -> None:
        raise PermanentJobError("input is broken")

    pool = WorkerPool(queue, {"ok": ok, "flaky": flaky, "bad": bad}, size=2, poll_s=0.05)
    a = await queue.enqueue("ok", {})
    b = await queue.enqueue("flaky", {})
    c = await queue.enqueue("bad", {})
    d = await queue.enqueue("unknown-kind", {})
    pool.start()
    try:
        for _ in range(200):
            async with db.session() as s:
                states = {j.id: j.status for j in (await s.execute(select(Job))).scalars()}
            if all(v in ("done", "failed") for v in states.values()):
                break
            await asyncio.sleep(0.05)
    finally:
        await pool.stop()
    assert states == {a: "done", b: "failed", c: "failed", d: "failed"}
    assert [x for x in seen if x[0] == "flaky"] == [("flaky", 1), ("flaky", 2)]
    async with db.session() as s:
        job_c = await s.get(Job, c)
        job_a = await s.get(Job, a)
    assert (
        job_c is not None and job_c.attempts == 1 and "input is broken" in (job_c.last_error or "")
    )
    assert job_a is not None and job_a.progress == 1.0
    await db.close()


async def test_only_dead_local_processes_jobs_are_requeued(tmp_path: Path) -> None:
    """At start-up the embedded queue takes back what a dead process of this machine left
    running, never a live process's job nor another machine's."""
    db = await _db(tmp_path / "jobs.db")
    queue = DbJobQueue(db)
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()  # reaped: its pid is free
    host = socket.gethostname()
    owners = [f"{host}-{dead.pid}-0", f"{host}-{os.getppid()}-0", "other-host-1-0"]
    for owner in owners:
        await queue.enqueue("inspect", {})
        assert await queue.claim(owner) is not None
    assert await queue.requeue_stale() == 1
    job = await queue.claim("next")
    assert job is not None and job.id == 1 and job.attempts == 2
    async with db.session() as s:
        states = {j.id: (j.status, j.locked_by) for j in (await s.execute(select(Job))).scalars()}
    assert states[2] == ("running", owners[1]) and states[3] == ("running", owners[2])
    await db.close()
