"""A Python WebRTC participant for tests and benchmarks (no browser).

It sends synthetic media paced by the wall clock: a moving bar on a participant colour
with a white flash every ``marker_period_s``, and a quiet tone with a loud 1 kHz beep at
the same instants, so audio/video offset can be measured in a recording. The media is
either encoded live by aiortc (``PatternVideoTrack``/``ToneAudioTrack``: keyframes on
request, like a browser) or pre-encoded once and replayed (``LoopedPacketTrack``: cheap,
for benchmarks). Received media is decoded and summarised, or counted as packets.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from server.rtc import ice, passthrough

VIDEO_RATE = 90000
AUDIO_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms
COLOURS = {"salesperson": (200, 90), "customer": (90, 200)}  # (U, V) chroma per party
BEEP_S = 0.1


@dataclass
class MediaTimeline:
    """A wall-clock epoch shared by one participant's tracks (so markers coincide)."""

    epoch: float = field(default_factory=time.time)
    marker_period_s: float = 2.0

    def is_marker(self, t: float, length_s: float) -> bool:
        phase = t % self.marker_period_s
        return t >= self.marker_period_s / 2 and phase < length_s

    async def wait_until(self, t: float) -> None:
        delay = self.epoch + t - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


def pattern_frame(
    n: int, fps: int, size: tuple[int, int], colour: tuple[int, int], white: bool
) -> av.VideoFrame:
    """One yuv420p frame: a bright bar moving across a dark background of ``colour``."""
    width, height = size
    yuv = np.empty((height * 3 // 2, width), np.uint8)
    luma = yuv[:height]
    luma[:] = 235 if white else 60
    if not white:
        x = (n * 8) % max(1, width - width // 8)
        luma[:, x : x + width // 8] = 200
    yuv[height : height + height // 4] = 128 if white else colour[0]
    yuv[height + height // 4 :] = 128 if white else colour[1]
    frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
    frame.pts = n * VIDEO_RATE // fps
    frame.time_base = Fraction(1, VIDEO_RATE)
    return frame


def tone_frame(n: int, timeline: MediaTimeline) -> av.AudioFrame:
    """20 ms of mono s16: a quiet 440 Hz tone, or a loud 1 kHz beep on markers."""
    t = n * AUDIO_SAMPLES / AUDIO_RATE
    idx = np.arange(AUDIO_SAMPLES) + n * AUDIO_SAMPLES
    if timeline.is_marker(t, BEEP_S):
        samples = 0.8 * np.sin(2 * np.pi * 1000 * idx / AUDIO_RATE)
    else:
        samples = 0.1 * np.sin(2 * np.pi * 440 * idx / AUDIO_RATE)
    frame = av.AudioFrame.from_ndarray(
        (samples * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = AUDIO_RATE
    frame.pts = n * AUDIO_SAMPLES
    frame.time_base = Fraction(1, AUDIO_RATE)
    return frame


class PatternVideoTrack(MediaStreamTrack):
    """Live synthetic camera (aiortc encodes it)."""

    kind = "video"

    def __init__(
        self, role: str, timeline: MediaTimeline, size: tuple[int, int] = (320, 240), fps: int = 15
    ) -> None:
        super().__init__()
        self.role, self.timeline, self.size, self.fps = role, timeline, size, fps
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        t = self.sent / self.fps
        await self.timeline.wait_until(t)
        white = self.timeline.is_marker(t, 0.5 / self.fps)
        frame = pattern_frame(self.sent, self.fps, self.size, COLOURS[self.role], white)
        self.sent += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """Live synthetic microphone (aiortc encodes it to Opus)."""

    kind = "audio"

    def __init__(self, timeline: MediaTimeline) -> None:
        super().__init__()
        self.timeline = timeline
        self.sent = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self.timeline.wait_until(self.sent * AUDIO_SAMPLES / AUDIO_RATE)
        frame = tone_frame(self.sent, self.timeline)
        self.sent += 1
        return frame


@dataclass(frozen=True)
class EncodedLoop:
    """Pre-encoded packets of one track, replayed in a loop (starts on a keyframe)."""

    kind: str
    packets: list[bytes]
    ticks: int  # clock ticks per packet
    clock_rate: int
    keyframes: list[bytes] | None = None  # the same pictures, each coded as a keyframe


def encode_video_loop(
    role: str, seconds: float, size: tuple[int, int], fps: int, gop: int, timeline: MediaTimeline
) -> EncodedLoop:
    """Encode the pattern once with libvpx (keyframe every ``gop`` frames), and once more
    as all keyframes so that a keyframe request can be answered at any frame."""
    streams = []
    for key_every in (gop, 1):
        ctx = av.CodecContext.create("libvpx", "w")
        ctx.width, ctx.height, ctx.pix_fmt = size[0], size[1], "yuv420p"
        ctx.time_base = Fraction(1, fps)
        ctx.bit_rate = 1_000_000
        ctx.gop_size = key_every
        ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        packets: list[bytes] = []
        for n in range(round(seconds * fps)):
            t = n / fps
            frame = pattern_frame(n, fps, size, COLOURS[role], timeline.is_marker(t, 0.5 / fps))
            frame.pts, frame.time_base = n, ctx.time_base
            packets += [bytes(p) for p in ctx.encode(frame)]
        packets += [bytes(p) for p in ctx.encode(None)]
        streams.append(packets)
    return EncodedLoop("video", streams[0], VIDEO_RATE // fps, VIDEO_RATE, keyframes=streams[1])


def encode_audio_loop(seconds: float, timeline: MediaTimeline) -> EncodedLoop:
    """Encode the tone once with libopus (20 ms packets)."""
    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate, ctx.layout, ctx.format = AUDIO_RATE, "mono", "s16"
    ctx.bit_rate = 32000
    packets: list[bytes] = []
    for n in range(round(seconds * AUDIO_RATE / AUDIO_SAMPLES)):
        packets += [bytes(p) for p in ctx.encode(tone_frame(n, timeline))]
    return EncodedLoop("audio", packets, AUDIO_SAMPLES, AUDIO_RATE)


class LoopedPacketTrack(MediaStreamTrack):
    """Replays an :class:`EncodedLoop` as ``av.Packet``s paced by the wall clock; answers
    a keyframe request (like a browser) with the keyframe-coded version of the next frame,
    and keeps sending keyframe-coded frames up to the loop's next regular keyframe: an
    inter frame of the loop references the loop's own previous picture, and a decoder that
    got the substitute instead refuses it (FFmpeg: "Invalid data"), so the recording would
    not decode until then."""

    def __init__(self, loop: EncodedLoop, timeline: MediaTimeline) -> None:
        super().__init__()
        self.kind = loop.kind
        self.loop, self.timeline = loop, timeline
        self.time_base = Fraction(1, loop.clock_rate)
        self.sent = 0
        self.keyframes_sent = 0
        self._key_wanted = False
        self._substituting = False
        self._regular_keys = {
            i
            for i, data in enumerate(loop.packets)
            if loop.kind == "video" and data[:1] and not data[0] & 1
        }

    def request_keyframe(self) -> None:
        self._key_wanted = self.loop.keyframes is not None

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        await self.timeline.wait_until(self.sent * self.loop.ticks / self.loop.clock_rate)
        index = self.sent % len(self.loop.packets)
        if index in self._regular_keys:
            self._substituting = False  # the loop's own keyframe: its inter frames follow
        elif self._key_wanted:
            self._substituting = True
        source = self.loop.packets
        if self._substituting and self.loop.keyframes is not None:
            source = self.loop.keyframes
            self.keyframes_sent += self._key_wanted
        self._key_wanted = False
        packet = av.Packet(source[index % len(source)])
        packet.pts = self.sent * self.loop.ticks
        packet.time_base = self.time_base
        self.sent += 1
        return packet


@dataclass
class Received:
    """What a client got from the other participant."""

    frames: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    chroma: list[tuple[float, float]] = field(default_factory=list)  # mean (U, V) of frames
    audio_rms: list[float] = field(default_factory=list)


class ClientPeer:
    """One participant: sends ``tracks``, receives and summarises the other party."""

    def __init__(
        self,
        tracks: Sequence[MediaStreamTrack],
        decode: bool = True,
        addresses: Sequence[str] | None = ("127.0.0.1",),
        configuration: RTCConfiguration | None = None,
    ) -> None:
        # configuration: e.g. TURN servers with iceTransportPolicy RELAY (a browser behind NAT).
        self.pc = RTCPeerConnection(configuration or RTCConfiguration(iceServers=[]))
        self.tracks = list(tracks)
        self.decode = decode
        self.addresses = addresses
        self.received = Received()
        self._tasks: list[asyncio.Task[None]] = []
        for track in self.tracks:
            sender = self.pc.addTrack(track)
            if isinstance(track, LoopedPacketTrack):
                # aiortc answers PLI/FIR by flagging its encoder; pre-encoded media has none.
                sender._send_keyframe = track.request_keyframe  # type: ignore[method-assign]
        self.pc.on("track", self._on_track)

    async def offer(self) -> str:
        """Create the offer (ICE candidates gathered on ``addresses`` only)."""
        offer = await self.pc.createOffer()
        with ice.candidate_addresses(self.addresses):
            await self.pc.setLocalDescription(offer)
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))

    def _on_track(self, track: MediaStreamTrack) -> None:
        if not self.decode:
            for transceiver in self.pc.getTransceivers():
                if transceiver.receiver.track is track:
                    passthrough.enable(transceiver.receiver)
        self._tasks.append(asyncio.create_task(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                item: Any = await track.recv()
                self.received.frames[track.kind] += 1
                if isinstance(item, av.VideoFrame) and self.received.frames["video"] % 5 == 0:
                    yuv = item.to_ndarray(format="yuv420p")
                    h = item.height
                    u, v = yuv[h : h + h // 4], yuv[h + h // 4 :]
                    self.received.chroma.append((float(u.mean()), float(v.mean())))
                elif isinstance(item, av.AudioFrame):
                    samples = item.to_ndarray().astype(np.float64) / 32768.0
                    self.received.audio_rms.append(float(np.sqrt(np.mean(samples**2))))

    async def close(self) -> None:
        """Close the connection and stop the consumers (idempotent)."""
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
