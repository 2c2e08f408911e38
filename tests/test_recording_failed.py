"""A live call whose recording cannot be written (a full or failing disk): the call goes
on, and the salesperson's page is told (``recording_failed`` in the session's ``/state``)
which participant's recording is losing media. Before, the recorder dropped the packets,
logged once and counted them where only an operator could see."""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import pytest

from server.rtc.client import ClientPeer
from server.rtc.matroska import mux_packet
from tests.conftest import Client, RunningServer
from tests.test_api_recording import start_call


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
