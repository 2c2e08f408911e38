"""A hostile sender at the media level (a script with the join link, not a browser): what it
sends may be anything, yet the server stays up and the recording keeps what can be kept."""

from __future__ import annotations

import asyncio
import random
import re
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiortc.clock
import av
import pytest
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket, RtpPacket

from server.rtc import passthrough, retransmit
from server.rtc.client import (
    VIDEO_RATE,
    ClientPeer,
    LoopedPacketTrack,
    MediaTimeline,
    PatternVideoTrack,
    ToneAudioTrack,
    encode_video_loop,
)
from server.rtc.probe import probe_recording
from server.rtc.recorder import SegmentRecorder
from server.rtc.room import Room
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir
from tests.conftest import wait_for
from tests.test_rtc_recorder import encode, feed

FPS = 15


class GarbageThenCamera(PatternVideoTrack):
    """Random bytes as VP8 frames for ``garbage_s``, half of them "keyframes" (an even first
    byte is VP8's keyframe flag) that declare no picture size; then a real camera."""

    def __init__(self, role: str, timeline: MediaTimeline, garbage_s: float) -> None:
        super().__init__(role, timeline, fps=FPS)
        self.garbage = round(garbage_s * FPS)
        self._random = random.Random(7)

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        if self.sent >= self.garbage:
            return await super().recv()
        await self.timeline.wait_until(self.sent / self.fps)
        data = bytearray(self._random.randbytes(300))
        data[0] &= 0xFE if self.sent % 2 == 0 else 0xFF
        packet = av.Packet(bytes(data))  # passed to the RTP packetizer as it is
        packet.pts = self.sent * VIDEO_RATE // self.fps
        packet.time_base = Fraction(1, VIDEO_RATE)
        self.sent += 1
        return packet


class JumpingCamera(LoopedPacketTrack):
    """Pre-encoded VP8 whose RTP timestamps jump once, after one second: offset by
    ``offsets[0]`` ticks before, by ``offsets[1]`` after (libvpx itself refuses a pts that
    goes back; a script sends what it likes)."""

    def __init__(self, timeline: MediaTimeline, offsets: tuple[int, int]) -> None:
        super().__init__(encode_video_loop("customer", 2, (160, 120), FPS, FPS, timeline), timeline)
        self.offsets = offsets

    async def recv(self) -> Any:
        packet = await super().recv()
        packet.pts += self.offsets[self.sent > FPS]  # sent as the RTP timestamp
        return packet


async def _call(
    tmp_path: Path, settings: RtcSettings, camera: PatternVideoTrack | JumpingCamera, frames: int
) -> SessionDir:
    sdir = SessionDir.create(tmp_path, "s-hostile")
    room = Room(sdir, settings)
    client = ClientPeer([camera, ToneAudioTrack(camera.timeline)])
    try:
        await client.accept(await room.join("customer", await client.offer()))
        await wait_for(lambda: camera.sent > frames, 15)
        await asyncio.sleep(0.5)  # what is in flight
    finally:
        await room.close()
        await client.close()
    return sdir


async def test_garbage_keyframes_before_the_camera_do_not_lose_the_recording(
    tmp_path: Path,
) -> None:
    # Before: the recorder took the first garbage "keyframe" as the file's template, the
    # muxer refused it and the recorder thread died: no file at all, voice included.
    settings = RtcSettings(loopback_only=True, sync_wait_s=0.5)
    camera = GarbageThenCamera("customer", MediaTimeline(), garbage_s=1.0)
    sdir = await _call(tmp_path, settings, camera, frames=3 * FPS)
    (segment,) = sdir.segments()
    probe = await asyncio.to_thread(probe_recording, segment.path)
    assert (probe.video_codec, probe.audio_codec) == ("vp8", "opus")
    assert probe.video_frames > FPS and probe.decode_errors == 0
    assert probe.audio_rms > 0.05


async def test_only_garbage_video_still_records_the_voice(tmp_path: Path) -> None:
    settings = RtcSettings(loopback_only=True, sync_wait_s=0.5, video_wait_s=1.0)
    camera = GarbageThenCamera("customer", MediaTimeline(), garbage_s=60.0)
    sdir = await _call(tmp_path, settings, camera, frames=3 * FPS)
    (segment,) = sdir.segments()
    probe = await asyncio.to_thread(probe_recording, segment.path)
    assert (probe.video_codec, probe.audio_codec) == (None, "opus")
    assert probe.audio_end is not None and probe.audio_end > 1.5 and probe.audio_rms > 0.05


# Keyframes (by the flag the recorder goes by) that declare no picture or a 0 x 0 one.
SIZELESS = {
    "vp8-zero-size": ("vp8", "libvpx", b"\x00\x00\x00\x9d\x01\x2a\x00\x00\x00\x00" + bytes(200)),
    "h264-idr-without-sps": ("h264", "libx264", b"\x00\x00\x00\x01\x65" + bytes(range(200))),
    "h264-garbage-sps": (
        "h264",
        "libx264",
        b"\x00\x00\x00\x01\x67\xff\xff\xff\xff\x00\x00\x01\x65" + bytes(range(200)),
    ),
}


@pytest.mark.parametrize("case", list(SIZELESS))
async def test_recorder_starts_on_the_first_keyframe_that_gives_a_size(
    tmp_path: Path, case: str
) -> None:
    # Before: the muxer refused the 0 x 0 template (FFmpeg error 22) and the recorder died.
    codec, encoder, bad = SIZELESS[case]
    good = await asyncio.to_thread(encode, encoder, 30, 30)
    rec = SegmentRecorder(tmp_path / "g.mkv", codec, sync_wait_s=0)
    rec.start()
    await feed(rec, [bad] * 5 + good, [], 1_800_000_000.0, codec)
    stats = await rec.stop()
    assert stats.error is None and stats.started
    assert stats.packets_written["video"] == len(good)
    probe = await asyncio.to_thread(probe_recording, tmp_path / "g.mkv")
    assert probe.video_frames == len(good) and probe.decode_errors == 0


@pytest.mark.parametrize(
    "offsets",
    [(0, 2**31 - 1), (90000 * 3600, 0), (90000 * 10, 0)],
    ids=["ahead-6.6h", "back-1h", "back-10s"],
)
async def test_a_jump_in_video_timestamps_keeps_the_time_line_and_the_frames(
    tmp_path: Path, offsets: tuple[int, int]
) -> None:
    # Before: 6.6 hours ahead made the 4 s segment last 6.6 hours (metadata and file); an
    # hour back had every later frame dropped as before the file's start, and so did 10 s
    # back (AvClock.MAX_BACK_S; within MAX_BEHIND_S it was not taken for a jump).
    settings = RtcSettings(loopback_only=True, sync_wait_s=0.5)
    camera = JumpingCamera(MediaTimeline(), offsets)
    sdir = await _call(tmp_path, settings, camera, frames=4 * FPS)
    (segment,) = sdir.segments()
    assert segment.end_s is not None and segment.end_s - segment.start_s < 30
    probe = await asyncio.to_thread(probe_recording, segment.path)
    assert probe.duration < 30 and probe.decode_errors == 0
    assert probe.video_frames > 2 * FPS  # of about 4 s, the second half after the jump
    assert probe.video_end is not None and probe.video_end > 2.5


async def test_a_candidate_on_an_impossible_port_does_not_cost_the_connection(
    tmp_path: Path,
) -> None:
    # Before: aioice sent its check to port 99999, asyncio took that as a fatal error and
    # closed the server's socket: the call never connected.
    room = Room(SessionDir.create(tmp_path, "s-port"), RtcSettings(loopback_only=True))
    camera = PatternVideoTrack("customer", MediaTimeline(), fps=FPS)
    client = ClientPeer([camera, ToneAudioTrack(camera.timeline)])
    bad = "a=candidate:99 1 udp 2130706431 127.0.0.1 99999 typ host\r\n"
    offer = re.sub(r"(a=mid:0\r\n)", lambda m: m[1] + bad, await client.offer())
    try:
        await client.accept(await room.join("customer", offer))
        await wait_for(lambda: room.stats()["customer"]["packets_received"]["video"] > 5, 10)
    finally:
        await room.close()
        await client.close()


async def test_sender_reports_with_random_clocks_keep_the_voice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client's RTCP sender reports (aiortc stamps them with aiortc.clock) carry random
    # NTP times, days apart. Before: the audio mapped before the file's start and every
    # audio packet was dropped (300 of 300 in a 6 s probe).
    rng = random.Random(3)
    real = aiortc.clock.current_ntp_time
    monkeypatch.setattr(
        aiortc.clock,
        "current_ntp_time",
        lambda: (real() + (rng.randrange(-(2**40), 2**40) << 32)) % (1 << 64),
    )
    settings = RtcSettings(loopback_only=True, sync_wait_s=20.0)  # start on the reports
    camera = PatternVideoTrack("customer", MediaTimeline(), fps=FPS)
    sdir = await _call(tmp_path, settings, camera, frames=4 * FPS)
    (segment,) = sdir.segments()
    assert segment.end_s is not None and segment.end_s - segment.start_s < 30
    probe = await asyncio.to_thread(probe_recording, segment.path)
    assert probe.duration < 30 and probe.decode_errors == 0
    assert probe.video_frames > 2 * FPS
    assert probe.audio_end is not None and probe.audio_end > 2.0 and probe.audio_rms > 0.05


async def test_packets_from_many_ssrcs_do_not_multiply_keyframe_requests(tmp_path: Path) -> None:
    # aiortc takes a packet of any SSRC that has the track's payload type. Before: a PLI
    # went to every SSRC heard in the last 10 s, on every keyframe request (300 here).
    room = Room(SessionDir.create(tmp_path, "s-ssrc"), RtcSettings(loopback_only=True))
    camera = PatternVideoTrack("customer", MediaTimeline(), fps=FPS)
    client = ClientPeer([camera, ToneAudioTrack(camera.timeline)])
    try:
        await client.accept(await room.join("customer", await client.offer()))
        received = room.stats
        await wait_for(lambda: received()["customer"]["packets_received"]["video"] > 5, 10)
        (video,) = [t for t in client.pc.getTransceivers() if t.kind == "video"]
        pt = re.search(r"a=rtpmap:(\d+) VP8/90000", client.pc.localDescription.sdp)
        assert pt is not None
        for i in range(300):
            packet = RtpPacket(int(pt[1]), sequence_number=i, timestamp=i, ssrc=1000 + i)
            packet.payload = b"\x10\x00\x00\x00"
            await video.sender.transport._send_rtp(packet.serialize())
            await asyncio.sleep(0.001)
        # the camera's frames sent after the flood have come, so the flood has too
        after = camera.sent
        await wait_for(lambda: received()["customer"]["packets_received"]["video"] > after)
        receiver = room._participants["customer"].receivers["video"]
        assert await passthrough.request_keyframe(receiver) <= passthrough.MAX_PLI_SOURCES
        # and aiortc keeps state for a bounded number of them (before: every one, 301)
        assert len(receiver.getSynchronizationSources()) <= passthrough.MAX_SSRCS
    finally:
        await room.close()
        await client.close()


async def test_a_flood_of_nacks_is_not_answered_in_full(tmp_path: Path) -> None:
    # aiortc resends every NACKed packet still in its history. Before: a customer sending
    # NACKs for the last 128 packets of the server's video to it, 2700 a second, had the
    # server resend 23,000 packets a second (each SRTP-protected on the media loop).
    room = Room(SessionDir.create(tmp_path, "s-nack"), RtcSettings(loopback_only=True))
    peers = {}
    for role in ("salesperson", "customer"):
        camera = PatternVideoTrack(role, MediaTimeline(), fps=FPS)
        peers[role] = ClientPeer([camera, ToneAudioTrack(camera.timeline)])
        await peers[role].accept(await room.join(role, await peers[role].offer()))
    client = peers["customer"]
    try:
        await wait_for(lambda: client.received.frames["video"] > 5, 10)
        (video,) = [t for t in client.pc.getTransceivers() if t.kind == "video"]
        source = video.receiver.getSynchronizationSources()[0].source
        transport = video.receiver.transport
        newest = video.receiver._RTCRtpReceiver__nack_generator.max_seq  # type: ignore[attr-defined]
        nack = RtcpRtpfbPacket(
            fmt=RTCP_RTPFB_NACK,
            ssrc=video.sender._ssrc,
            media_ssrc=source,
            lost=[(newest - i) % 65536 for i in range(127, -1, -1)],
        )
        server_pc = room._participants["customer"].pc
        (sent,) = {t.sender.transport for t in server_pc.getTransceivers()}  # bundled

        def sent_packets() -> int:
            return int(sent._RTCDtlsTransport__tx_packets)  # type: ignore[attr-defined]

        before, started = sent_packets(), time.monotonic()
        for _ in range(200):  # asks for 25,600 packets
            await transport._send_rtp(bytes(nack))
        await asyncio.sleep(0.5)  # what is in flight
        elapsed = time.monotonic() - started
        resent = sent_packets() - before
        media = 200 * elapsed  # what the two tracks send meanwhile, generously
        assert resent <= media + retransmit.MAX_RETRANSMITS_PER_S * (1 + elapsed)
    finally:
        await room.close()
        for peer in peers.values():
            await peer.close()
