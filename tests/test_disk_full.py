"""A full disk: a real ``kesu serve`` whose sessions directory is a tiny tmpfs, mounted in a
mount namespace of its own (``unshare -rm``: nothing on this machine sees it). Every
request that must write there gets ``507 storage_full`` (not a 500), and nothing is left
behind: no directory without its row, no half-written file, no event the client was told
failed that a later write would put on disk."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, Client, free_port, new_session_body
from tests.test_api_auth import assert_error

ENV = {
    "KESU_SECRET_KEY": "disk-full-test-0123456789abcdef0123456789",
    "KESU_BOOTSTRAP_ADMIN": "0",
    "KESU_LIVE_CHECKS": "0",
    "KESU_RTC_LOOPBACK_ONLY": "1",
    # The writes themselves must fail here, not the free-space check before a session.
    "KESU_MIN_FREE_MB": "0",
}


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(not _can_unshare(), reason="needs unshare -rm (user namespaces)")


@dataclass
class FullServer:
    url: str
    sessions: Path  # the tmpfs as the server sees it (through /proc/<pid>/root)


def _kesu(data: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "server.cli", *args, "--data-dir", str(data)],
        check=True,
        capture_output=True,
        env={**os.environ, **ENV},
    )


@contextlib.asynccontextmanager
async def namespaced_server(tmp_path: Path, tmpfs_options: str) -> AsyncIterator[FullServer]:
    """``kesu serve`` (with user ``sales1``) whose sessions directory is a tmpfs mounted
    with ``tmpfs_options`` in a mount namespace of its own."""
    data = tmp_path / "data"
    (data / "sessions").mkdir(parents=True)
    _kesu(data, "migrate")
    _kesu(data, "user", "add", "--role", "salesperson", "--password", PASSWORD, "sales1")
    port = free_port()
    script = (
        f'mount -t tmpfs -o {tmpfs_options} tmpfs "{data}/sessions" && exec "{sys.executable}" '
        f'-m server.cli serve --data-dir "{data}" --port {port} --workers 0'
    )
    proc = await asyncio.create_subprocess_exec(
        "unshare",
        "-rm",
        "sh",
        "-c",
        script,
        env={**os.environ, **ENV},
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        yield FullServer(
            f"http://127.0.0.1:{port}",
            Path(f"/proc/{proc.pid}/root") / str(data / "sessions").lstrip("/"),
        )
    finally:
        proc.terminate()
        await proc.wait()


@pytest.fixture
async def full_server(tmp_path: Path) -> AsyncIterator[FullServer]:
    async with namespaced_server(tmp_path, "size=48k") as srv:
        yield srv


async def test_a_full_disk_is_507_and_leaves_nothing_behind(full_server: FullServer) -> None:
    sales = Client(full_server.url)
    try:
        await sales.login("sales1")
        status = 201
        for _ in range(60):  # until the 48 KiB are used up
            status, body = await sales.post("/api/sessions", json=new_session_body())
            if status != 201:
                break
        assert status == 507, body
        assert_error(body, "storage_full")
        # Each directory has its row and a whole metadata.json; no temporary file is left.
        status, listed = await sales.get("/api/sessions")
        ids = sorted(s["id"] for s in listed["sessions"])
        on_disk = sorted(p.name for p in full_server.sessions.iterdir())
        assert on_disk == ids
        for sid in ids:
            assert sorted(p.name for p in (full_server.sessions / sid).iterdir()) == [
                "metadata.json"
            ]
            json.loads((full_server.sessions / sid / "metadata.json").read_bytes())

        # An event that cannot be written is refused and taken back: it does not appear
        # later, when another write of the same session succeeds.
        sid = ids[0]
        meta = full_server.sessions / sid / "metadata.json"
        before = json.loads(meta.read_bytes())["events"]
        status, shown = await sales.get(f"/api/sessions/{sid}")
        node = shown["script"][0]["id"]
        status, body = await sales.post(f"/api/sessions/{sid}/node", {"node": node})
        assert status == 507, body
        assert_error(body, "storage_full")
        shutil.rmtree(full_server.sessions / ids[-1])  # some room again
        status, body = await sales.post(f"/api/sessions/{sid}/node", {"node": node})
        assert status == 200, body
        events = json.loads(meta.read_bytes())["events"]
        assert [e["type"] for e in events] == [e["type"] for e in before] + ["node"]
    finally:
        await sales.close()
