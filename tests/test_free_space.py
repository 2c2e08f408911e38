"""A new session needs ``min_free_mb`` free on the sessions directory's filesystem: below
it ``507 storage_full`` and nothing is made (no row, no directory, no audit entry), so a
recording never starts on a disk that cannot hold it. The threshold is set above the real
free space of the test's directory: no full disk is needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.free_space import MB, free_bytes
from server.settings import load_settings
from server.store.models import AuditEntry, RecordingSession
from tests.conftest import Client, RunningServer, make_settings, new_session_body, serving
from tests.test_api_auth import assert_error


async def _counts(srv: RunningServer) -> tuple[int, int]:
    async with srv.ctx.db.read() as s:
        rows = (await s.execute(select(func.count()).select_from(RecordingSession))).scalar()
        audits = (await s.execute(select(func.count()).select_from(AuditEntry))).scalar()
    return int(rows or 0), int(audits or 0)


async def test_new_session_refused_below_min_free(tmp_path: Path) -> None:
    tmp_path.joinpath("data").mkdir()
    above = free_bytes(tmp_path) // MB + 1_000_000  # a million MiB more than there is
    async with serving(make_settings(tmp_path, min_free_mb=above)) as srv:
        c = Client(srv.url)
        try:
            await c.login("sales1")
            before = await _counts(srv)
            status, body = await c.post("/api/sessions", json=new_session_body())
            assert status == 507, body
            assert_error(body, "storage_full")
            assert await _counts(srv) == before
            sessions = srv.ctx.settings.sessions_dir
            assert not sessions.exists() or list(sessions.iterdir()) == []
        finally:
            await c.close()


@pytest.mark.parametrize("min_free_mb", [0, 1])
async def test_new_session_made_with_room_or_check_off(tmp_path: Path, min_free_mb: int) -> None:
    async with serving(make_settings(tmp_path, min_free_mb=min_free_mb)) as srv:
        c = Client(srv.url)
        try:
            await c.login("sales1")
            status, body = await c.post("/api/sessions", json=new_session_body())
            assert status == 201, body
            assert (srv.ctx.settings.sessions_dir / body["session"]["id"]).is_dir()
        finally:
            await c.close()


def test_negative_min_free_is_refused() -> None:
    with pytest.raises(ValueError, match="min_free_mb"):
        load_settings(env={"KESU_MIN_FREE_MB": "-1"})
