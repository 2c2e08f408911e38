"""Only the node holding a session queued its inspection again (no job behind ``queued``, or a
transient failure): the ended sessions of a node that never came back were never inspected.
Now a live node's sweep takes such a session over, once, when it can read its files,
and says so once when it cannot (server.inspection_adopt). Three nodes on one SQLite
database, then on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from server import audit, housekeeping, inspection_resume, session_end
from server import inspection_adopt as adopt
from server.archive import key_of, stored_final
from server.localservers import S3Server, fresh_database
from server.session_format import METADATA
from server.store.models import AuditEntry, MediaNode, RecordingSession
from server.store.types import utcnow
from tests.conftest import Client, RunningServer, add_test_users
from tests.test_api_recording import open_session
from tests.test_inspection_resume import _end_recorded
from tests.test_media_nodes import start_node
from tests.test_storage_outage import _gate, _storage, s3  # noqa: F401 (s3: a fixture)

Nodes = tuple[RunningServer, RunningServer, RunningServer]


@pytest.fixture(params=["sqlite", "postgresql"])
async def three_nodes(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Nodes]:
    db: dict[str, Any] = {}
    if request.param == "postgresql":
        db["database_url"] = await fresh_database(request.getfixturevalue("pg_admin"))
    slow = {**SLOW, **db}
    a = await start_node(tmp_path, "node-a", **slow)
    b = await start_node(tmp_path, "node-b", **slow)
    c = await start_node(tmp_path, "node-c", **slow)
    await add_test_users(a.ctx)
    try:
        yield a, b, c
    finally:
        for node in (a, b, c):
            await node.runner.cleanup()


async def _ended_on_b_without_jobs(b: RunningServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A session b holds, ended while the database failed before its jobs were queued."""

    async def fault(ctx: Any, session_id: str) -> None:
        raise OperationalError("INSERT INTO jobs", {}, Exception("database is locked"))

    sales = Client(b.url)
    try:
        await sales.login("sales1")
        sid, _token = await open_session(sales)
        with monkeypatch.context() as m:
            m.setattr(session_end, "_enqueue_jobs", fault)
            status, body = await sales.post(f"/api/sessions/{sid}/end")
        assert status == 503, body
    finally:
        await sales.close()
    assert await _holder(b, sid) == ("node-b", "queued")
    return sid


async def _holder(srv: RunningServer, sid: str) -> tuple[str | None, str]:
    async with srv.ctx.db.read() as s:
        row = await s.get(RecordingSession, sid)
    assert row is not None
    return row.node_id, row.inspection_status


async def _entries(srv: RunningServer, sid: str, action: str) -> list[dict[str, Any]]:
    query = (
        select(AuditEntry)
        .where(AuditEntry.session_id == sid, AuditEntry.action == action)
        .order_by(AuditEntry.seq)
    )
    async with srv.ctx.db.read() as s:
        return [{"actor": e.actor, **e.detail} for e in (await s.execute(query)).scalars()]


async def _b_dies(a: RunningServer) -> None:
    """b's last beat ages past node_dead_after_s (its app stays up: it must not matter)."""
    old = utcnow() - timedelta(seconds=a.ctx.settings.node_dead_after_s + 1)
    async with a.ctx.db.session() as s:
        await s.execute(update(MediaNode).where(MediaNode.id == "node-b").values(heartbeat_at=old))


#: Neither node beats again after starting: the test decides when b looks dead to a.
SLOW = {"node_heartbeat_s": 3600.0, "node_dead_after_s": 3600.0}


def _file_store(tmp_path: Path) -> dict[str, Any]:
    """a's settings with an object store on disk that b never archived to."""
    store = tmp_path / "store"
    store.mkdir()
    return {"storage_url": store.as_uri(), **SLOW}


#: The one ``inspection.unreadable`` entry of a session of b that a could not read.
NOTED_BY_A = [{"actor": "system", "node": "node-b", "by": "node-a"}]


async def _stop(*started: RunningServer | None) -> None:
    for node in started:
        if node is not None:
            await node.runner.cleanup()


def _clock_ahead(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The adopting nodes' clock ``seconds`` ahead: their rechecks of unreadable sessions
    come due without the test waiting minutes."""
    monkeypatch.setattr(adopt, "utcnow", lambda: utcnow() + timedelta(seconds=seconds))


async def test_a_dead_nodes_unqueued_inspection_is_taken_over_once(
    three_nodes: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = three_nodes
    sid = await _ended_on_b_without_jobs(b, monkeypatch)

    # b is alive: its session is b's to resume.
    assert await inspection_resume.resume_unqueued(a.ctx, 0.0) == []

    # b dies, and a cannot read the session's files (b's own disk, no object store): it
    # leaves the session to b and says so once, however often it sweeps.
    await _b_dies(a)
    sdir = a.ctx.settings.sessions_dir / sid
    away = sdir.with_name(f"{sid}.elsewhere")
    shutil.move(sdir, away)
    assert await inspection_resume.resume_unqueued(a.ctx, 0.0) == []
    assert await inspection_resume.resume_unqueued(a.ctx, 0.0) == []
    assert await _holder(a, sid) == ("node-b", "queued")
    assert await _entries(a, sid, "inspection.unreadable") == [
        {"actor": "system", "node": "node-b", "by": "node-a"}
    ]
    assert await a.ctx.queue.active("inspect", [sid]) == set()

    # Shared storage (here: the same disk): the two live nodes sweep at once (a's recheck of
    # the session is due); one takes it over and queues it, once.
    shutil.move(away, sdir)
    _clock_ahead(monkeypatch, adopt.RECHECK_FIRST_S + 1)
    first, second = await asyncio.gather(
        inspection_resume.resume_unqueued(a.ctx, 0.0),
        inspection_resume.resume_unqueued(c.ctx, 0.0),
    )
    assert sorted(first + second) == [sid]
    assert await _holder(a, sid) == ("node-a" if first else "node-c", "queued")
    assert await a.ctx.queue.active("inspect", [sid]) == {sid}
    assert await _entries(a, sid, "inspection.requeued") == [
        {"actor": "system", "reason": "not_queued", "adopted_from": "node-b"}
    ]
    for node in (a, c):
        assert await inspection_resume.resume_unqueued(node.ctx, 0.0) == []


async def test_a_dead_nodes_transient_failure_is_queued_again_once(
    three_nodes: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = three_nodes
    monkeypatch.setattr(inspection_resume, "REQUEUE_AFTER_S", (0.0, 0.0, 0.0))
    sid = await _ended_on_b_without_jobs(b, monkeypatch)
    async with b.ctx.db.session() as s:
        await s.execute(
            update(RecordingSession)
            .where(RecordingSession.id == sid)
            .values(inspection_status="failed")
        )
        detail = {"permanent": False, "error": "store out of reach"}
        await audit.record(s, "system", "inspection.failed", sid, detail)

    assert await inspection_resume.requeue_failed(a.ctx) == []  # b is alive
    await _b_dies(a)
    first, second = await asyncio.gather(
        inspection_resume.requeue_failed(a.ctx), inspection_resume.requeue_failed(c.ctx)
    )
    assert sorted(first + second) == [sid]
    assert await _holder(a, sid) == ("node-a" if first else "node-c", "queued")
    assert await a.ctx.queue.active("inspect", [sid]) == {sid}
    assert await _entries(a, sid, "inspection.requeued") == [
        {"actor": "system", "reason": "transient_failure", "requeue": 1, "adopted_from": "node-b"}
    ]


async def test_an_unheld_sessions_inspection_is_claimed_by_one_live_node(
    three_nodes: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session with no holder (made before nodes recorded one) counts as every live node's:
    the sweeps of all of them at once queue its inspection once, and the one that did holds
    it from then on."""
    nodes = three_nodes
    sid = await _ended_on_b_without_jobs(nodes[1], monkeypatch)
    async with nodes[0].ctx.db.session() as s:
        await s.execute(
            update(RecordingSession).where(RecordingSession.id == sid).values(node_id=None)
        )

    found = await asyncio.gather(*(inspection_resume.resume_unqueued(n.ctx, 0.0) for n in nodes))
    assert sorted(sum(found, [])) == [sid]
    claimer = next(n for n, queued in zip(nodes, found, strict=True) if queued)
    assert await _holder(claimer, sid) == (claimer.ctx.settings.node_id, "queued")
    assert await claimer.ctx.queue.active("inspect", [sid]) == {sid}
    assert await _entries(claimer, sid, "inspection.requeued") == [
        {"actor": "system", "reason": "not_queued"}
    ]
    for node in nodes:
        assert await inspection_resume.resume_unqueued(node.ctx, 0.0) == []


async def _dead_b_sessions_elsewhere(
    b: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> list[str]:
    """``count`` sessions b holds, ended without their jobs; then b dies, and their files are
    on b's own disk only (moved out of the sessions folder the nodes share here, before the
    adopting node starts: its archiver, watching that folder, would upload them)."""
    await add_test_users(b.ctx)
    sids = [await _ended_on_b_without_jobs(b, monkeypatch) for _ in range(count)]
    await _b_dies(b)
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    for sid in sids:
        shutil.move(b.ctx.settings.sessions_dir / sid, tmp_path / "elsewhere" / sid)
    return sids


def _sweeper(
    monkeypatch: pytest.MonkeyPatch, node: RunningServer
) -> Callable[[float], Awaitable[int]]:
    """A sweep of ``node`` (that queues nothing) with its clock ``ahead_s`` ahead; returns how
    many object-store reads ``node`` made from now on."""
    reads = _count_reads(monkeypatch, node)

    async def sweep(ahead_s: float) -> int:
        _clock_ahead(monkeypatch, ahead_s)
        assert await inspection_resume.resume_unqueued(node.ctx, 0.0) == []
        return len(reads)

    return sweep


def _count_reads(monkeypatch: pytest.MonkeyPatch, node: RunningServer) -> list[str]:
    """The keys ``node`` reads from its object store from now on."""
    assert node.ctx.archive is not None
    reads: list[str] = []
    store = node.ctx.archive.store
    get_bytes = store.get_bytes

    async def counted(key: str) -> bytes:
        reads.append(key)
        return await get_bytes(key)

    monkeypatch.setattr(store, "get_bytes", counted)
    return reads


async def test_an_unreadable_session_is_looked_at_again_only_when_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead node's session this node cannot read costs an object-store read when its
    recheck is due (a few minutes, growing), not at every sweep (every few seconds); after
    a restart too (from the time of its audit entry)."""
    a_settings = _file_store(tmp_path)
    b = await start_node(tmp_path, "node-b", **SLOW)
    a: RunningServer | None = None
    try:
        [sid] = await _dead_b_sessions_elsewhere(b, tmp_path, monkeypatch, 1)
        sdir = b.ctx.settings.sessions_dir / sid
        away = tmp_path / "elsewhere" / sid
        a = await start_node(tmp_path, "node-a", **a_settings)
        sweep = _sweeper(monkeypatch, a)

        first = adopt.RECHECK_FIRST_S
        assert await sweep(0.0) == 1
        assert await sweep(0.0) == 1  # the next sweep, seconds later
        assert await sweep(first / 2) == 1
        assert await sweep(first + 1) == 2  # due: looked at again
        assert await sweep(first + 2) == 2
        assert await sweep(2.5 * first) == 2  # the interval doubled
        assert await sweep(first + 2 * first + 2) == 3
        assert await _entries(a, sid, "inspection.unreadable") == NOTED_BY_A

        # a restarts: due again RECHECK_FIRST_S after its audit entry, not at once.
        await a.runner.cleanup()
        a = await start_node(tmp_path, "node-a", **a_settings)
        sweep = _sweeper(monkeypatch, a)
        assert await sweep(0.0) == 0
        assert await sweep(first + 1) == 1

        # The files where a reads them: at its next due look, a takes the session over.
        shutil.move(away, sdir)
        assert await sweep(first + 2) == 1
        _clock_ahead(monkeypatch, first + 2 * first + 2)
        assert await inspection_resume.resume_unqueued(a.ctx, 0.0) == [sid]
        assert await _holder(a, sid) == ("node-a", "queued")
        assert await _entries(a, sid, "inspection.unreadable") == NOTED_BY_A
    finally:
        await _stop(a, b)


async def test_a_silent_store_is_asked_again_only_when_due(
    s3: S3Server,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the object store does not answer, a dead node's sessions cost one read per sweep
    at most (the first; the others wait with it), then each waits its recheck (growing), not
    a read at every sweep: a read of a silent store can take minutes of retries. Once the
    store answers, each is looked at and said unreadable once."""
    gate = _gate(s3)  # shut: the store does not answer
    b = await start_node(tmp_path, "node-b", **SLOW)
    a: RunningServer | None = None
    try:
        sids = await _dead_b_sessions_elsewhere(b, tmp_path, monkeypatch, 2)
        a = await start_node(tmp_path, "node-a", **_storage(s3, gate, "adopt-silent"), **SLOW)
        sweep = _sweeper(monkeypatch, a)

        first = adopt.UNANSWERED_FIRST_S
        assert await sweep(0.0) == 1
        assert await sweep(0.0) == 1  # the next sweep, seconds later
        assert await sweep(first / 2) == 1
        assert await sweep(first + 1) == 2  # due: asked again (and silent again)
        assert await sweep(first + 2) == 2
        assert await sweep(2.5 * first) == 2  # the interval doubled
        for sid in sids:
            assert await _holder(a, sid) == ("node-b", "queued")
            assert await _entries(a, sid, "inspection.unreadable") == []

        await gate.open()
        assert await sweep(3 * first + 1) == 4  # both asked: b never archived there
        assert await sweep(3 * first + 2) == 4
        for sid in sids:
            assert await _entries(a, sid, "inspection.unreadable") == NOTED_BY_A
    finally:
        await _stop(a, b)
        await gate.shut()


async def test_a_restart_keeps_each_sessions_place_in_the_recheck_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recheck times live in memory: a node restarted hours after it said it cannot read
    a dead node's sessions takes up their schedule from the audit entries. Each is looked at
    when the schedule counted from its entry says (no session forgotten), not every one at
    the first sweep with the intervals begun again (a read per session, then every 5
    minutes)."""
    a_settings = _file_store(tmp_path)
    b = await start_node(tmp_path, "node-b", **SLOW)
    a: RunningServer | None = None
    try:
        sids = await _dead_b_sessions_elsewhere(b, tmp_path, monkeypatch, 2)
        a = await start_node(tmp_path, "node-a", **a_settings)
        assert await inspection_resume.resume_unqueued(a.ctx, 0.0) == []
        for sid in sids:
            assert len(await _entries(a, sid, "inspection.unreadable")) == 1

        await a.runner.cleanup()
        a = await start_node(tmp_path, "node-a", **a_settings)
        sweep = _sweeper(monkeypatch, a)

        # Looks counted from the entries: 5, 15, 35, 75, 135 minutes after, then hourly.
        first, most = adopt.RECHECK_FIRST_S, adopt.RECHECK_MAX_S
        looks, interval = [first], first
        while len(looks) < 14:
            interval = min(2 * interval, most)
            looks.append(looks[-1] + interval)
        assert looks[4] == 8100.0 and looks[-1] == 40500.0
        assert await sweep(looks[-1] - 600) == 0  # 11 hours later: the next look is not due
        assert await sweep(looks[-1] + 1) == 2  # due: both looked at
        assert await sweep(looks[-1] + most / 2) == 2  # then an hour on, not 5 minutes
        assert await sweep(looks[-1] + most + 2) == 4
        for sid in sids:
            assert await _holder(a, sid) == ("node-b", "queued")
            assert len(await _entries(a, sid, "inspection.unreadable")) == 1
    finally:
        await _stop(a, b)


async def _end_cut_before_queued(srv: RunningServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A session with a recording on ``srv``, whose end the database cut short after the
    claim and the files (``ended``, inspection ``pending``: no audit entry, no job)."""
    record = audit.record

    async def fail_the_end_entry(db: Any, actor: str, action: str, *args: Any) -> Any:
        if action == "session.end":
            raise OperationalError("INSERT INTO audit_log", {}, Exception("disk I/O error"))
        return await record(db, actor, action, *args)

    sid, status, body = await _end_recorded(srv, monkeypatch, audit, "record", fail_the_end_entry)
    assert status == 503, body
    assert await _holder(srv, sid) == (srv.ctx.settings.node_id, "pending")
    return sid


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_a_dead_nodes_end_cut_short_is_finished_from_the_object_store(
    s3: S3Server,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    database: str,
) -> None:
    """A node keeping its files on its own disk and in the object store died with ends the
    database had cut short (``pending``): the sweep finished only ends whose files were on
    its own disk, so these were never audited nor inspected, and nothing said so. Now a live
    node finishes the end of one the store holds ended with every segment archived (taking
    it over once), and says once of one it holds not that far that it cannot read it."""
    gate = _gate(s3)
    await gate.open()
    storage = {**_storage(s3, gate, f"adopt-end-{database}"), **SLOW}
    if database == "postgresql":
        storage["database_url"] = await fresh_database(request.getfixturevalue("pg_admin"))
    b = await start_node(tmp_path, "node-b", **storage)
    a: RunningServer | None = None
    try:
        await add_test_users(b.ctx)
        done, partial = [await _end_cut_before_queued(b, monkeypatch) for _ in range(2)]
        assert b.ctx.archive is not None
        store = b.ctx.archive.store
        for sid in (done, partial):
            await wait_for_store(lambda sid=sid: stored_final(store, sid))
        meta = json.loads(await store.get_bytes(key_of(done, METADATA)))
        files = {seg["file"]: seg["sha256"] for seg in meta["segments"]}
        assert list(files) == ["salesperson-000.mkv"]
        await store.delete(key_of(partial, METADATA))  # as if b died before uploading it
        await _b_dies(b)
        await b.runner.cleanup()
        (tmp_path / "elsewhere").mkdir()
        for sid in (done, partial):  # b's own disk, gone with b
            shutil.move(b.ctx.settings.sessions_dir / sid, tmp_path / "elsewhere" / sid)

        a = await start_node(tmp_path, "node-a", **storage)
        # (Called with no grace: the housekeeping loop's own sweep waits END_GRACE_S.)
        assert await housekeeping.resume_cut_ends(a.ctx, 0.0) == [done]
        assert await housekeeping.resume_cut_ends(a.ctx, 0.0) == []
        assert await _holder(a, done) == ("node-a", "queued")
        assert await _entries(a, done, "session.end") == [
            {"actor": "system", "reason": "end_resumed", "files": files, "adopted_from": "node-b"}
        ]
        for kind in ("inspect", "review_video"):
            assert await a.ctx.queue.active(kind, [done, partial]) == {done}
        assert await _holder(a, partial) == ("node-b", "pending")
        assert await _entries(a, partial, "session.end") == []
        assert await _entries(a, partial, "inspection.unreadable") == NOTED_BY_A
    finally:
        await _stop(a, b)
        await gate.shut()


async def wait_for_store(check: Any, limit_s: float = 60.0) -> None:
    """Until ``check()`` (a coroutine) is true: the archiver uploads in the background."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "never stored"
        await asyncio.sleep(0.1)
