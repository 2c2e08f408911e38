"""Job queue behind a small interface. Embedded default: a table in the SQLite database and
an in-process pool (this module). PostgreSQL: procrastinate (server/jobs_pg.py).

A job is ``(kind, payload)``; handlers are registered by kind and run by a worker pool that
claims one job at a time. Embedded claims are atomic because SQLite serialises writers with
BEGIN IMMEDIATE; the embedded queue is single-machine by design.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import traceback
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import Select, select, update

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
    async def active(self, kind: str, session_ids: Collection[str]) -> set[str]: ...
    async def progress(self, job_id: int, stage: str, fraction: float) -> None: ...
    async def close(self) -> None: ...


def session_jobs(kind: str, session_ids: Collection[str]) -> Select[str]:
    """The session id of each ``kind`` job (its ``jobs`` row) about one of ``session_ids``."""
    of_session = Job.payload["session_id"].as_string()
    return select(of_session).where(Job.kind == kind, of_session.in_(list(session_ids)))


class DbJobQueue:
    """Jobs kept in the embedded SQLite database, run by a ``WorkerPool`` in this process."""

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

    async def active(self, kind: str, session_ids: Collection[str]) -> set[str]:
        """Those of the sessions that have a ``kind`` job waiting or running (a retry
        waiting included)."""
        query = session_jobs(kind, session_ids).where(Job.status.in_(("queued", "running")))
        async with self.db.read() as s:
            return set((await s.execute(query)).scalars())

    async def claim(self, worker_id: str) -> JobInfo | None:
        async with self.db.session() as s:
            query = (
                select(Job)
                .where(Job.status == "queued", Job.run_after <= utcnow())
                .order_by(Job.id)
                .limit(1)
            )
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
        """Jobs left 'running' by a dead process of this machine go back to the queue (called
        at start-up). Workers are named ``<host>-<pid>-<n>``: a job of another host, or of a
        live process here (a ``kesu worker`` beside ``kesu serve``), is left alone."""
        prefix = f"{socket.gethostname()}-"
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(Job.id, Job.locked_by).where(
                        Job.status == "running", Job.locked_by.startswith(prefix)
                    )
                )
            ).all()
            dead = [
                job_id
                for job_id, locked_by in rows
                if not _pid_alive(_pid_of((locked_by or "")[len(prefix) :]))
            ]
            if dead:
                await s.execute(
                    update(Job)
                    .where(Job.id.in_(dead), Job.status == "running")
                    .values(status="queued", locked_by=None)
                )
            return len(dead)

    async def close(self) -> None:
        """Nothing to release: the database is closed by its owner."""


def worker_name(n: int) -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{n}"


def _pid_of(rest: str) -> int:
    head = rest.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def _pid_alive(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return False  # our own pid: a previous run's job cannot be running in this process yet
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: How often a pool looks for jobs left running by a dead process of this machine.
STALE_CHECK_S = 30.0


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
            self._tasks.append(asyncio.create_task(self._run(worker_name(i))))
        self._tasks.append(asyncio.create_task(self._reap()))

    async def _reap(self) -> None:
        """Now and then, put back the jobs that a dead process of this machine left running:
        a ``kesu worker`` beside ``kesu serve`` killed with -9 (or by the OOM killer) left its
        job ``running`` until some process started again (``requeue_stale`` ran only then)."""
        while True:
            await asyncio.sleep(STALE_CHECK_S)
            try:
                if n := await self.queue.requeue_stale():
                    log.warning("%d job(s) of a dead worker process queued again", n)
                    self.queue.wakeup.set()
            except Exception as exc:
                log.warning("looking for jobs of dead worker processes failed: %r", exc)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _run(self, worker_id: str) -> None:
        while True:
            try:
                job = await self.queue.claim(worker_id)
            except Exception as exc:
                # SQLite's write lock held by another process past the busy timeout, or the
                # file unusable for a while: before, this ended the consumer for good and
                # the jobs queued from then on never ran until a restart.
                log.warning("job worker %s: claiming failed (%r); trying again", worker_id, exc)
                await asyncio.sleep(self.poll_s)
                continue
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
            reason = str(exc)
            await self._settle(job, lambda: self.queue.fail(job.id, reason, retry=False))
        except Exception:
            log.exception("job %s (%s) failed", job.id, job.kind)
            error = traceback.format_exc()
            await self._settle(job, lambda: self.queue.fail(job.id, error, retry=True))
        else:
            await self._settle(job, lambda: self.queue.complete(job.id))

    async def _settle(self, job: JobInfo, write: Callable[[], Awaitable[None]]) -> None:
        """Store a job's outcome, trying again while the database refuses: a job left
        ``running`` under a live process is never claimed again (``requeue_stale`` only
        takes back those of dead processes)."""
        while True:
            try:
                await write()
                return
            except Exception as exc:
                log.warning("job %s: storing its outcome failed (%r); trying again", job.id, exc)
                await asyncio.sleep(self.poll_s)
