"""PacketRelayTrack: forwarding, rebasing across reconnections, overflow, keyframe requests."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import av
import pytest
from aiortc.mediastreams import MediaStreamError

from server.rtc.relay import PacketRelayTrack


def pkt(pts: int, key: bool = False, data: bytes = b"\x11\x00") -> av.Packet:
    p = av.Packet(data)
    p.pts = pts
    p.is_keyframe = key
    return p


async def test_forwards_and_continues_timeline_after_rejoin() -> None:
    track = PacketRelayTrack("video", 90000)
    first, second = object(), object()
    track.feed(pkt(1_000_000, key=True), first)
    track.feed(pkt(1_003_000), first)
    a, b = await track.recv(), await track.recv()
    assert (a.pts, b.pts) == (1_000_000, 1_003_000)
    await asyncio.sleep(0.2)
    # The other participant reconnected: new RTP origin, first frames are not keyframes.
    track.feed(pkt(7, key=False), second)
    track.feed(pkt(3007, key=True), second)
    track.feed(pkt(6007), second)
    c, d = await track.recv(), await track.recv()
    assert c.is_keyframe and d.pts - c.pts == 3000
    gap = c.pts - b.pts
    assert 0.15 * 90000 <= gap <= 2.0 * 90000  # advanced by roughly the time that passed
    assert track.skipped == 1 and track.dropped == 0 and track.forwarded == 4


async def test_video_overflow_waits_for_keyframe_and_asks_for_it() -> None:
    asked: list[int] = []
    track = PacketRelayTrack(
        "video", 90000, max_queue=4, on_keyframe_request=lambda: asked.append(1)
    )
    source = object()
    track.feed(pkt(0, key=True), source)
    for n in range(1, 8):
        track.feed(pkt(n * 3000), source)
    assert asked and track.dropped == 8  # the queue was flushed and the rest refused
    track.feed(pkt(30000, key=True), source)
    track.feed(pkt(33000), source)
    got = [await track.recv(), await track.recv()]
    assert [p.pts for p in got] == [30000, 33000]


async def test_audio_overflow_drops_oldest() -> None:
    track = PacketRelayTrack("audio", 48000, max_queue=3)
    source = object()
    for n in range(5):
        track.feed(pkt(n * 960, data=b"\x01"), source)
    assert [(await track.recv()).pts for _ in range(3)] == [1920, 2880, 3840]
    assert track.dropped == 2


async def test_attach_routes_sender_keyframe_requests() -> None:
    asked: list[int] = []
    track = PacketRelayTrack("video", 90000, on_keyframe_request=lambda: asked.append(1))
    sender = SimpleNamespace(_send_keyframe=lambda: None)
    track.attach(sender)  # type: ignore[arg-type]
    sender._send_keyframe()  # what RTCRtpSender does on an incoming PLI/FIR
    assert asked == [1]


async def test_stop_ends_recv() -> None:
    track = PacketRelayTrack("audio", 48000)
    waiter = asyncio.create_task(track.recv())
    await asyncio.sleep(0)
    track.stop()
    with pytest.raises(MediaStreamError):
        await waiter
    track.feed(pkt(0, data=b"\x01"), object())  # ignored once stopped
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_claimed_track_forwards_only_its_owner() -> None:
    """Voice playback claims the viewer's audio: the other party is held back meanwhile,
    and forwarded again (on a continuous timeline) once the player releases it."""
    track = PacketRelayTrack("audio", 48000)
    party, player = object(), object()
    track.feed(pkt(100, data=b"party"), party)
    assert bytes(await track.recv()) == b"party"
    track.claim(player)
    track.feed(pkt(200, data=b"party"), party)
    track.feed(pkt(0, data=b"play"), player)
    got = await track.recv()
    assert bytes(got) == b"play" and got.pts > 100
    track.release(object())  # only the owner can release
    track.feed(pkt(300, data=b"party"), party)
    track.release(player)
    track.feed(pkt(400, data=b"party"), party)
    after = await track.recv()
    assert bytes(after) == b"party" and after.pts > got.pts
    assert track.held == 2 and track.forwarded == 3
