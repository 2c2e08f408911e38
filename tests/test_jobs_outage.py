"""The embedded job pool (SQLite) outlives a database it cannot write for a while: another
process holding SQLite's write lock past the busy timeout (``sqlite3 kesu.db 'BEGIN
EXCLUSIVE;'`` left open). Jobs queued after the lock is released still run."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
from pathlib import Path

import pytest

from server import jobs
from server.jobs import DbJobQueue, JobInfo, ProgressFn, WorkerPool
from server.store import db as db_module
from server.store.db import Database
from tests.conftest import wait_for


async def _recording_pool(path: Path) -> tuple[Database, DbJobQueue, WorkerPool, list[int]]:
    """A started one-consumer pool on a fresh SQLite file whose ``record`` jobs append their
    payload's ``n`` to the list returned."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    queue = DbJobQueue(db)
    ran: list[int] = []

    async def record(job: JobInfo, progress: ProgressFn) -> None:
        ran.append(job.payload["n"])

    pool = WorkerPool(queue, {"record": record}, size=1, poll_s=0.05)
    pool.start()
    return db, queue, pool, ran


async def test_pool_outlives_a_locked_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)  # the lock outlasts it sooner
    path = tmp_path / "kesu.db"
    db, queue, pool, ran = await _recording_pool(path)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        caplog.set_level(logging.WARNING, logger="kesu.jobs")
        # Until a claim has met the lock (before: the consumer task ended there).
        await wait_for(
            lambda: pool._tasks[0].done() or "claiming failed" in caplog.text, limit_s=30
        )
        holder.execute("ROLLBACK")
        await queue.enqueue("record", {"n": 1})
        await wait_for(lambda: ran == [1], limit_s=30)
        assert not pool._tasks[0].done()
    finally:
        holder.close()
        await pool.stop()
        await db.close()


async def test_outcome_is_stored_once_the_lock_is_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A job that finished while the database was locked is marked done after, not left
    ``running`` for good (no process would ever claim it again)."""
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "kesu.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    queue = DbJobQueue(db)
    holder = sqlite3.connect(path, isolation_level=None)

    async def lock_then_finish(job: JobInfo, progress: ProgressFn) -> None:
        holder.execute("BEGIN EXCLUSIVE")  # taken by another connection as the job ends

    pool = WorkerPool(queue, {"lock": lock_then_finish}, size=1, poll_s=0.05)
    job_id = await queue.enqueue("lock", {})
    caplog.set_level(logging.WARNING, logger="kesu.jobs")
    pool.start()
    try:
        await wait_for(lambda: holder.in_transaction, limit_s=30)
        await wait_for(
            lambda: pool._tasks[0].done() or "storing its outcome failed" in caplog.text,
            limit_s=30,
        )
        holder.execute("ROLLBACK")

        def status() -> str:
            row = holder.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return str(row[0])

        await wait_for(lambda: status() == "done", limit_s=30)
    finally:
        holder.close()
        await pool.stop()
        await db.close()


async def test_a_dead_worker_process_s_job_is_run_by_a_live_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kesu worker`` beside ``kesu serve`` on SQLite, killed with -9 mid-job: its job is
    queued again by the pool that still runs, without waiting for a restart."""
    monkeypatch.setattr(jobs, "STALE_CHECK_S", 0.1, raising=False)
    db, queue, pool, ran = await _recording_pool(tmp_path / "kesu.db")
    other = await asyncio.create_subprocess_exec("sleep", "60")  # the other worker process
    try:
        await queue.enqueue("record", {"n": 1})
        await wait_for(lambda: ran == [1], limit_s=30)
        await pool.stop()  # the live pool is busy elsewhere: the other process claims job 2
        await queue.enqueue("record", {"n": 2})
        assert await queue.claim(f"{socket.gethostname()}-{other.pid}-0") is not None
        pool.start()
        other.kill()  # mid-job
        await other.wait()
        await wait_for(lambda: ran == [1, 2], limit_s=30)
    finally:
        if other.returncode is None:
            other.kill()
            await other.wait()
        await pool.stop()
        await db.close()
