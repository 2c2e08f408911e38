"""Job handlers: inspection and the review video, run in worker processes off the event loop.

Models are built once per worker process (in the pool's initializer) and reused for every
job that process runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import queue as queue_mod
import random
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import delete

from inspection.inputs import InputError
from models.durable_write import atomic_write
from server import audit
from server.archive import fetch_session
from server.context import AppContext
from server.jobs import JobHandler, JobInfo, PermanentJobError, ProgressFn
from server.parentwatch import die_with_parent
from server.store.models import FindingRow, InspectionReport, RecordingSession
from server.store.types import utcnow

log = logging.getLogger("kesu.worker")

T = TypeVar("T")

# How long a job waits for the media node to finish uploading a session that just ended
# (then it fails and is retried like any transient failure).
ARCHIVE_WAIT_S = 120.0

#: How long ``JobRunner.close`` waits for the worker processes to leave by themselves before
#: it ends them (a running job: the queue puts it back at the next start, see server/jobs.py).
STOP_GRACE_S = 2.0

# Process-local state of a worker process: set once by _init_process, read by the job
# functions. It lives only in the child process; the server process never touches it.
_PROCESS: dict[str, Any] = {}


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread while it spawns worker processes, which inherit the
    mask from their first instruction: Ctrl-C in a terminal reaches the whole process group,
    and a worker then printed a KeyboardInterrupt traceback from whatever it ran (its
    imports, waiting for a job). The server decides what happens to the workers (``close``).
    The server's own Ctrl-C is not lost: it goes to another of its threads, or waits until
    the mask is restored."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _init_process(models_dir: str, threads: int, progress_q: Any, parent_pid: int) -> None:
    # First thing: a worker holding ~650 MB of models must not outlive a killed server.
    die_with_parent(parent_pid)
    # Ctrl-C is the server's to act on (see _sigint_blocked): ignored for good here, then
    # unblocked so that one sent while this process started is dropped, not left pending.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    from inspection.pipeline import Inspector
    from inspection.rules import Thresholds
    from models.registry import ModelRegistry, default_cache_dir

    registry = ModelRegistry(default_cache_dir(), Path(models_dir) if models_dir else None)
    _PROCESS["inspector"] = Inspector(registry, Thresholds(), threads=threads)
    _PROCESS["progress"] = progress_q


def _inspect_in_process(job_id: int, session_dir: str) -> dict[str, Any]:
    from inspection.inputs import load_session_dir

    progress_q = _PROCESS["progress"]

    def progress(stage: str, fraction: float) -> None:
        progress_q.put((job_id, stage, fraction))

    inp = load_session_dir(Path(session_dir))
    report = _PROCESS["inspector"].run(inp, progress=progress)
    data: dict[str, Any] = report.to_dict()
    # Durable before the job is done: report.json is anchored in the audit chain next.
    raw = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
    atomic_write(Path(session_dir) / "report.json", raw)
    return data


def _worker_pid() -> int:
    return os.getpid()


def _review_video_in_process(session_dir: str) -> str:
    from server.rtc.review_video import make_review_video

    return str(make_review_video(Path(session_dir)))


class JobRunner:
    """Owns the worker processes and turns job kinds into handlers."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._mp = multiprocessing.get_context("spawn")
        self._progress_q = self._mp.Queue()
        self._executor = self._new_executor()
        #: Pools a dead worker process broke, being shut down off the loop.
        self._retired: set[asyncio.Task[None]] = set()
        self._progress_targets: dict[int, ProgressFn] = {}
        self._drain_task: asyncio.Task[None] | None = None

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=max(1, self.ctx.settings.workers),
            mp_context=self._mp,
            initializer=_init_process,
            initargs=(
                self.ctx.settings.models_dir,
                self.ctx.settings.worker_threads,
                self._progress_q,
                os.getpid(),
            ),
        )

    async def _in_process(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker process. A worker process that died (kill -9, the OOM
        killer, a crash in a decoder) breaks the whole pool: before, every later job failed
        with ``BrokenProcessPool`` until the server restarted. The pool is replaced, and the
        job that met it fails like any transient fault (the queue retries it)."""
        executor = self._executor
        try:
            with _sigint_blocked():  # submit spawns the missing worker processes
                call = asyncio.get_running_loop().run_in_executor(executor, fn, *args)
            return await call
        except BrokenProcessPool:
            if self._executor is executor:
                log.warning("a worker process died; starting new worker processes")
                self._executor = self._new_executor()
                self.start()
                task = asyncio.create_task(asyncio.to_thread(executor.shutdown, wait=True))
                self._retired.add(task)
                task.add_done_callback(self._retired.discard)
            raise

    def start(self) -> None:
        """Spawn the worker processes now rather than at the first job (they load in the
        background). Must run on the event loop's thread: the executor spawns from the
        thread that submits, and the workers' parent-death signal is tied to that thread
        (server/parentwatch.py)."""
        with _sigint_blocked():
            for _ in range(max(1, self.ctx.settings.workers)):
                self._executor.submit(_worker_pid)

    def handlers(self) -> dict[str, JobHandler]:
        return {"inspect": self.inspect, "review_video": self.review_video}

    @asynccontextmanager
    async def _session_dir(self, job: JobInfo) -> AsyncIterator[Path]:
        """The session's directory: local, or (with object storage) fetched from the store
        into a temporary directory whose outputs are uploaded and which is removed after."""
        session_id = str(job.payload.get("session_id", ""))
        path = self.ctx.settings.sessions_dir / session_id
        if session_id and (path / "metadata.json").is_file():
            yield path
            return
        archive = self.ctx.archive
        if not session_id or archive is None:
            raise PermanentJobError(f"session directory {path} not found")
        tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="kesu-job-"))
        try:
            try:
                fetched = await fetch_session(archive.store, session_id, tmp, wait_s=ARCHIVE_WAIT_S)
            except FileNotFoundError as exc:
                raise PermanentJobError(f"session {session_id} not in the store") from exc
            yield fetched
            await archive.upload_derived(fetched, session_id)
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, ignore_errors=True)

    async def _drain_progress(self) -> None:
        while True:
            try:
                job_id, stage, fraction = await asyncio.to_thread(self._progress_q.get, True, 0.5)
            except queue_mod.Empty:
                continue
            target = self._progress_targets.get(job_id)
            if target is not None:
                await target(stage, fraction)

    async def inspect(self, job: JobInfo, progress: ProgressFn) -> None:
        async with contextlib.AsyncExitStack() as stack:
            try:
                path = await stack.enter_async_context(self._session_dir(job))
            except PermanentJobError as exc:
                # Its files gone: before, the job failed while the session still said
                # "queued" to reviewers and admins, for good.
                await self._mark_failed(str(job.payload.get("session_id")), exc, permanent=True)
                raise
            except Exception as exc:
                # Not in the store yet (still uploading), the store out of reach: the queue
                # tries again, and the session says "failed" only if the last attempt fails
                # (before, it did so between retries, and reviewers took it for the end).
                await self._transient_failure(job, exc)
                raise
            await self._inspect(job, progress, path)

    def _last_attempt(self, job: JobInfo) -> bool:
        """Whether the queue gives up on ``job`` if this attempt fails transiently (both
        queues allow ``job_max_attempts`` attempts in all)."""
        return job.attempts >= self.ctx.settings.job_max_attempts

    async def _transient_failure(self, job: JobInfo, exc: Exception) -> None:
        """An attempt failed in a way that may pass: the session's inspection is ``queued``
        while the queue retries it, ``failed`` (of a transient kind, which the housekeeping
        sweep queues again later: server/inspection_resume.py) after the last attempt."""
        session_id = str(job.payload.get("session_id"))
        if self._last_attempt(job):
            await self._mark_failed(session_id, exc, permanent=False)
        else:
            await self._set_inspection_status(session_id, "queued")

    async def _mark_failed(self, session_id: str, exc: Exception, permanent: bool) -> None:
        """``failed``, with its kind in an ``inspection.failed`` audit entry (same
        transaction): whether retrying can help decides whether it is queued again."""
        async with self.ctx.db.session() as s:
            row = await s.get(RecordingSession, session_id)
            if row is None:
                return
            row.inspection_status = "failed"
            detail = {"permanent": permanent, "error": (str(exc) or repr(exc))[:500]}
            await audit.record(s, "system", "inspection.failed", session_id, detail)

    async def _inspect(self, job: JobInfo, progress: ProgressFn, path: Path) -> None:
        session_id = job.payload["session_id"]
        await self._set_inspection_status(session_id, "running")
        if self._drain_task is None:
            self._drain_task = asyncio.create_task(self._drain_progress())
        self._progress_targets[job.id] = progress
        try:
            report = await self._in_process(_inspect_in_process, job.id, str(path))
        except InputError as exc:
            # Nothing to inspect (a session ended before anyone joined) or a recording that
            # cannot be read: the same again on every attempt. Before, each was retried to
            # job_max_attempts, an ERROR traceback in the log each time.
            await self._mark_failed(session_id, exc, permanent=True)
            raise PermanentJobError(str(exc)) from exc
        except Exception as exc:
            await self._transient_failure(job, exc)
            raise
        finally:
            self._progress_targets.pop(job.id, None)
        await self.store_report(session_id, report)
        # report.json and the evidence thumbnails join the chain as soon as they exist.
        await audit.anchor_outputs(self.ctx.db.session, path, session_id)

    async def review_video(self, job: JobInfo, progress: ProgressFn) -> None:
        async with self._session_dir(job) as path:
            await self._review_video(job, progress, path)

    async def _review_video(self, job: JobInfo, progress: ProgressFn, path: Path) -> None:
        await progress("review_video", 0.0)
        try:
            out = Path(await self._in_process(_review_video_in_process, str(path)))
        except ValueError as exc:  # nothing was recorded
            raise PermanentJobError(str(exc)) from exc
        await audit.anchor_outputs(self.ctx.db.session, path, job.payload["session_id"])
        log.info("review video for %s: %s", job.payload["session_id"], out)

    async def _set_inspection_status(self, session_id: str, status: str) -> None:
        async with self.ctx.db.session() as s:
            row = await s.get(RecordingSession, session_id)
            if row is not None:
                row.inspection_status = status

    async def store_report(self, session_id: str, report: dict[str, Any]) -> None:
        """Keep the report and its findings; flagged sessions (and a sample of passes) join the queue."""
        findings = report.get("findings", [])
        async with self.ctx.db.session() as s:
            row = await s.get(RecordingSession, session_id)
            if row is None:
                raise PermanentJobError(f"session {session_id} vanished")
            await s.execute(delete(FindingRow).where(FindingRow.session_id == session_id))
            await s.execute(
                delete(InspectionReport).where(InspectionReport.session_id == session_id)
            )
            s.add(InspectionReport(session_id=session_id, report=report, created_at=utcnow()))
            for f in findings:
                s.add(
                    FindingRow(
                        session_id=session_id,
                        code=f["code"],
                        severity=f["severity"],
                        node=f.get("node"),
                        participant=f.get("participant"),
                        start_s=f.get("start_s"),
                        end_s=f.get("end_s"),
                        message=f["message"],
                        message_en=_english(f),
                        evidence=f.get("evidence") or {},
                    )
                )
            row.inspection_status = "done"
            row.verdict = report.get("verdict")
            row.finding_count = len(findings)
            severities = {f["severity"] for f in findings}
            row.worst_severity = (
                "fail" if "fail" in severities else ("review" if severities else None)
            )
            sampled = random.random() < self.ctx.settings.review_sample_rate
            if row.review_status == "none" and (findings or sampled):
                row.review_status = "queued"
            await audit.record(
                s,
                "system",
                "inspection.done",
                session_id,
                {
                    "verdict": row.verdict,
                    "findings": len(findings),
                    "sampled": bool(sampled and not findings),
                },
            )

    async def close(self, grace_s: float | None = None) -> None:
        """Stop the worker processes: waiting for their running jobs to finish (``grace_s``
        None: ``kesu worker``), or ending those still running after ``grace_s`` (``kesu
        serve``: a Ctrl-C no longer kills the jobs in the workers, and the server must not
        wait minutes for an inspection to end)."""
        if self._drain_task is not None:
            self._drain_task.cancel()
            await asyncio.gather(self._drain_task, return_exceptions=True)
        await asyncio.gather(*self._retired, return_exceptions=True)
        if grace_s is None:
            await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        else:
            await asyncio.to_thread(_stop_executor, self._executor, grace_s)
        self._progress_q.close()
        self._progress_q.join_thread()


def _stop_executor(executor: ProcessPoolExecutor, grace_s: float) -> None:
    """Shut ``executor`` down, ending (SIGTERM) the worker processes still busy after
    ``grace_s``; idle ones leave at once on the shutdown signal. Blocking: run on a thread."""
    # The executor has no public list of its processes before Python 3.14's
    # terminate_workers(); the attribute has been there since 3.2.
    processes = dict(getattr(executor, "_processes", None) or {})
    executor.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace_s
    for pid, process in processes.items():
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.info("ending worker process %d (a job was still running)", pid)
            process.terminate()
            process.join()
    executor.shutdown(wait=True)


def _english(finding: dict[str, Any]) -> str | None:
    """The finding's English message (reports of older versions have none)."""
    text = finding.get("message_en")
    return text if isinstance(text, str) and text else None
