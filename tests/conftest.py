"""Shared fixtures: a real server on a free loopback port with a temp data dir, and logged-in clients."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

# Re-exported: the tests take the body from here, beside the other helpers.
from scripts.session_body import VALID_ID as VALID_ID
from scripts.session_body import new_session_body as new_session_body
from server.app import create_app
from server.context import CTX, AppContext
from server.localservers import free_port as free_port
from server.localservers import postgres_server
from server.security import hash_password
from server.settings import Settings, load_settings
from server.store.models import User

PASSWORD = "correct-horse-9"


@pytest.fixture(scope="module")
def pg_admin() -> Iterator[str]:
    """A throw-away PostgreSQL server, one per test module that asks for it; each test
    makes its own database on it (``fresh_database``)."""
    with postgres_server(free_port()) as dsn:
        yield dsn


async def wait_for(predicate: Callable[[], bool], limit_s: float = 15.0) -> None:
    """Poll ``predicate`` until it holds. ``limit_s`` only bounds a failing test (it is no
    timing assertion): generous, for a loaded machine."""
    for _ in range(int(limit_s / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("condition not reached")


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "port": 0,
        "workers": 0,
        "rtc_loopback_only": True,
        "secret_key": "test-secret-0123456789abcdef0123456789",
        "bootstrap_admin": False,
        "live_checks": False,  # a Whisper process per test server: only tests that want it
        # No sampling by chance (5 % of passed sessions into review, 10 % of approvals into
        # 二审, drawn from an unseeded rng): an approval in a test went to 待二审 now and
        # then and failed CI. Tests of the sampling set their rate (tests/review_api.py).
        "review_sample_rate": 0.0,
        "second_review_sample_rate": 0.0,
    }
    base.update(overrides)
    return load_settings(base, env={})


@dataclass
class RunningServer:
    url: str
    ctx: AppContext
    runner: web.AppRunner


async def start_server(settings: Settings) -> RunningServer:
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return RunningServer(f"http://127.0.0.1:{port}", app[CTX], runner)


class Client:
    """A logged-in (or anonymous) API client that sends the CSRF header like the pages do."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf: str | None = None

    async def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        async with self.http.post(
            f"{self.base}/api/login", json={"username": username, "password": password}
        ) as r:
            body = await r.json()
            assert r.status == 200, body
        self.csrf = body["csrf_token"]
        return body

    async def request(
        self, method: str, path: str, csrf: bool = True, **kw: Any
    ) -> tuple[int, Any]:
        headers = dict(kw.pop("headers", {}))
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        async with self.http.request(
            method, f"{self.base}{path}", headers=headers, allow_redirects=False, **kw
        ) as r:
            if r.content_type == "application/json":
                return r.status, await r.json()
            return r.status, await r.read()

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.request("POST", path, json=json, **kw)

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)


TEST_USERS = (
    ("sales1", "salesperson", "示例人寿"),
    ("sales2", "salesperson", "示例人寿"),
    ("rev1", "reviewer", "示例人寿"),
    ("rev2", "reviewer", "示例人寿"),
    ("admin", "admin", "示例人寿"),
)


async def add_users(ctx: AppContext, users: Iterable[tuple[str, str, str]]) -> None:
    """Add ``(username, role, institution)`` users, each with the password ``PASSWORD`` and
    the display name ``<username>-名``."""
    async with ctx.db.session() as s:
        for name, role, institution in users:
            s.add(
                User(
                    username=name,
                    role=role,
                    password_hash=password_hash(),
                    display_name=f"{name}-名",
                    institution=institution,
                )
            )


async def add_test_users(ctx: AppContext) -> None:
    await add_users(ctx, TEST_USERS)


@contextlib.asynccontextmanager
async def serving(settings: Settings, users: bool = True) -> AsyncIterator[RunningServer]:
    """A running server (with the test users unless ``users`` is false), stopped on exit
    even when adding the users or the caller fails."""
    srv = await start_server(settings)
    try:
        if users:
            await add_test_users(srv.ctx)
        yield srv
    finally:
        await srv.runner.cleanup()


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[RunningServer]:
    async with serving(settings) as srv:
        yield srv


@pytest.fixture
async def client_factory(server: RunningServer) -> AsyncIterator[Any]:
    clients: list[Client] = []

    async def make(username: str | None = None) -> Client:
        c = Client(server.url)
        clients.append(c)
        if username:
            await c.login(username)
        return c

    yield make
    for c in clients:
        await c.close()
