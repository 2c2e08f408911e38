"""The SQLite writer thread (server/store/writer.py): one queue for every writer of the process,
first come first served, timeouts that run nothing, failures that roll back, and commits that
do not wait for the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from server.store import db as db_module
from server.store.db import Database, DatabaseBusy
from server.store.models import User


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'kesu.db'}")
    await database.migrate()
    yield database
    await database.close()


def _add(name: str, order: list[str] | None = None) -> Callable[[Session], None]:
    def fn(s: Session) -> None:
        if order is not None:
            order.append(name)
        s.add(User(username=name, role="salesperson", password_hash="x"))

    return fn


def _names(db: Database) -> list[str]:
    path = db.url.split(":///", 1)[1]
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT username FROM users ORDER BY id")]


@pytest.fixture
async def lock_held(db: Database) -> AsyncIterator[asyncio.Event]:
    """An async writer holding the write lock until the yielded event is set."""
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with db.session() as s:
            await s.execute(text("SELECT 1"))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    yield release
    release.set()
    await holder


async def test_sync_and_async_writers_take_turns_in_arrival_order(
    db: Database, lock_held: asyncio.Event
) -> None:
    order: list[str] = []

    async def async_writer(name: str) -> None:
        async with db.session() as s:
            order.append(name)
            s.add(User(username=name, role="salesperson", password_hash="x"))

    waiting = []
    for i, kind in enumerate(("sync", "async", "sync", "sync", "async", "sync")):
        name = f"{kind}{i}"
        coro = db.run_write(_add(name, order)) if kind == "sync" else async_writer(name)
        waiting.append(asyncio.ensure_future(coro))
        await asyncio.sleep(0.05)  # each queued before the next starts
    assert order == []  # nobody overtook the holder
    lock_held.set()
    await asyncio.gather(*waiting)
    expected = ["sync0", "async1", "sync2", "sync3", "async4", "sync5"]
    assert order == expected
    assert _names(db) == expected


async def test_a_write_that_waits_too_long_is_busy_and_never_runs(
    db: Database, lock_held: asyncio.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)
    with pytest.raises(DatabaseBusy):
        await db.run_write(_add("late"))
    lock_held.set()
    await db.run_write(_add("next"))
    assert _names(db) == ["next"]


async def test_a_cancelled_waiting_write_never_runs(db: Database, lock_held: asyncio.Event) -> None:
    pending = asyncio.ensure_future(db.run_write(_add("cancelled")))
    await asyncio.sleep(0.1)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    lock_held.set()
    await db.run_write(_add("after"))
    assert _names(db) == ["after"]


async def test_a_failing_write_rolls_back_and_the_writer_goes_on(db: Database) -> None:
    def half_then_fail(s: Session) -> None:
        s.add(User(username="half", role="salesperson", password_hash="x"))
        s.flush()
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await db.run_write(half_then_fail)
    await db.run_write(_add("ok"))
    assert _names(db) == ["ok"]


async def test_a_write_inside_an_unbegun_async_write_does_not_wait_for_itself(
    db: Database,
) -> None:
    async with db.session() as s:
        await asyncio.wait_for(db.run_write(_add("inner")), 30)
        s.add(User(username="outer", role="salesperson", password_hash="x"))
    assert sorted(_names(db)) == ["inner", "outer"]


async def test_queued_writes_commit_while_the_event_loop_is_busy(db: Database) -> None:
    """The point of the thread: a blocked or overloaded loop does not stall the write queue
    (through an AsyncSession every statement needs the loop, so none would commit)."""
    writes = [asyncio.ensure_future(db.run_write(_add(f"u{i}"))) for i in range(20)]
    await asyncio.sleep(0)  # the tasks submit their jobs
    deadline = time.monotonic() + 30
    while len(_names(db)) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)  # noqa: ASYNC251 - deliberately blocking the loop
    assert len(_names(db)) == 20
    await asyncio.gather(*writes)


async def test_reads_run_on_reader_threads_and_refuse_to_write(db: Database) -> None:
    await db.run_write(_add("someone"))
    count = await db.run_read(lambda s: s.execute(select(func.count(User.id))).scalar_one())
    assert count == 1
    with pytest.raises(Exception, match="readonly"):
        await db.run_read(_add("sneaky"))


async def test_closing_the_database_stops_its_threads(tmp_path: Path) -> None:
    def ours() -> list[str]:
        return sorted(t.name for t in threading.enumerate() if t.name.startswith("kesu-db-"))

    before = ours()
    for i in range(3):
        database = Database(f"sqlite+aiosqlite:///{tmp_path / f'k{i}.db'}")
        await database.migrate()
        await database.run_write(_add("someone"))
        await database.run_read(lambda s: s.execute(select(func.count(User.id))).scalar_one())
        await database.close()
    assert ours() == before
