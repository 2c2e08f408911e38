"""The server's ICE host candidates stay in the configured UDP port range (a patch of how
aioice binds: see server/rtc/ice.py)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
import socket
from pathlib import Path

import aioice.ice
import pytest

from server.rtc import ice
from server.rtc.client import ClientPeer, MediaTimeline, PatternVideoTrack, ToneAudioTrack
from server.rtc.room import Room
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir

CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ (\S+)", re.M)


def free_range(size: int) -> tuple[int, int]:
    """A run of ``size`` ports that are free right now (above the kernel's ephemeral range
    start would collide with random binds, so probe instead of guessing)."""
    for lo in range(41000, 49000, 97):
        socks = []
        try:
            for port in range(lo, lo + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return lo, lo + size - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port run")


def test_aioice_still_binds_host_candidates_on_port_zero() -> None:
    # The patch recognises aioice's host binds by local_addr=(address, 0): if aioice changes
    # that (or gains its own port range option), the patch must be revisited.
    source = inspect.getsource(aioice.ice.Connection.get_component_candidates)
    assert "loop.create_datagram_endpoint(" in source
    assert "local_addr=(address, 0)" in source
    assert "asyncio.get_running_loop()" in source
    assert "port_range" not in inspect.signature(aioice.ice.Connection).parameters


def test_parse_port_range() -> None:
    assert ice.parse_port_range("") is None
    assert ice.parse_port_range(" 50000-50199 ") == (50000, 50199)
    for bad in ("50000", "50199-50000", "80-90", "50000-70000", "a-b"):
        with pytest.raises(ValueError):
            ice.parse_port_range(bad)
    assert RtcSettings.from_settings(type("S", (), {"rtc_udp_ports": "50000-50001"})).udp_ports == (
        50000,
        50001,
    )


async def test_room_candidates_inside_the_range_and_call_connects(tmp_path: Path) -> None:
    lo, hi = free_range(4)
    settings = RtcSettings(loopback_only=True, udp_ports=(lo, hi), sync_wait_s=0.5)
    room = Room(SessionDir.create(tmp_path, "s-ports"), settings)
    clients = []
    try:
        for role in ("salesperson", "customer"):
            timeline = MediaTimeline()
            client = ClientPeer(
                [PatternVideoTrack(role, timeline, fps=10), ToneAudioTrack(timeline)]
            )
            clients.append(client)
            answer = await room.join(role, await client.offer())
            found = CANDIDATE.findall(answer)
            assert found, answer
            for host, port, typ in found:
                assert typ == "host" and host == "127.0.0.1"
                assert lo <= int(port) <= hi, (port, lo, hi)
            await client.accept(answer)
        for _ in range(200):
            if all(c.received.frames["video"] > 0 for c in clients):
                break
            await asyncio.sleep(0.05)
        assert all(c.received.frames["video"] > 0 for c in clients)
        # Both participants hold a port of the range; outside the block binds are unchanged.
        # The range's other ports are held too: the kernel picks port 0 binds at random from
        # 32768-60999, this range included (15 of 200,000 binds landed in its two free ports:
        # the test failed so once in about 13,000 runs); a bind still confined to the range
        # finds it full and raises.
        held = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(lo, hi + 1)]
        for s, port in zip(held, range(lo, hi + 1), strict=True):
            with contextlib.suppress(OSError):  # a participant's port
                s.bind(("127.0.0.1", port))
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
            )
            try:
                assert not lo <= transport.get_extra_info("sockname")[1] <= hi
            finally:
                transport.close()
        finally:
            for s in held:
                s.close()
    finally:
        for c in clients:
            await c.close()
        await room.close()


async def test_exhausted_range_fails_the_bind() -> None:
    lo, hi = free_range(1)
    loop = asyncio.get_running_loop()
    with ice.udp_port_range((lo, hi)):
        first, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        try:
            assert first.get_extra_info("sockname")[1] == lo
            with pytest.raises(OSError, match="no free UDP port"):
                await loop.create_datagram_endpoint(
                    asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
                )
        finally:
            first.close()
