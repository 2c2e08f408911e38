"""A video frame the recorder loses (its handling raised) spoils the picture up to the next
keyframe: the recorder asks the sender for one and writes no inter frame until it comes
(server/rtc/keyframe_wait.py). Checked on the recording's pictures, decoded with PyAV."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
import pytest

from server.rtc import keyframe_wait
from server.rtc.client import (
    ClientPeer,
    LoopedPacketTrack,
    MediaTimeline,
    ToneAudioTrack,
    encode_video_loop,
)
from server.rtc.matroska import mux_packet
from server.rtc.probe import probe_recording
from server.rtc.room import Room
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir
from tests.conftest import wait_for
from tests.test_rtc_recorder import FPS as RECORDER_FPS
from tests.test_rtc_recorder import asking_recorder, encode, feed

FPS = 15
LOOP_S = 8  # one keyframe per loop: without a request, the next comes only 8 s on


def _pictures(codec: str, packets: list[bytes], *, independent: bool = False) -> list[np.ndarray]:
    """Luma of each packet decoded as the sender meant it: in sequence, or each alone."""
    frames: list[av.VideoFrame] = []
    ctx = cast(av.VideoCodecContext, av.CodecContext.create(codec, "r"))
    for data in packets:
        if independent:
            ctx = cast(av.VideoCodecContext, av.CodecContext.create(codec, "r"))
        frames += ctx.decode(av.Packet(data))
    frames += ctx.decode(None)
    return [f.to_ndarray(format="gray").astype(np.int16) for f in frames]


def _at_video(video_index: int, action: Callable[[int, bool], None]) -> Any:
    """``mux_packet`` that first calls ``action`` with the ``video_index``-th video packet's
    time in the file (ms) and keyframe flag (from 0); what it raises loses the packet."""
    videos = 0

    def mux(container: Any, stream: Any, data: bytes, ms: int, key: bool) -> None:
        nonlocal videos
        if stream.type == "video":
            videos += 1
            if videos == video_index + 1:
                action(ms, key)
        mux_packet(container, stream, data, ms, key)

    return mux


def _fails_once(video_index: int, on_fault: Callable[[int, bool], None] | None = None) -> Any:
    """``mux_packet`` that raises for the ``video_index``-th video packet (from 0), after
    telling ``on_fault`` its time in the file (ms) and keyframe flag."""

    def fault(ms: int, key: bool) -> None:
        if on_fault is not None:
            on_fault(ms, key)
        raise RuntimeError("injected fault")

    return _at_video(video_index, fault)


def _recorded(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        return [
            (float(f.time or 0.0), f.to_ndarray(format="gray").astype(np.int16))
            for f in container.decode(video=0)
        ]


def _decoded_by_libvpx(path: Path) -> list[float]:
    """Times of the recording's video frames that libvpx (browsers' VP8 decoder) decodes.
    FFmpeg's own VP8 decoder refuses every inter frame after a gap up to the next keyframe
    ("Invalid data"), where libvpx decodes them against the wrong picture."""
    ctx = av.CodecContext.create("libvpx", "r")
    with av.open(str(path)) as container:
        return [
            float(packet.pts * packet.time_base)
            for packet in container.demux(video=0)
            if packet.size and packet.pts is not None and packet.time_base is not None
            for _ in ctx.decode(packet)
        ]


def _spoiled(frames: list[tuple[float, np.ndarray]], sent: list[np.ndarray]) -> list[float]:
    """Times of recorded pictures that are none of the pictures the sender encoded."""
    return [t for t, got in frames if min(float(np.abs(got - ref).mean()) for ref in sent) > 1.0]


async def test_a_lost_video_frame_brings_a_keyframe_and_no_spoiled_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: the frames after the lost one were written as they came, decoded against the
    # wrong picture until the sender's next keyframe, and no keyframe was asked for.
    loop = encode_video_loop("customer", LOOP_S, (160, 120), FPS, LOOP_S * FPS, MediaTimeline())
    assert loop.keyframes is not None
    timeline = MediaTimeline()  # from now: the camera does not start with a burst
    camera = LoopedPacketTrack(loop, timeline)
    fault: dict[str, Any] = {}

    def on_fault(ms: int, key: bool) -> None:
        fault.update(ms=ms, key=key, asked=camera.keyframes_sent, sent=camera.sent)

    # two seconds into the file: an inter frame
    monkeypatch.setattr("server.rtc.recorder.mux_packet", _fails_once(2 * FPS, on_fault))
    settings = RtcSettings(loopback_only=True, sync_wait_s=0.5, keyframe_interval_s=600)
    sdir = SessionDir.create(tmp_path, "s-lost")
    room = Room(sdir, settings)
    client = ClientPeer([camera, ToneAudioTrack(timeline)])
    try:
        await client.accept(await room.join("customer", await client.offer()))
        await wait_for(lambda: bool(fault), 20)
        await wait_for(lambda: camera.sent > fault["sent"] + 3 * FPS, 20)
        await asyncio.sleep(0.5)  # what is in flight
    finally:
        await room.close()
        await client.close()
    assert fault and not fault["key"] and fault["asked"] == 0
    assert camera.keyframes_sent > 0  # the recorder's request reached the sender
    (segment,) = sdir.segments()
    probe = await asyncio.to_thread(probe_recording, segment.path)
    assert probe.decode_errors == 0 and probe.audio_rms > 0.05
    sent = _pictures("vp8", loop.packets) + _pictures("vp8", loop.keyframes, independent=True)
    frames = await asyncio.to_thread(_recorded, segment.path)
    assert not await asyncio.to_thread(_spoiled, frames, sent)
    # and the picture came back within the hold, not at the sender's own next keyframe
    after = [t for t, _ in frames if t > fault["ms"] / 1000]
    assert after and after[0] - fault["ms"] / 1000 < keyframe_wait.HOLD_S
    assert after[-1] > fault["ms"] / 1000 + 2


async def test_h264_after_a_lost_frame_is_held_to_the_next_keyframe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: frames 11-29 were written and decoded against the wrong picture, drifting
    # further from the camera's frame by frame (FFmpeg reports no error for them).
    h264 = await asyncio.to_thread(encode, "libx264", 60, 30)  # keyframes: #0 and #30
    monkeypatch.setattr("server.rtc.recorder.mux_packet", _fails_once(10))
    asked: list[int] = []
    rec = asking_recorder(tmp_path / "h.mkv", "h264", asked)
    await feed(rec, h264, [], 1_800_000_000.0, "h264")
    stats = await rec.stop()
    assert stats.error is None and asked
    assert stats.packets_written["video"] == 10 + 30 and stats.dropped["video"] == 20
    sent = await asyncio.to_thread(_pictures, "h264", h264)
    frames = await asyncio.to_thread(_recorded, tmp_path / "h.mkv")
    assert len(frames) == 40
    for t, got in frames:
        assert float(np.abs(got - sent[round(t * RECORDER_FPS)]).mean()) < 1.0, t


class DeafCamera(LoopedPacketTrack):
    """A sender that ignores keyframe requests (a script, a broken encoder): it counts them
    and sends its loop's own keyframes only."""

    asked = 0

    def request_keyframe(self) -> None:
        self.asked += 1


def _stalls_once(video_index: int, stalled: threading.Event, go_on: threading.Event) -> Any:
    """``mux_packet`` that, at the ``video_index``-th video packet, stalls the mux thread
    until ``go_on`` is set (a slow disk): the recorder's queue fills meanwhile."""

    def stall(ms: int, key: bool) -> None:
        stalled.set()
        go_on.wait(60)  # only bounds a failing test

    return _at_video(video_index, stall)


async def test_after_a_queue_overflow_a_deaf_senders_video_comes_back_after_the_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: an overflow of the recorder's queue held video back until the sender's next
    # keyframe, however long that took: a sender that ignores requests, with a keyframe
    # every 12 s, lost up to 12 s of picture (every frame after the overflow here).
    loop_s = 12  # the sender's own keyframes: at 0 s and 12 s (the call is over by then)
    loop = encode_video_loop("customer", loop_s, (160, 120), FPS, loop_s * FPS, MediaTimeline())
    timeline = MediaTimeline()
    camera = DeafCamera(loop, timeline)
    stalled, go_on = threading.Event(), threading.Event()
    monkeypatch.setattr("server.rtc.recorder.mux_packet", _stalls_once(FPS, stalled, go_on))
    settings = RtcSettings(
        loopback_only=True, sync_wait_s=0.5, keyframe_interval_s=600, recorder_queue=50
    )
    sdir = SessionDir.create(tmp_path, "s-overflow")
    room = Room(sdir, settings)
    client = ClientPeer([camera, ToneAudioTrack(timeline)])

    def dropped() -> int:
        return int(room.stats().get("customer", {}).get("recorder_dropped", {}).get("video", 0))

    try:
        await client.accept(await room.join("customer", await client.offer()))
        await wait_for(stalled.is_set, 20)
        asked_before = camera.asked
        await wait_for(lambda: dropped() > 0, 20)
        overflow_sent = camera.sent  # the first video frame lost is no later than this
        go_on.set()
        await wait_for(lambda: camera.sent > overflow_sent + (keyframe_wait.HOLD_S + 2) * FPS, 20)
        sent_at_end = camera.sent
        await asyncio.sleep(0.5)  # what is in flight
    finally:
        go_on.set()
        await room.close()
        await client.close()
    assert sent_at_end < loop_s * FPS  # the sender's next own keyframe did not come
    assert asked_before == 0 and camera.asked > 0  # the overflow asked for a keyframe
    (segment,) = sdir.segments()
    times = await asyncio.to_thread(_decoded_by_libvpx, segment.path)
    resumed = [t for t in times if t > overflow_sent / FPS + keyframe_wait.HOLD_S]
    assert len(resumed) >= FPS, (overflow_sent, times[-5:])
