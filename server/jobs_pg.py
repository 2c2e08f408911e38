"""Jobs on procrastinate when the database is PostgreSQL.

Every job keeps its row in Kesu's ``jobs`` table (status, attempts, progress, last error: what
the pages and operators read) and runs as one procrastinate job of the task ``kesu.job``:
procrastinate does the claiming, retries (``RetryStrategy``), the per-session ``lock`` (two jobs
of one session never run at once) and worker heartbeats. A periodic task, deferred once per
tick across all workers, puts back jobs whose worker stopped heartbeating (a crashed machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import traceback
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import procrastinate
import psycopg_pool
from procrastinate import JobContext, PsycopgConnector, RetryStrategy
from procrastinate.jobs import Job as PJob
from sqlalchemy import bindparam, text, update
from sqlalchemy.engine import make_url

from server.jobs import JobHandler, JobInfo, PermanentJobError
from server.settings import Settings
from server.store.db import Database
from server.store.models import Job
from server.store.outage import DatabaseUnavailable
from server.store.types import utcnow

log = logging.getLogger("kesu.jobs")

TASK_NAME = "kesu.job"
STALLED_TASK_NAME = "kesu.retry_stalled"
#: Waits before starting a worker again after consecutive failures (the database away).
RESTART_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)
# Any constant shared by every Kesu process: serialises procrastinate's schema creation.
_SCHEMA_LOCK_KEY = 0x4B455355


def psycopg_conninfo(db_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+asyncpg://``) as a libpq URL for psycopg 3."""
    return make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)


class _NoRetryOnPermanent(RetryStrategy):
    """Retry like ``RetryStrategy`` except for inputs that can never succeed."""

    def get_retry_decision(
        self, *, exception: BaseException, job: PJob
    ) -> procrastinate.RetryDecision | None:
        if isinstance(exception, PermanentJobError):
            return None
        # procrastinate reads max_attempts 0 as "no limit" (``if self.max_attempts and``):
        # job_max_attempts 1 means one attempt and no retry here.
        if self.max_attempts == 0:
            return None
        return super().get_retry_decision(exception=exception, job=job)


@dataclass
class _Runtime:
    """What a worker hands to the task through procrastinate's ``additional_context``."""

    queue: ProcrastinateQueue
    handlers: dict[str, JobHandler]
    worker_name: str


def _stalled_cron(stalled_after_s: float) -> str:
    # Check about three times per threshold; cron's optional 6th column is seconds.
    every = max(1, min(59, int(stalled_after_s / 3)))
    return f"*/{every} * * * * *"


def build_app(settings: Settings) -> tuple[procrastinate.App, _NoRetryOnPermanent]:
    app = procrastinate.App(
        connector=PsycopgConnector(conninfo=psycopg_conninfo(settings.db_url)),
    )
    strategy = _NoRetryOnPermanent(
        max_attempts=max(0, settings.job_max_attempts - 1),
        linear_wait=max(0, int(settings.job_retry_delay_s)),
    )

    @app.task(name=TASK_NAME, pass_context=True, retry=strategy)
    async def run_job(context: JobContext, job_id: int, kind: str, payload: dict[str, Any]) -> None:
        runtime = context.additional_context["kesu"]
        assert isinstance(runtime, _Runtime)
        assert context.job is not None
        await runtime.queue.execute(runtime, context.job, job_id, kind, payload)

    @app.periodic(cron=_stalled_cron(settings.job_stalled_after_s))
    @app.task(
        name=STALLED_TASK_NAME,
        queueing_lock=STALLED_TASK_NAME,
        lock=STALLED_TASK_NAME,  # one checker at a time, or two could retry a job twice
        pass_context=True,
    )
    async def retry_stalled(context: JobContext, timestamp: int) -> None:
        runtime = context.additional_context["kesu"]
        assert isinstance(runtime, _Runtime)
        await runtime.queue.retry_stalled()

    return app, strategy


class ProcrastinateQueue:
    """The ``JobQueue`` on PostgreSQL: rows in ``jobs``, execution by procrastinate."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.app, self.strategy = build_app(settings)
        self._opened = False
        self._open_lock = asyncio.Lock()
        #: Times the worker was started again after the database failed under it.
        self.worker_restarts = 0

    async def open(self) -> None:
        """Connect, and create procrastinate's tables once (idempotent, safe to race)."""
        async with self._open_lock:
            if self._opened:
                return
            try:
                await self.app.open_async()
            except psycopg_pool.PoolTimeout as exc:
                # The database down at the first enqueue of a node that runs no worker (its
                # first end): a 500 before, and the pool, closed by its timeout, stayed set
                # (every later call: PoolClosed). Dropped here; the next call opens anew.
                await self.app.close_async()
                raise DatabaseUnavailable() from exc
            self._opened = True
            await apply_schema(self.app, psycopg_conninfo(self.settings.db_url))

    async def close(self) -> None:
        if self._opened:
            await self.app.close_async()
            self._opened = False

    async def enqueue(self, kind: str, payload: dict[str, Any]) -> int:
        await self.open()
        async with self.db.session() as s:
            row = Job(kind=kind, payload=payload)
            s.add(row)
            await s.flush()
            job_id = row.id
        session_id = payload.get("session_id")
        lock = f"session:{session_id}" if session_id else None
        try:
            await self.app.configure_task(TASK_NAME, lock=lock).defer_async(
                job_id=job_id, kind=kind, payload=payload
            )
        except Exception:
            await self._finish(job_id, "failed", traceback.format_exc())
            raise
        return job_id

    async def active(self, kind: str, session_ids: Collection[str]) -> set[str]:
        """Those of the sessions that have a ``kind`` job waiting or running in procrastinate
        (a retry waiting included). Kesu's ``jobs`` row is not enough: one whose ``defer``
        failed with the database gone stays ``queued`` there without a procrastinate job."""
        await self.open()
        query = text(
            "SELECT DISTINCT args->'payload'->>'session_id' FROM procrastinate_jobs"
            " WHERE task_name = :task AND status IN ('todo', 'doing') AND args->>'kind' = :kind"
            " AND args->'payload'->>'session_id' IN :sids"
        ).bindparams(bindparam("sids", expanding=True))
        params = {"task": TASK_NAME, "kind": kind, "sids": list(session_ids)}
        async with self.db.read() as s:
            return set((await s.execute(query, params)).scalars())

    async def progress(self, job_id: int, stage: str, fraction: float) -> None:
        async with self.db.session() as s:
            await s.execute(
                update(Job).where(Job.id == job_id).values(stage=stage[:64], progress=fraction)
            )

    async def _finish(self, job_id: int, status: str, error: str | None) -> None:
        values: dict[str, Any] = {"status": status, "locked_by": None}
        if error is not None:
            values["last_error"] = error[-4000:]
        if status in ("done", "failed"):
            values["finished_at"] = utcnow()
        if status == "done":
            values["progress"] = 1.0
        async with self.db.session() as s:
            await s.execute(update(Job).where(Job.id == job_id).values(**values))

    async def execute(
        self, runtime: _Runtime, pjob: PJob, job_id: int, kind: str, payload: dict[str, Any]
    ) -> None:
        attempt = pjob.attempts + 1
        async with self.db.session() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(
                    status="running",
                    attempts=attempt,
                    locked_by=runtime.worker_name[:64],
                    locked_at=utcnow(),
                )
            )
        handler = runtime.handlers.get(kind)

        async def progress(stage: str, fraction: float) -> None:
            await self.progress(job_id, stage, fraction)

        try:
            if handler is None:
                raise PermanentJobError(f"no handler for job kind {kind!r}")
            await handler(JobInfo(job_id, kind, dict(payload), attempt), progress)
        except asyncio.CancelledError:
            # procrastinate cancels a job only when it is aborted, which is final (a stopping
            # worker waits for its running jobs instead).
            await asyncio.shield(self._finish(job_id, "failed", "aborted"))
            raise
        except Exception as exc:
            final = self.strategy.get_retry_decision(exception=exc, job=pjob) is None
            if isinstance(exc, PermanentJobError):
                log.warning("job %s (%s) failed: %s", job_id, kind, exc)
            else:
                log.exception("job %s (%s) failed", job_id, kind)
            await self._finish(job_id, "failed" if final else "queued", traceback.format_exc())
            raise
        await self._finish(job_id, "done", None)

    async def retry_stalled(self) -> int:
        """Put back the jobs of workers that stopped heartbeating (crashed or cut off)."""
        stalled = await self.app.job_manager.get_stalled_jobs(
            task_name=TASK_NAME, seconds_since_heartbeat=self.settings.job_stalled_after_s
        )
        n = 0
        for pjob in stalled:
            log.warning("job %s: its worker stopped heartbeating; retrying it", pjob.id)
            # Raises if the job is no longer 'doing' (finished meanwhile): nothing to do then.
            with contextlib.suppress(Exception):
                await self.app.job_manager.retry_job(pjob)
                n += 1
        return n

    async def run_worker(self, handlers: dict[str, JobHandler], concurrency: int) -> None:
        """Run jobs until cancelled (``kesu worker`` and ``kesu serve`` with workers)."""
        await self.open()
        name = f"{socket.gethostname()}-{os.getpid()}"
        runtime = _Runtime(self, handlers, name)
        stalled_s = self.settings.job_stalled_after_s
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await self.app.run_worker_async(
                    name=name,
                    concurrency=max(1, concurrency),
                    additional_context={"kesu": runtime},
                    install_signal_handlers=False,
                    update_heartbeat_interval=max(0.2, stalled_s / 6),
                    stalled_worker_timeout=stalled_s,
                    fetch_job_polling_interval=self.settings.job_poll_s,
                    # The stalled check alone adds a row every few seconds; Kesu's ``jobs``
                    # table keeps the history, failed procrastinate jobs stay for inspection.
                    delete_jobs="successful",
                )
                # Nothing asks it to stop but a cancel: returning means one of its side
                # tasks (heartbeat, listener) met a database error and it gave up.
                reason = "stopped after a database error"
            except Exception as exc:
                reason = f"failed: {exc!r}"
            # Before, a PostgreSQL restart ended the worker for good: ``kesu serve`` went on
            # without one and ``kesu worker`` exited 0. Jobs wait in the queue meanwhile;
            # the stalled check gives back those the stopped worker was running.
            if time.monotonic() - started > RESTART_DELAYS_S[-1]:
                failures = 0
            delay = RESTART_DELAYS_S[min(failures, len(RESTART_DELAYS_S) - 1)]
            failures += 1
            self.worker_restarts += 1
            log.warning("job worker %s %s; starting it again in %g s", name, reason, delay)
            await asyncio.sleep(delay)


async def apply_schema(app: procrastinate.App, conninfo: str) -> None:
    """Create procrastinate's schema if absent. An advisory lock makes concurrent starts of
    several nodes safe; procrastinate's own SQL is not idempotent, hence the existence check."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK_KEY,))
        try:
            cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            row = await cur.fetchone()
            if row is not None and not row[0]:
                await app.schema_manager.apply_schema_async()
                log.info("created procrastinate's schema")
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK_KEY,))


async def ensure_schema(settings: Settings) -> None:
    """``kesu migrate`` on PostgreSQL: procrastinate's tables next to Kesu's."""
    app, _ = build_app(settings)
    async with app.open_async():
        await apply_schema(app, psycopg_conninfo(settings.db_url))
