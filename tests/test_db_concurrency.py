"""SQLite under concurrency: reads never take the write lock, static files never touch the database,
and a burst of logins, reads and writes gets no 5xx."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from server import audit
from server.store import db as db_module
from server.store.models import User
from tests.conftest import PASSWORD, Client, RunningServer, new_session_body


@asynccontextmanager
async def write_lock_held(server: RunningServer) -> AsyncIterator[None]:
    """Another process's writer, mid-transaction: SQLite's one write lock is taken.

    Taken in a thread: the server shares this event loop and may be finishing a write of its
    own (metadata anchoring) that must be able to commit first."""
    path = server.ctx.settings.data_dir / "kesu.db"

    def take() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")
        return conn

    conn = await asyncio.to_thread(take)
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def test_reads_and_static_files_need_no_write_lock(client_factory: Any, server: Any) -> None:
    c = await client_factory("sales1")
    status, _ = await c.post("/api/sessions", json=new_session_body())
    assert status == 201
    async with write_lock_held(server):
        # Before the fix each of these waited out the busy timeout and answered 500.
        status, me = await asyncio.wait_for(c.get("/api/me"), 8)
        assert status == 200, me
        status, body = await asyncio.wait_for(c.get("/api/sessions"), 8)
        assert status == 200 and len(body["sessions"]) == 1, body
        status, js = await asyncio.wait_for(c.get("/static/js/api.js"), 8)
        assert status == 200 and b"export" in js


async def test_read_sessions_refuse_to_write(server: RunningServer) -> None:
    with pytest.raises(OperationalError, match="readonly"):
        async with server.ctx.db.read() as s:
            s.add(User(username="sneaky", role="admin", password_hash="x"))


async def test_burst_of_logins_reads_and_writes_has_no_5xx(server: RunningServer) -> None:
    async def one(name: str) -> list[int]:
        c = Client(server.url)
        seen = []
        try:
            for _ in range(3):
                body = await c.login(name)
                assert body["user"]["username"] == name
                seen.append(200)
                seen.append((await c.get("/api/sessions"))[0])
                seen.append((await c.get("/api/me"))[0])
                seen.append((await c.get("/static/js/login.js"))[0])
                if name.startswith("sales"):
                    seen.append((await c.post("/api/sessions", json=new_session_body()))[0])
        finally:
            await c.close()
        return seen

    names = [("sales1", "sales2", "rev1", "admin")[i % 4] for i in range(20)]
    results = await asyncio.gather(*(one(n) for n in names), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    statuses = [s for r in results if isinstance(r, list) for s in r]
    assert statuses and all(s < 500 for s in statuses), sorted(set(statuses))
    assert set(statuses) <= {200, 201, 403}, sorted(set(statuses))
    assert PASSWORD  # the fixture's users share one password


async def test_a_writer_waits_for_another_process_instead_of_failing(
    client_factory: Any, server: RunningServer
) -> None:
    c = await client_factory("sales1")
    async with write_lock_held(server):
        pending = asyncio.ensure_future(c.post("/api/sessions", json=new_session_body()))
        await asyncio.sleep(1.5)
        assert not pending.done()  # waiting for the lock, not failed
    status, body = await asyncio.wait_for(pending, 20)
    assert status == 201, body


class WriteTransactions:
    """Every write transaction of the server's write engine, with the file operations under
    ``root`` that happened (on any thread) while one was open: a write transaction holds
    SQLite's one write lock, so file I/O inside it makes every other writer wait for a disk."""

    def __init__(self, db: Any, root: Path) -> None:
        self.root = str(root)
        self.open = False
        self.count = 0
        self.file_ops: list[tuple[str, str]] = []
        self.actions: list[list[str]] = []
        for engine in db.write_engines:
            event.listen(engine, "begin", self._begin)
            event.listen(engine, "commit", self._end)
            event.listen(engine, "rollback", self._end)
        sys.addaudithook(self._audit)  # cannot be removed: it checks `self.open` and the root

    def _begin(self, _conn: Any) -> None:
        self.open = True
        self.count += 1
        self.actions.append([])

    def _end(self, _conn: Any) -> None:
        self.open = False

    def _audit(self, name: str, args: tuple[Any, ...]) -> None:
        if not self.open or name not in ("open", "os.mkdir", "os.rename", "os.replace"):
            return
        if args and isinstance(args[0], str | Path) and str(args[0]).startswith(self.root):
            self.file_ops.append((name, str(args[0])))


async def test_session_creation_is_one_short_write_transaction(
    client_factory: Any, server: RunningServer
) -> None:
    """No file I/O while the write lock is held, and metadata.json is anchored in the same
    transaction as the session (not in a second write that queues behind the others)."""
    c = await client_factory("sales1")
    root = server.ctx.settings.sessions_dir.absolute()
    assert server.ctx.anchorer is not None
    await server.ctx.anchorer.flush()
    seen = WriteTransactions(server.ctx.db, root)
    status, body = await c.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    session_id = body["session"]["id"]
    await server.ctx.anchorer.flush()
    assert (root / session_id / "metadata.json").is_file()
    assert seen.file_ops == [], seen.file_ops
    assert seen.count == 1, seen.count
    async with server.ctx.db.read() as s:
        entries = await audit.session_entries(s, session_id)
        anchored = await audit.anchored_files(s, session_id)
    assert [e.action for e in entries] == ["session.create", audit.METADATA_ACTION]
    meta = (root / session_id / "metadata.json").read_bytes()
    assert anchored == {"metadata.json": hashlib.sha256(meta).hexdigest()}


async def test_a_writer_that_cannot_get_the_lock_in_time_gets_503_with_retry_after(
    client_factory: Any, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = await client_factory("sales1")
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 300)
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with server.ctx.db.session() as s:
            await s.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is taken
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    try:
        async with c.http.post(
            f"{server.url}/api/sessions",
            json=new_session_body(),
            headers={"X-CSRF-Token": c.csrf or ""},
        ) as r:
            status, headers, body = r.status, r.headers, await asyncio.wait_for(r.json(), 10)
    finally:
        release.set()
        await holder
    assert status == 503, body
    assert body["error"]["code"] == "database_busy", body
    assert headers["Retry-After"] == str(body["error"]["details"]["retry_after_s"])
    # A failed creation leaves no directory behind.
    assert not any(server.ctx.settings.sessions_dir.glob("s-*"))


async def test_thirty_concurrent_session_creations_all_succeed(
    client_factory: Any, server: RunningServer
) -> None:
    clients = [await client_factory(name) for name in ("sales1", "sales2")]
    results = await asyncio.gather(
        *(clients[i % 2].post("/api/sessions", json=new_session_body()) for i in range(30))
    )
    assert [status for status, _ in results] == [201] * 30, [b for s, b in results if s != 201]
    assert server.ctx.anchorer is not None
    await server.ctx.anchorer.flush()
    async with server.ctx.db.read() as s:
        for _, body in results:
            anchored = await audit.anchored_files(s, body["session"]["id"])
            assert set(anchored) == {"metadata.json"}
