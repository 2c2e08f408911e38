"""``GET /api/audit/verify`` hashes every recording of the archive: it must not hold the
database's write lock meanwhile (SQLite has one), or every login, session creation and
call event waits behind it and fails with 503 database_busy. Verifications and evidence
exports (a zip of a session's recordings each) are bounded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server import audit_verify
from server.api import reviews as reviews_api
from tests.conftest import RunningServer
from tests.review_fixtures import build_session


async def test_verification_leaves_writers_free(
    server: RunningServer, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside, release = asyncio.Event(), asyncio.Event()
    real = audit_verify.check_all_files

    async def held(*args: Any, **kwargs: Any) -> Any:
        inside.set()  # (as if hashing a large archive)
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(audit_verify, "check_all_files", held)
    admin = await client_factory("admin")
    verify = asyncio.create_task(admin.get("/api/audit/verify"))
    try:
        await inside.wait()
        # A login writes (its cookie row, an audit entry): answered during the verification.
        sales = await client_factory()
        body = await sales.login("sales1")
        assert body["user"]["username"] == "sales1"
        # One verification at a time: each reads the whole archive.
        status, busy = await admin.get("/api/audit/verify")
        assert status == 429, busy
        assert busy["error"]["code"] == "busy"
    finally:
        release.set()
        status, report = await verify
    assert status == 200, report
    assert report["ok"] is True, report


async def test_at_most_two_exports_at_once(
    server: RunningServer, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each export writes a zip of a session's recordings to the data disk before sending
    it: a third one while two are being made is refused, not queued on the disk."""
    built = await build_session(server.ctx, findings=[])
    arrived: list[str] = []
    two, release = asyncio.Event(), asyncio.Event()
    real = reviews_api.export_session

    async def held(*args: Any, **kwargs: Any) -> Any:
        arrived.append(args[2])
        if len(arrived) == 2:
            two.set()
        if len(arrived) <= 2:  # (a third, had it been let in, is not held: no hang)
            await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(reviews_api, "export_session", held)
    admin = await client_factory("admin")
    url = f"/api/review/sessions/{built.id}/export"

    async def fetch() -> tuple[int, bytes]:
        async with admin.http.get(f"{admin.base}{url}") as r:
            return r.status, await r.read()

    first = [asyncio.create_task(fetch()) for _ in range(2)]
    try:
        await two.wait()
        status, body = await admin.get(url)
        assert status == 429, body
        assert body["error"]["code"] == "busy"
    finally:
        release.set()
        done = await asyncio.gather(*first)
    for status, data in done:
        assert status == 200 and data[:2] == b"PK"
    # Free again once the two are done: a handler releases its slot after removing its temp
    # directory on a thread, which can end after the client has read the last byte.
    for _ in range(100):
        status, _data = await fetch()
        if status != 429:
            break
        await asyncio.sleep(0.1)
    assert status == 200
