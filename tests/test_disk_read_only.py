"""A read-only sessions directory (a volume remounted read-only after disk errors, a
mistaken mount option): a real ``kesu serve`` in a mount namespace of its own, as in
tests/test_disk_full.py. Creating a session is a 503 ``disk_unavailable`` with nothing left
behind, not a 500; the server keeps answering and ``/readyz`` names the fault."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Client, new_session_body
from tests.test_api_auth import assert_error
from tests.test_disk_full import _can_unshare, namespaced_server

pytestmark = pytest.mark.skipif(not _can_unshare(), reason="needs unshare -rm (user namespaces)")


@pytest.fixture
async def read_only_server(tmp_path: Path) -> AsyncIterator[str]:
    async with namespaced_server(tmp_path, "ro,size=1m") as srv:
        yield srv.url


async def test_a_read_only_disk_is_503_and_leaves_nothing_behind(read_only_server: str) -> None:
    sales = Client(read_only_server)
    try:
        await sales.login("sales1")
        status, body = await sales.post("/api/sessions", json=new_session_body())
        assert status == 503, body
        assert_error(body, "disk_unavailable")
        assert body["error"]["details"]["retry_after_s"] > 0
        status, listed = await sales.get("/api/sessions")
        assert status == 200 and listed["sessions"] == [], listed
        status, ready = await sales.get("/readyz")
        assert status == 503 and ready["checks"]["storage"]["ok"] is False, ready
        assert "Read-only" in ready["checks"]["storage"]["error"], ready
    finally:
        await sales.close()
