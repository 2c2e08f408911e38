"""What reaches the server's media port besides a peer's media: datagrams anyone can send to
it, and a connected peer's RTCP floods. The call goes on and the media loop stays cheap."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pylibsrtp
import pytest
from aiortc import RTCDtlsTransport, RTCRtpTransceiver
from aiortc.rtp import RTCP_RTPFB, RTCP_RTPFB_NACK, RtcpPacket, pack_rtcp_packet

from server.rtc import datagrams, rtcp_budget
from server.rtc.client import ClientPeer, MediaTimeline, PatternVideoTrack, ToneAudioTrack
from server.rtc.room import Room
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir
from tests.conftest import wait_for

FPS = 15


def _server_port(transceiver: RTCRtpTransceiver) -> int:
    """The UDP port of the server's connection (its nominated local candidate)."""
    connection = transceiver.receiver.transport.transport._connection
    (pair,) = connection._nominated.values()
    return int(pair.local_candidate.port)


# Each ended the connection on the old code: RTP and RTCP (a sender report, by its type)
# over 1500 bytes, and an empty datagram (aiortc reads its first byte).
DATAGRAMS = {
    "rtp-1601": b"\x80" + bytes(1600),
    "rtcp-1601": b"\x80\xc8" + bytes(1599),
    "empty": b"",
}


@contextlib.asynccontextmanager
async def _customer_call(tmp_path: Path) -> AsyncIterator[tuple[Room, ClientPeer]]:
    """A customer's call whose video flows; after the block, it must flow still."""
    room = Room(SessionDir.create(tmp_path, "s-dgram"), RtcSettings(loopback_only=True))
    camera = PatternVideoTrack("customer", MediaTimeline(), fps=FPS)
    client = ClientPeer([camera, ToneAudioTrack(camera.timeline)])
    try:
        await client.accept(await room.join("customer", await client.offer()))
        await _more_video(room, 5)
        yield room, client
        await _more_video(room, 10)  # (a KeyError: the room dropped the customer)
        assert room._participants["customer"].pc.connectionState == "connected"
    finally:
        await room.close()
        await client.close()


async def _more_video(room: Room, packets: int) -> None:
    def received() -> int:
        return int(room.stats()["customer"]["packets_received"]["video"])

    before = received()
    await wait_for(lambda: received() > before + packets)


@pytest.mark.parametrize("name", list(DATAGRAMS))
async def test_a_stray_datagram_does_not_end_the_connection(tmp_path: Path, name: str) -> None:
    # Before: pylibsrtp refuses to unprotect more than 1500 bytes with a ValueError, which
    # aiortc does not catch: the connection's receive loop ended and its media stopped. The
    # datagram need not be authentic, nor come from the peer: aioice passes every datagram
    # that is not STUN to the connection, whoever sent it.
    async with _customer_call(tmp_path) as (room, _):
        server_pc = room._participants["customer"].pc
        port = _server_port(server_pc.getTransceivers()[0])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(DATAGRAMS[name], ("127.0.0.1", port))
        await asyncio.sleep(0.2)  # the datagram is handled


def test_the_internals_the_datagram_filters_rely_on() -> None:
    # datagrams.drop_harmful replaces RTCIceTransport._recv: the DTLS transport must still
    # receive through it, and read the first byte of what it gets; rtcp_budget replaces
    # RTCDtlsTransport._handle_rtcp_data, which must still get every unprotected datagram.
    source = inspect.getsource(RTCDtlsTransport._recv_next)
    assert "self.transport._recv()" in source and "data[0]" in source
    assert "await self._handle_rtcp_data(data)" in source
    # pylibsrtp still refuses more than MAX_SRTP_BYTES with ValueError (which aiortc does
    # not catch) and fails within it with its own error (which aiortc catches).
    session = pylibsrtp.Session()
    at_most = datagrams.MAX_SRTP_BYTES
    with pytest.raises(pylibsrtp.Error):
        session.unprotect_rtcp(b"\x80\xc8" + bytes(at_most - 2))
    with pytest.raises(ValueError):
        session.unprotect_rtcp(b"\x80\xc8" + bytes(at_most - 1))
    assert "except pylibsrtp.Error" in source and "except ValueError" not in source


def _nack(ssrc: int, entries: int) -> bytes:
    """One RTCP NACK whose ``entries`` FCIs each list packets 1-17."""
    body = struct.pack("!LL", 1, ssrc) + b"\x00\x01\xff\xff" * entries
    return pack_rtcp_packet(RTCP_RTPFB, RTCP_RTPFB_NACK, body)


async def test_a_flood_of_rtcp_is_handled_within_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: every datagram was parsed and acted on; a NACK datagram of 1332 bytes (what
    # aiortc's SRTCP protects at most) lists 5610 packets, about 2 ms of the media loop.
    nack_bytes: list[int] = []
    real_parse = RtcpPacket.parse

    def parse(data: bytes) -> list[Any]:
        if len(data) > 1300:
            nack_bytes.append(len(data))  # the flood's: aiortc's own RTCP is far smaller
        return real_parse(data)

    monkeypatch.setattr(RtcpPacket, "parse", parse)
    async with _customer_call(tmp_path) as (room, client):
        server_pc = room._participants["customer"].pc
        audio = next(t.sender for t in server_pc.getTransceivers() if t.kind == "audio")
        nack = _nack(audio._ssrc, 330)
        (transport,) = {t.sender.transport for t in client.pc.getTransceivers()}
        started = time.monotonic()
        for _ in range(300):
            await transport._send_rtp(nack)
        await asyncio.sleep(0.5)  # what is in flight
        elapsed = time.monotonic() - started
        assert sum(nack_bytes) <= rtcp_budget.MAX_RTCP_BYTES_PER_S * (1 + elapsed)
