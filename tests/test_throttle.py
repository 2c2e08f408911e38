"""The login throttle on its own, on a real SQLite database: stepped windows, lock-outs that
end, the address unit, expired rows deleted, and the table's size bound."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.api.throttle import OVERFLOW, PURGE_EVERY_S, LoginThrottle, address_key
from server.login_failures import Window, windows
from server.store.db import Database
from server.store.models import LoginFailure
from server.store.types import utcnow


class Clock:
    """The throttle's time, moved by the test (windows of an hour need no waiting)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    d = Database(f"sqlite+aiosqlite:///{tmp_path / 'kesu.db'}")
    await d.migrate()
    yield d
    await d.close()


def _throttle(db: Database, account: str, address: str, clock: Clock, **kw: int) -> LoginThrottle:
    return LoginThrottle(db, account, address, kw.get("max_keys", 1000), concurrency=1, clock=clock)


async def _rows(db: Database, key: str | None = None) -> int:
    q = select(func.count()).select_from(LoginFailure)
    if key is not None:
        q = q.where(LoginFailure.key == key)
    return int(await db.run_read(lambda s: s.execute(q).scalar_one()))


def test_address_unit() -> None:
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key(None) == "unknown"


def test_windows_parse_the_limits_notation() -> None:
    assert windows("5/minute;20/hour;60/day") == (
        Window(60, 5),
        Window(3600, 20),
        Window(86400, 60),
    )
    assert windows("5/minute;3/60 seconds") == (Window(60, 3),)  # the stricter of the two


async def test_backoff_steps_through_the_longer_window(db: Database) -> None:
    clock = Clock()
    t = _throttle(db, "2/minute;3/hour", "100/minute", clock)
    try:
        assert await t.refusal("alice", "a1") is None
        await t.failed("alice", "a1")
        await t.failed("alice", "a1")
        refusal = await t.refusal("alice", "a1")
        assert refusal is not None and refusal.scope == "account"
        assert refusal.retry_after_s == 60
        clock.advance(61)  # the minute is over; the hour has 2 of 3
        assert await t.refusal("alice", "a1") is None
        await t.failed("alice", "a1")
        refusal = await t.refusal("alice", "a1")
        assert refusal is not None and 3600 - 61 - 1 <= refusal.retry_after_s <= 3600 - 61
        clock.advance(3600)  # the lock-out ends with its window
        assert await t.refusal("alice", "a1") is None
        # A success clears the account's counters, not the address's.
        await t.failed("alice", "a1")
        await t.failed("alice", "a1")
        assert await t.refusal("alice", "a1") is not None
        await t.succeeded("alice")
        assert await t.refusal("alice", "a1") is None
        assert await _rows(db, "a1") == 1
        assert await t.refusal("bob", "a1") is None
    finally:
        t.close()


async def test_a_dead_window_restarts_its_count(db: Database) -> None:
    clock = Clock()
    t = _throttle(db, "3/minute", "100/minute", clock)
    try:
        for _ in range(2):
            await t.failed("carol", "a1")
        clock.advance(60)  # the window ended with 2 of 3: the next failure starts at 1
        await t.failed("carol", "a1")
        await t.failed("carol", "a1")
        assert await t.refusal("carol", "a1") is None
        await t.failed("carol", "a1")
        assert await t.refusal("carol", "a1") is not None
    finally:
        t.close()


async def test_expired_rows_are_deleted(db: Database) -> None:
    clock = Clock()
    t = _throttle(db, "3/minute", "100/minute", clock)
    try:
        for i in range(5):
            await t.failed(f"user{i}", "a1")
        assert await _rows(db) == 6
        clock.advance(PURGE_EVERY_S + 1)  # every window above has ended
        t._purged_at -= PURGE_EVERY_S + 1  # (the purge interval runs on the monotonic clock)
        await t.failed("late", "a2")
        assert await _rows(db) == 2  # only the new failure's account and address rows
    finally:
        t.close()


async def test_table_is_bounded_and_fails_closed(db: Database) -> None:
    clock = Clock()
    t = _throttle(db, "3/minute", "1000/minute", clock, max_keys=20)
    try:
        for i in range(60):
            await t.failed(f"user{i}", "a1")
        # The cap, plus the shared counter and the address's row.
        assert await _rows(db) <= 22
        assert await _rows(db, OVERFLOW) == 1
        await t.failed("user0", "a1")  # tracked before the cap: its own counter
        assert await _rows(db, "user0") == 1
        refusal = await t.refusal("never-seen", "a2")
        assert refusal is not None and refusal.scope == "account"  # the shared counter is spent
        assert await t.refusal("user1", "a2") is None  # its own counter has 1 of 3
    finally:
        t.close()
