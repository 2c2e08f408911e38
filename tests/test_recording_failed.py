"""A live call whose recording cannot be written (a full or failing disk): the call goes
on, and the salesperson's page is told (``recording_failed`` in the session's ``/state``)
which participant's recording is losing media. Before, the recorder dropped the packets,
logged once and counted them where only an operator could see."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCPeerConnection

from server.rtc.client import ClientPeer
from server.rtc.matroska import mux_packet
from server.rtc.participant import Participant
from server.rtc.recorder_stats import RecorderStats
from tests.conftest import Client, RunningServer, wait_for
from tests.test_api_recording import join, start_call


async def _state_until(sales: Client, sid: str, failed: list[str]) -> dict[str, Any]:
    """The session's state once ``recording_failed`` says ``failed`` (15 s at most)."""
    state: dict[str, Any] = {}
    for _ in range(300):
        status, state = await sales.get(f"/api/sessions/{sid}/state")
        assert status == 200, state
        if sorted(state["recording_failed"]) == failed:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(state)


async def test_a_recording_that_cannot_be_written_is_shown_to_the_salesperson(
    server: RunningServer, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk_full = False

    def mux(container: Any, stream: Any, data: bytes, ms: int, key: bool) -> None:
        if disk_full:  # what FFmpeg's write gives on a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        mux_packet(container, stream, data, ms, key)

    monkeypatch.setattr("server.rtc.recorder.mux_packet", mux)
    sales = await client_factory("sales1")
    customer = await client_factory()
    peers: list[ClientPeer] = []
    sid = ""
    try:
        sid, _token = await start_call(sales, customer, peers)
        state = await _state_until(sales, sid, [])
        disk_full = True
        state = await _state_until(sales, sid, ["customer", "salesperson"])
        # The call itself goes on: both still connected, the session still live.
        assert state["status"] == "live"
        assert state["connected"] == {"salesperson": True, "customer": True}
    finally:
        disk_full = False
        if sid:
            await sales.post(f"/api/sessions/{sid}/end")
        for p in peers:
            await p.close()


class FullDisk:
    """The recorder's open segment made to sit on a full disk: its file descriptor is
    pointed (``dup2``) at ``/dev/full``, where every write fails with ``ENOSPC`` in the
    kernel, as on a filesystem with no space left. The tests run as root, so a read-only
    mode would not stop a write, and a small tmpfs needs a mount namespace of its own
    (tests/test_disk_full.py runs a separate ``kesu serve`` in one): this fills the disk
    under the in-process server's real recorder, and :meth:`free` gives it room again."""

    def __init__(self, segment: Path) -> None:
        self.segment = segment.resolve()
        self._saved: list[tuple[int, int]] = []

    def _fds(self) -> list[int]:
        out = []
        for name in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{name}") == str(self.segment):
                    out.append(int(name))
            except OSError:
                continue  # closed meanwhile
        return out

    def fill(self) -> None:
        fds = self._fds()
        assert fds, f"{self.segment} is not open"
        full = os.open("/dev/full", os.O_WRONLY)
        try:
            for fd in fds:
                self._saved.append((fd, os.dup(fd)))
                os.dup2(full, fd)
        finally:
            os.close(full)

    def free(self) -> None:
        for fd, saved in self._saved:
            os.dup2(saved, fd)
            os.close(saved)
        self._saved.clear()


async def _segment(server: RunningServer, sid: str, name: str) -> Path:
    path = server.ctx.settings.sessions_dir / sid / name
    await wait_for(lambda: path.exists() and path.stat().st_size > 0)
    return path


async def test_a_failure_stays_shown_after_the_customer_rejoins(
    server: RunningServer, client_factory: Any
) -> None:
    """A customer whose recording lost media, then dropped and came back, has a new
    recorder that writes; the packets lost before are still lost. Before, the warning went
    away with the connection that lost them."""
    sales = await client_factory("sales1")
    customer = await client_factory()
    peers: list[ClientPeer] = []
    sid = ""
    disk: FullDisk | None = None
    try:
        sid, token = await start_call(sales, customer, peers)
        disk = FullDisk(await _segment(server, sid, "customer-000.mkv"))
        disk.fill()
        await _state_until(sales, sid, ["customer"])
        disk.free()
        assert (await customer.post(f"/api/join/{token}/leave"))[0] == 200
        await peers.pop().close()
        peers.append(await join(customer, f"/api/join/{token}/offer", "customer"))
        await _segment(server, sid, "customer-001.mkv")  # the new recorder writes
        state = await _state_until(sales, sid, ["customer"])
        assert state["connected"] == {"salesperson": True, "customer": True}
        assert server.ctx.rooms.get(sid).stats()["customer"]["recorder_write_errors"] == 0
        # The customer's page is told too (it says the salesperson will end the session).
        status, mine = await customer.get(f"/api/join/{token}/state")
        assert status == 200 and mine["recording_failed"] == ["customer"], mine
    finally:
        if disk is not None:
            disk.free()
        if sid:
            await sales.post(f"/api/sessions/{sid}/end")
        for p in peers:
            await p.close()


async def test_a_connection_keeps_its_write_errors_when_its_segment_rolls_over(
    tmp_path: Path,
) -> None:
    """A segment with audio only is closed when the picture comes and the connection goes
    on in a new one (``next_recorder``): the packets the first one could not write stay
    counted. Before, the count went back to 0 with the new recorder."""
    p = Participant("customer", 1, RTCPeerConnection(), {})
    try:
        p.recorder_stats = RecorderStats(tmp_path / "customer-000.mkv", write_errors=3)
        p.next_recorder()
        assert p.stats()["recorder_write_errors"] == 3
    finally:
        await p.pc.close()
