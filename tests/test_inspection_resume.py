"""The database failing after ending wrote ``inspection_status=queued`` and before the jobs
were queued left a session ``queued`` with no job behind it, for good: the sweep resumed
only ends cut short before that (``pending``). Now it queues the inspection (and the review
video), once, on the embedded SQLite queue and on procrastinate over PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from server import audit, housekeeping, inspection_resume, session_end
from server.localservers import fresh_database, postgres_start, postgres_stop
from server.store import db as db_module
from server.store.models import Job
from tests.conftest import Client, RunningServer, make_settings, serving
from tests.test_api_recording import open_session
from tests.worker_jobs import record_a_segment, swept_twice

Fault = Callable[[], Awaitable[None]]


async def _end_cut_after_queued(
    srv: RunningServer, monkeypatch: pytest.MonkeyPatch, fail: Fault, heal: Fault
) -> str:
    """A session with a recording, ended while the database fails right after its
    inspection was marked ``queued`` (and its end audited); the database is back when this
    returns."""
    enqueue_jobs = session_end._enqueue_jobs

    async def fail_then_enqueue(ctx: Any, session_id: str) -> None:
        await fail()  # the fault: before the jobs
        await enqueue_jobs(ctx, session_id)

    try:
        sid, status, body = await _end_recorded(
            srv, monkeypatch, session_end, "_enqueue_jobs", fail_then_enqueue
        )
    finally:
        await heal()
    assert status == 503, body
    return sid


async def _end_recorded(
    srv: RunningServer, monkeypatch: pytest.MonkeyPatch, obj: object, name: str, fault: object
) -> tuple[str, int, Any]:
    """A session with a recording, ended (by its salesperson) while ``obj.name`` is
    ``fault``; returns its id and the end's status and body."""
    sales = Client(srv.url)
    try:
        await sales.login("sales1")
        sid, _token = await open_session(sales)
        await record_a_segment(srv, sid)
        with monkeypatch.context() as m:
            m.setattr(obj, name, fault)
            status, body = await sales.post(f"/api/sessions/{sid}/end")
    finally:
        await sales.close()
    return sid, status, body


async def _assert_resumed_once(srv: RunningServer, sid: str, lost_row: bool = False) -> None:
    async with srv.ctx.db.session() as s:
        assert (await s.execute(select(Job))).first() is None  # the fault's effect
        if lost_row:  # PostgreSQL: the rows of enqueues whose defer the fault cut off
            s.add(Job(kind="review_video", payload={"session_id": sid}))
            s.add(Job(kind="inspect", payload={"session_id": sid}))
    row, jobs, entries = await swept_twice(srv, sid, "inspection.requeued")
    assert row.status == "ended" and row.inspection_status == "queued"
    assert sorted(jobs) == ["inspect"] * (1 + lost_row) + ["review_video"] * (1 + lost_row), jobs
    for kind in ("inspect", "review_video"):
        query = select(Job.status).where(Job.kind == kind).order_by(Job.id)
        async with srv.ctx.db.read() as s:
            statuses = list((await s.execute(query)).scalars())
        # A lost row is no job: not counted in the metrics, and no reason not to queue the video.
        assert statuses == ["failed"] * lost_row + ["queued"], (kind, statuses)
        assert await srv.ctx.queue.active(kind, [sid, "s-other"]) == {sid}
    assert [(e.actor, e.detail) for e in entries] == [("system", {"reason": "not_queued"})]


async def test_a_queued_inspection_without_a_job_is_queued_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(housekeeping, "END_GRACE_S", 0.0)
    holder: list[sqlite3.Connection] = []

    async def lock() -> None:
        conn = sqlite3.connect(tmp_path / "data" / "kesu.db", isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        holder.append(conn)

    async def unlock() -> None:
        for conn in holder:
            conn.close()  # rolls the lock back

    try:
        async with serving(make_settings(tmp_path)) as srv:
            sid = await _end_cut_after_queued(srv, monkeypatch, lock, unlock)
            await _assert_resumed_once(srv, sid)
    finally:
        await unlock()


async def test_a_queued_inspection_without_a_job_is_queued_on_postgres(
    pg_admin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(housekeeping, "END_GRACE_S", 0.0)
    url = await fresh_database(pg_admin)

    async def stop() -> None:
        await asyncio.to_thread(postgres_stop, pg_admin)

    async def start() -> None:
        await asyncio.to_thread(postgres_start, pg_admin)

    async with serving(make_settings(tmp_path, database_url=url)) as srv:
        sid = await _end_cut_after_queued(srv, monkeypatch, stop, start)
        await _assert_resumed_once(srv, sid, lost_row=True)


async def test_a_fault_before_the_end_entry_leaves_no_end_unaudited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``queued`` was committed before the ``session.end`` entry was written: a fault between
    them left an ended session whose end the audit trail never recorded (the sweep queued
    its jobs, and wrote no entry). Now both are one transaction; the sweep finishes the end."""
    monkeypatch.setattr(housekeeping, "END_GRACE_S", 0.0)
    record = audit.record
    faults: list[str] = []

    async def fail_the_end_entry(db: Any, actor: str, action: str, *args: Any) -> Any:
        if action == "session.end" and not faults:
            faults.append(action)
            raise OperationalError("INSERT INTO audit_log", {}, Exception("disk I/O error"))
        return await record(db, actor, action, *args)

    async with serving(make_settings(tmp_path)) as srv:
        sid, status, body = await _end_recorded(
            srv, monkeypatch, audit, "record", fail_the_end_entry
        )
        assert status == 503 and faults, body
        row, jobs, ends = await swept_twice(srv, sid, "session.end")
        assert row.status == "ended" and row.inspection_status == "queued"
        assert sorted(jobs) == ["inspect", "review_video"], jobs
        assert [(e.actor, e.detail["reason"]) for e in ends] == [("system", "end_resumed")]
        assert await srv.ctx.queue.active("inspect", [sid]) == {sid}


async def test_the_sweep_reads_the_queue_as_often_for_many_sessions_as_for_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queuing again the inspections left without a job looked each session's review video
    up in the queue with its own two queries (N+1): now the reads of the job tables are the
    same however many sessions the sweep queues."""

    async def fault(ctx: Any, session_id: str) -> None:
        raise OperationalError("INSERT INTO jobs", {}, Exception("database is locked"))

    async with serving(make_settings(tmp_path)) as srv:
        engines = {srv.ctx.db.engine.sync_engine, srv.ctx.db.read_engine.sync_engine}
        engines.update(srv.ctx.db.sync_engines + srv.ctx.db.write_engines)

        async def job_reads(count: int) -> int:
            sids = []
            sales = Client(srv.url)
            try:
                await sales.login("sales1")
                for _ in range(count):
                    sid, _token = await open_session(sales)
                    with monkeypatch.context() as m:
                        m.setattr(session_end, "_enqueue_jobs", fault)
                        status, body = await sales.post(f"/api/sessions/{sid}/end")
                    assert status == 503, body
                    sids.append(sid)
            finally:
                await sales.close()
            reads: list[str] = []

            def seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
                if statement.lstrip().upper().startswith("SELECT") and "jobs" in statement:
                    if any(sid in str(params) for sid in sids):
                        reads.append(statement)

            for engine in engines:
                event.listen(engine, "before_cursor_execute", seen)
            try:
                assert sorted(await inspection_resume.resume_unqueued(srv.ctx, 0.0)) == sorted(sids)
            finally:
                for engine in engines:
                    event.remove(engine, "before_cursor_execute", seen)
            for sid in sids:  # the review video and the inspection, each once
                assert await srv.ctx.queue.active("review_video", [sid]) == {sid}
                assert await srv.ctx.queue.active("inspect", [sid]) == {sid}
            return len(reads)

        assert srv.ctx.settings.make_review_video
        assert await job_reads(4) == await job_reads(1)
