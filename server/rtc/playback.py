"""Voice playback of a script node: recorded audio sent to everyone in the room and recorded.

The audio arrives already encoded (20 ms Opus packets, see ``inspection.playback``), so
playing it costs no decoding or encoding: a :class:`Player` paces the packets in real time
into every participant's outgoing audio track (each track is *claimed* for the duration,
so the parties hear the recording rather than each other; their own recordings go on) and
writes the same packets to ``system-NNN.mkv`` on a writer thread. The segment is opened
and closed through the session directory like any participant's, between a
``playback_start`` and a ``playback_end`` event (server clock, ``participant: system``);
``playback_end`` says how many packets were sent and whether the playback was complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container

from server.rtc.errors import RtcError
from server.rtc.medialoop import MediaLoop, on_media_loop
from server.rtc.relay import PacketRelayTrack
from server.session_dir import SessionDir
from server.session_format import utc_now

log = logging.getLogger("kesu.rtc.playback")

PARTICIPANT = "system"
FRAME_TICKS = 960  # 20 ms at 48 kHz
FRAME_S = 0.02
WRITE_BATCH = 5  # packets per hop to the writer thread (100 ms)
MS = Fraction(1, 1000)


@dataclass(frozen=True)
class Clip:
    """What to play: a node's audio as Opus packets, with the hashes that identify it."""

    node: str
    packets: tuple[bytes, ...]
    source_sha256: str
    packets_sha256: str

    @property
    def duration_s(self) -> float:
        return len(self.packets) * FRAME_S


class SystemTrackWriter:
    """Audio-only, crash-safe Matroska of the played packets (blocking; one thread at a time)."""

    def __init__(self, path: Path, cluster_time_limit_ms: int = 1000) -> None:
        self.path = path
        self._cluster_ms = cluster_time_limit_ms
        self._container: av.container.OutputContainer | None = None
        self._stream: Any = None
        self.written = 0

    def write(self, packets: Sequence[tuple[int, bytes]]) -> None:
        if self._container is None:
            self._open()
        assert self._container is not None
        for index, data in packets:
            packet = av.Packet(data)
            packet.stream = self._stream
            packet.time_base = MS
            packet.pts = packet.dts = index * 20
            self._container.mux(packet)
            self.written += 1

    def _open(self) -> None:
        container = av.open(
            str(self.path),
            "w",
            format="matroska",
            container_options={"cluster_time_limit": str(self._cluster_ms), "flush_packets": "1"},
        )
        # Opening libopus only produces a standard OpusHead (the packets are passed through).
        stream = container.add_stream("libopus", rate=48000, layout="stereo")
        stream.time_base = MS
        container.start_encoding()
        self._container, self._stream = container, stream

    def close(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            container.close()


class Player:
    """Plays one clip at a time into a room's outgoing audio tracks and records it."""

    def __init__(
        self,
        session_dir: SessionDir,
        targets: Callable[[], list[PacketRelayTrack]],
        cluster_time_limit_ms: int = 1000,
        media_loop: MediaLoop | None = None,
    ) -> None:
        self.session_dir = session_dir
        self.media_loop = media_loop  # the room's loop: playback feeds its relay tracks
        self._targets = targets
        self._cluster_ms = cluster_time_limit_ms
        self._task: asyncio.Task[None] | None = None
        self._state: dict[str, Any] = {"playing": False}
        self._closed = False

    @property
    def playing(self) -> bool:
        return self._task is not None and not self._task.done()

    def state(self) -> dict[str, Any]:
        """The current or last playback: node, playing, started_at, duration_s, complete."""
        return dict(self._state, playing=self.playing)

    @on_media_loop
    async def play(self, clip: Clip) -> dict[str, Any]:
        """Start playing ``clip``; RtcError when one is already playing or the room closed."""
        if self._closed:
            raise RtcError("room_closed", "this session's media room is closed")
        if self.playing:
            raise RtcError("playback_busy", "another node is being played")
        started = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(clip, started))
        await asyncio.shield(started)  # the segment is open and playback_start written
        return self.state()

    @on_media_loop
    async def stop(self) -> None:
        """Stop the current playback (recorded as incomplete). Idempotent."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @on_media_loop
    async def close(self) -> None:
        self._closed = True
        await self.stop()

    async def _run(self, clip: Clip, started: asyncio.Future[None]) -> None:
        sdir = self.session_dir
        path = await sdir.open_segment(PARTICIPANT)
        writer = SystemTrackWriter(path, self._cluster_ms)
        executor = ThreadPoolExecutor(1, thread_name_prefix=f"play-{path.name}")
        loop = asyncio.get_running_loop()
        sent = 0
        reason = "complete"
        claimed: list[PacketRelayTrack] = []
        try:
            at = utc_now()
            await sdir.start_segment(path, at)
            await sdir.add_event(
                "playback_start",
                participant=PARTICIPANT,
                node=clip.node,
                detail={
                    "segment": path.name,
                    "source_sha256": clip.source_sha256,
                    "packets": len(clip.packets),
                    "duration_s": round(clip.duration_s, 3),
                },
                at=at,
            )
            self._state = {"node": clip.node, "started_at": at.isoformat(), "complete": None}
            self._state["duration_s"] = round(clip.duration_s, 3)
            started.set_result(None)
            t0 = loop.time()
            batch: list[tuple[int, bytes]] = []
            for index, data in enumerate(clip.packets):
                delay = t0 + index * FRAME_S - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                for track in self._targets():
                    if track not in claimed:
                        track.claim(self)
                        claimed.append(track)
                    track.feed(_packet(data, index), self)
                batch.append((index, data))
                sent += 1
                if len(batch) >= WRITE_BATCH:
                    await loop.run_in_executor(executor, writer.write, batch)
                    batch = []
            if batch:
                await loop.run_in_executor(executor, writer.write, batch)
        except asyncio.CancelledError:
            reason = "stopped"
            raise
        except Exception as exc:
            reason = f"error: {exc!r}"
            log.exception("playback of %s failed", clip.node)
        finally:
            if not started.done():
                started.set_exception(RtcError("playback_failed", f"playback failed: {reason}"))
            for track in claimed:
                track.release(self)
            await asyncio.shield(self._finish(clip, path, writer, executor, sent, reason))

    async def _finish(
        self,
        clip: Clip,
        path: Path,
        writer: SystemTrackWriter,
        executor: ThreadPoolExecutor,
        sent: int,
        reason: str,
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(executor, writer.close)
        finally:
            executor.shutdown(wait=False)
        ended = utc_now()
        info = await self.session_dir.close_segment(path, ended)
        complete = reason == "complete" and writer.written == len(clip.packets)
        await self.session_dir.add_event(
            "playback_end",
            participant=PARTICIPANT,
            node=clip.node,
            detail={
                "segment": info.file if info else None,
                "packets_sent": sent,
                "packets_recorded": writer.written,
                "packets": len(clip.packets),
                "complete": complete,
                "reason": reason,
            },
            at=ended,
        )
        self._state = dict(self._state, complete=complete, ended_at=ended.isoformat())


def _packet(data: bytes, index: int) -> av.Packet[Any]:
    packet = av.Packet(data)
    packet.pts = packet.dts = index * FRAME_TICKS
    packet.time_base = Fraction(1, 48000)
    return packet
