"""The login throttle is shared: two server instances on one database (SQLite file, and
PostgreSQL) count the same failures, and a restart forgets none of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import update

from server.localservers import fresh_database
from server.store.models import LoginFailure
from server.store.types import utcnow
from tests.conftest import PASSWORD, RunningServer, add_test_users
from tests.test_api_auth import assert_error
from tests.test_media_nodes import start_node

LIMITS = {"login_account_limits": "4/minute;6/hour", "login_address_limits": "50/minute"}


async def _login(base: str, username: str, password: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/api/login", json={"username": username, "password": password}) as r,
    ):
        return r.status, await r.json()


async def _two_nodes(tmp_path: Path, **overrides: Any) -> tuple[RunningServer, RunningServer]:
    a = await start_node(tmp_path, "node-a", **LIMITS, **overrides)
    b = await start_node(tmp_path, "node-b", **LIMITS, **overrides)
    await add_test_users(a.ctx)
    return a, b


async def _shared_limit(a: RunningServer, b: RunningServer) -> None:
    # Failures spread over both instances add up: 2 + 2 reach the account's 4/minute.
    statuses = [(await _login(srv.url, "sales1", "wrong-pass-1"))[0] for srv in (a, b, a, b)]
    assert statuses == [401] * 4
    for srv in (a, b):
        status, body = await _login(srv.url, "sales1", PASSWORD)
        assert status == 429, body
        assert_error(body, "too_many_attempts")
    # Other accounts are not locked by sales1's failures.
    assert (await _login(b.url, "sales2", PASSWORD))[0] == 200


async def test_two_instances_on_one_sqlite_file_share_the_limit(tmp_path: Path) -> None:
    a, b = await _two_nodes(tmp_path)
    try:
        await _shared_limit(a, b)
    finally:
        await b.runner.cleanup()
        await a.runner.cleanup()


async def test_two_instances_on_postgres_share_the_limit(pg_admin: str, tmp_path: Path) -> None:
    url = await fresh_database(pg_admin)
    a, b = await _two_nodes(tmp_path, database_url=url)
    try:
        await _shared_limit(a, b)
        # A right password on one instance clears the account on both.
        async with a.ctx.db.session() as s:
            await s.execute(update(LoginFailure).values(count=1))
        assert (await _login(a.url, "sales1", PASSWORD))[0] == 200
        assert (await _login(b.url, "sales1", "wrong-pass-2"))[0] == 401
        assert (await _login(b.url, "sales1", "wrong-pass-3"))[0] == 401
        assert (await _login(b.url, "sales1", "wrong-pass-4"))[0] == 401
        assert (await _login(a.url, "sales1", PASSWORD))[0] == 200  # 3 of 4: not locked
    finally:
        await b.runner.cleanup()
        await a.runner.cleanup()


async def test_lockout_survives_a_restart_and_ends_with_its_window(tmp_path: Path) -> None:
    first = await start_node(tmp_path, "node-a", **LIMITS)
    await add_test_users(first.ctx)
    for _ in range(4):
        assert (await _login(first.url, "sales1", "wrong-pass-1"))[0] == 401
    await first.runner.cleanup()
    again = await start_node(tmp_path, "node-a", **LIMITS)
    try:
        status, body = await _login(again.url, "sales1", PASSWORD)
        assert status == 429, body
        assert 0 < body["error"]["details"]["retry_after_s"] <= 60
        # The minute passes (moved in the database rather than waited for): the account's
        # lock-out ends, while the hour's window (4 of 6) still counts.
        async with again.ctx.db.session() as s:
            await s.execute(
                update(LoginFailure).where(LoginFailure.window_s == 60).values(expires_at=utcnow())
            )
        assert (await _login(again.url, "sales1", PASSWORD))[0] == 200
    finally:
        await again.runner.cleanup()
