"""``GET /api/audit/verify`` hashes every recording of the archive: it must not hold the
database's write lock meanwhile (SQLite has one), or every login, session creation and
call event waits behind it and fails with 503 database_busy."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server import audit_verify
from tests.conftest import RunningServer


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
