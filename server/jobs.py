"""Job queue behind a small interface: embedded (database table + in-process pool) today,
a distributed engine (procrastinate on PostgreSQL) later.

A job is ``(kind, payload)``; handlers are registered by kind and run by a worker pool that
claims one job at a time. Claims are atomic: SQLite serialises writers with BEGIN IMMEDIATE,
PostgreSQL uses ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import select, update

from server.store.db import Database
from server.store.models import Job
from server.store.types import utcnow

log = logging.getLogger("kesu.jobs")


@dataclass(frozen=True)
class JobInfo:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


ProgressFn = Callable[[str, float], Awaitable[None]]
JobHandler = Callable[[JobInfo, ProgressFn], Awaitable[None]]


class JobQueue(Protocol):
    """What the rest of the server needs from a queue."""

    async def enqueue(self, kind: str, payload: dict[str, Any]) -> int: ...
    async def claim(self, worker_id: str) -> JobInfo | None: ...
    async def progress(self, job_id: int, stage: str, fraction: float) -> None: ...
    async def complete(self, job_id: int) -> None: ...
    async def fail(self, job_id: int, error: str, retry: bool) -> None: ...


class DbJobQueue:
    """Jobs kept in the application database (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, max_attempts: int = 3, retry_delay_s: float = 5.0) -> None:
        self.db = db
        self.max_attempts = max_attempts
        self.retry_delay_s = retry_delay_s
        self.wakeup = asyncio.Event()

    async def enqueue(self, kind: str, payload: dict[str, Any]) -> int:
        async with self.db.session() as s:
            job = Job(kind=kind, payload=payload)
            s.add(job)
            await s.flush()
            job_id = job.id
        self.wakeup.set()
        return job_id

    async def claim(self, worker_id: str) -> JobInfo | None:
        async with self.db.session() as s:
            query = (
                select(Job)
                .where(Job.status == "queued", Job.run_after <= utcnow())
                .order_by(Job.id)
                .limit(1)
            )
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            job = (await s.execute(query)).scalar_one_or_none()
            if job is None:
                return None
            job.status = "running"
            job.attempts += 1
            job.locked_by = worker_id
            job.locked_at = utcnow()
            return JobInfo(job.id, job.kind, dict(job.payload), job.attempts)

    async def progress(self, job_id: int, stage: str, fraction: float) -> None:
        async with self.db.session() as s:
            await s.execute(
                update(Job).where(Job.id == job_id).values(stage=stage[:64], progress=fraction)
            )

    async def complete(self, job_id: int) -> None:
        async with self.db.session() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status="done", progress=1.0, finished_at=utcnow(), locked_by=None)
            )

    async def fail(self, job_id: int, error: str, retry: bool) -> None:
        async with self.db.session() as s:
            job = await s.get(Job, job_id)
            if job is None:
                return
            job.last_error = error[-4000:]
            job.locked_by = None
            if retry and job.attempts < self.max_attempts:
                job.status = "queued"
                job.run_after = utcnow() + timedelta(seconds=self.retry_delay_s * job.attempts)
            else:
                job.status = "failed"
                job.finished_at = utcnow()

    async def requeue_stale(self) -> int:
        """Jobs left 'running' by a crashed process go back to the queue (called at start-up)."""
        async with self.db.session() as s:
            result = await s.execute(
                update(Job).where(Job.status == "running").values(status="queued", locked_by=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)


class PermanentJobError(Exception):
    """A job that cannot succeed by retrying (bad input); it is failed at once."""


class WorkerPool:
    """N asyncio consumers; each runs one job at a time through the registered handler."""

    def __init__(
        self, queue: DbJobQueue, handlers: dict[str, JobHandler], size: int, poll_s: float
    ) -> None:
        self.queue = queue
        self.handlers = handlers
        self.size = size
        self.poll_s = poll_s
        self._tasks: list[asyncio.Task[None]] = []
        self.idle = asyncio.Event()

    def start(self) -> None:
        for i in range(self.size):
            self._tasks.append(asyncio.create_task(self._run(f"{os.getpid()}-{i}")))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _run(self, worker_id: str) -> None:
        while True:
            job = await self.queue.claim(worker_id)
            if job is None:
                self.idle.set()
                self.queue.wakeup.clear()
                try:
                    await asyncio.wait_for(self.queue.wakeup.wait(), self.poll_s)
                except TimeoutError:
                    pass
                continue
            self.idle.clear()
            await self._execute(job)

    async def _execute(self, job: JobInfo) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:
            await self.queue.fail(job.id, f"no handler for job kind {job.kind!r}", retry=False)
            return

        async def progress(stage: str, fraction: float) -> None:
            await self.queue.progress(job.id, stage, fraction)

        try:
            await handler(job, progress)
        except asyncio.CancelledError:
            await asyncio.shield(self.queue.fail(job.id, "cancelled at shutdown", retry=True))
            raise
        except PermanentJobError as exc:
            log.warning("job %s (%s) failed: %s", job.id, job.kind, exc)
            await self.queue.fail(job.id, str(exc), retry=False)
        except Exception:
            log.exception("job %s (%s) failed", job.id, job.kind)
            await self.queue.fail(job.id, traceback.format_exc(), retry=True)
        else:
            await self.queue.complete(job.id)
