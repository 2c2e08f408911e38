"""PostgreSQL stopped under a running server, then started again: every request in between
is a 503 ``database_unavailable`` with a Retry-After (never a 500), and the server serves
again by itself once the database is back (docs/errors.md, docs/operations.md)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from server.app import build_queue
from server.jobs import JobInfo, ProgressFn
from server.jobs_pg import ProcrastinateQueue
from server.localservers import fresh_database, postgres_start, postgres_stop
from server.rtc.client import ClientPeer
from server.store.db import Database
from server.store.outage import is_unreachable
from tests.conftest import (
    Client,
    add_test_users,
    make_settings,
    new_session_body,
    start_server,
    wait_for,
)
from tests.test_api_recording import start_call


def _unavailable(status: int, body: object) -> bool:
    return (
        status == 503
        and isinstance(body, dict)
        and body["error"]["code"] == "database_unavailable"
        and body["error"]["details"]["retry_after_s"] > 0
    )


async def test_requests_while_postgres_is_down(pg_admin: str, tmp_path: Path) -> None:
    url = await fresh_database(pg_admin)
    srv = await start_server(make_settings(tmp_path, database_url=url))
    await add_test_users(srv.ctx)
    sales, fresh = Client(srv.url), Client(srv.url)
    try:
        await sales.login("sales1")
        status, body = await sales.post("/api/sessions", json=new_session_body())
        assert status == 201, body
        sid = body["session"]["id"]
        await asyncio.to_thread(postgres_stop, pg_admin)
        try:
            answers = {
                "list": await sales.get("/api/sessions"),
                "detail": await sales.get(f"/api/sessions/{sid}"),
                "create": await sales.post("/api/sessions", json=new_session_body()),
                "end": await sales.post(f"/api/sessions/{sid}/end"),
                "login": await fresh.post(
                    "/api/login", json={"username": "sales2", "password": "correct-horse-9"}
                ),
            }
            for what, (status, body) in answers.items():
                assert _unavailable(status, body), (what, status, body)
            async with sales.http.get(f"{srv.url}/api/sessions") as r:
                assert r.headers["Retry-After"].isdigit()
            # Readiness says which check fails, also to a request that carries a login.
            status, body = await sales.get("/readyz")
            assert status == 503 and body["checks"]["database"]["ok"] is False, body
        finally:
            await asyncio.to_thread(postgres_start, pg_admin)
        # Back by itself: the pool's dead connections are replaced, the session ends.
        status, body = await sales.get("/api/sessions")
        assert status == 200, body
        status, body = await sales.post(f"/api/sessions/{sid}/end")
        assert status == 200 and body["session"]["status"] == "ended", body
        meta = json.loads((tmp_path / "data" / "sessions" / sid / "metadata.json").read_text())
        assert meta["status"] == "ended"
    finally:
        await sales.close()
        await fresh.close()
        await srv.runner.cleanup()


async def test_job_worker_survives_a_postgres_restart(pg_admin: str, tmp_path: Path) -> None:
    """procrastinate's worker stops when its heartbeat or listener meets a database error:
    the queue starts it again, so jobs queued after the outage still run."""
    url = await fresh_database(pg_admin)
    settings = make_settings(
        tmp_path, database_url=url, workers=1, job_poll_s=0.2, job_stalled_after_s=3
    )
    db = Database(url)
    await db.migrate()
    queue = build_queue(db, settings)
    assert isinstance(queue, ProcrastinateQueue)
    ran: list[int] = []

    async def record(job: JobInfo, progress: ProgressFn) -> None:
        ran.append(job.payload["n"])

    worker = asyncio.create_task(queue.run_worker({"record": record}, 1))
    try:
        await queue.enqueue("record", {"n": 1})
        await wait_for(lambda: ran == [1], 60)
        # A stop cuts every connection, the worker's listener's too: it fails at once,
        # however short the outage.
        await asyncio.to_thread(postgres_stop, pg_admin)
        await asyncio.to_thread(postgres_start, pg_admin)
        await queue.enqueue("record", {"n": 2})
        await wait_for(lambda: ran == [1, 2], 60)
        assert not worker.done()
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await queue.close()
        await db.close()


async def test_a_call_keeps_recording_while_postgres_is_down(pg_admin: str, tmp_path: Path) -> None:
    """The media path and metadata.json need no database: the recordings grow through the
    outage, ending is refused with a 503 until the database is back (the room stays open),
    then the session ends with every segment finished and hashed."""
    url = await fresh_database(pg_admin)
    srv = await start_server(make_settings(tmp_path, database_url=url))
    await add_test_users(srv.ctx)
    sales, customer = Client(srv.url), Client(srv.url)
    peers: list[ClientPeer] = []
    try:
        await sales.login("sales1")
        sid, _token = await start_call(sales, customer, peers)
        sdir = tmp_path / "data" / "sessions" / sid

        def recorded() -> int:
            return sum(p.stat().st_size for p in sdir.glob("*.mkv"))

        await asyncio.to_thread(postgres_stop, pg_admin)
        try:
            at_stop = recorded()
            await wait_for(lambda: recorded() > at_stop + 20_000, 60)
            status, body = await sales.post(f"/api/sessions/{sid}/end")
            assert _unavailable(status, body), (status, body)
            frames = [p.received.frames["video"] for p in peers]
            await wait_for(
                lambda: all(
                    p.received.frames["video"] > f for p, f in zip(peers, frames, strict=True)
                )
            )
        finally:
            await asyncio.to_thread(postgres_start, pg_admin)
        status, body = await sales.post(f"/api/sessions/{sid}/end")
        assert status == 200, body
        meta = json.loads((sdir / "metadata.json").read_text())
        assert meta["status"] == "ended"
        assert {s["participant"] for s in meta["segments"]} == {"salesperson", "customer"}
        assert all(s["status"] == "finished" and s["sha256"] for s in meta["segments"])
    finally:
        for peer in peers:
            await peer.close()
        await sales.close()
        await customer.close()
        await srv.runner.cleanup()


async def test_a_connection_killed_under_a_transaction_is_unreachable(pg_admin: str) -> None:
    """pg_terminate_backend (an operator, a failover) under a transaction: the error is told
    apart from a faulty statement (503, not 500), and the next unit of work reconnects."""
    url = await fresh_database(pg_admin)
    db = Database(url)
    try:
        with pytest.raises(DBAPIError) as caught:
            async with db.session() as s:
                pid = await s.scalar(text("SELECT pg_backend_pid()"))
                async with await psycopg.AsyncConnection.connect(pg_admin, autocommit=True) as c:
                    await c.execute("SELECT pg_terminate_backend(%s)", (pid,))
                await s.execute(text("SELECT 1"))
        assert is_unreachable(caught.value)
        with pytest.raises(DBAPIError) as bad:
            async with db.session() as s:
                await s.execute(text("SELECT * FROM no_such_table"))
        assert not is_unreachable(bad.value)
        async with db.session() as s:
            assert await s.scalar(text("SELECT 1")) == 1
    finally:
        await db.close()
