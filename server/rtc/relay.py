"""Forwarding one participant's encoded packets to the other without re-encoding.

A :class:`PacketRelayTrack` is a ``MediaStreamTrack`` whose ``recv()`` returns the
``av.Packet``s fed to it; aiortc's ``RTCRtpSender`` packetizes packets as they are
(``Encoder.pack``), as it does for ``MediaPlayer(decode=False)``. The track outlives the
participant feeding it: when a participant rejoins, the packets of the new connection are
rebased so the viewer sees one continuous RTP timeline. Keyframe requests (PLI/FIR) from
the viewer reach the sender's ``_send_keyframe``, which :meth:`attach` redirects (on that
one sender object) to :meth:`PacketRelayTrack.request_keyframe`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av
from aiortc import RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

FRAME_TICKS = {"audio": 960, "video": 3000}  # one 20 ms Opus frame; one 30 fps video frame


class PacketRelayTrack(MediaStreamTrack):
    """An outgoing track of pass-through packets with a bounded queue."""

    def __init__(
        self,
        kind: str,
        clock_rate: int,
        max_queue: int = 256,
        on_keyframe_request: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.clock_rate = clock_rate
        self.time_base = Fraction(1, clock_rate)
        self.on_keyframe_request = on_keyframe_request
        self._queue: asyncio.Queue[av.Packet[Any] | None] = asyncio.Queue(max_queue)
        self._source: object = None
        self._offset = 0
        self._last_out: int | None = None
        self._last_wall = 0.0
        self._await_keyframe = False
        self.forwarded = 0
        self.dropped = 0  # lost to overflow (the viewer's connection could not keep up)
        self.skipped = 0  # a new sender's frames before its first keyframe (undecodable)
        self.held = 0  # a participant's packets not forwarded while another source owns it
        self._owner: object = None

    def claim(self, owner: object) -> None:
        """Forward only ``owner``'s packets until :meth:`release` (voice playback: both
        parties hear the recording, not each other; their own tracks still record)."""
        self._owner = owner

    def release(self, owner: object) -> None:
        if self._owner is owner:
            self._owner = None

    def attach(self, sender: RTCRtpSender) -> None:
        """Route the viewer's keyframe requests that reach ``sender`` to this track."""
        sender._send_keyframe = self.request_keyframe  # type: ignore[method-assign]

    def request_keyframe(self) -> None:
        if self.on_keyframe_request is not None:
            self.on_keyframe_request()

    def feed(self, packet: av.Packet[Any], source: object) -> None:
        """Queue a packet from ``source`` (any object identifying one connection). Takes
        ownership of the packet (its pts is rewritten). Never blocks: on overflow audio
        drops the oldest packet, video drops everything up to the next keyframe."""
        if self.readyState != "live" or packet.pts is None:
            return
        if self._owner is not None and source is not self._owner:
            self.held += 1
            return
        if self._await_keyframe:
            if not (self.kind == "video" and packet.is_keyframe):
                self.dropped += 1
                return
            self._await_keyframe = False
        now = time.monotonic()
        if source is not self._source:
            if self.kind == "video" and not packet.is_keyframe:
                # A new connection's frames are undecodable until its first keyframe.
                self.skipped += 1
                self.request_keyframe()
                return
            self._rebase(packet.pts, now)
            self._source = source
        packet.pts = packet.pts + self._offset
        packet.dts = packet.pts
        packet.time_base = self.time_base
        if self._queue.full():
            self._overflow()
            if self.kind == "video" and not packet.is_keyframe:
                self.dropped += 1
                return
            self._await_keyframe = False
        self._queue.put_nowait(packet)
        self._last_out = packet.pts
        self._last_wall = now

    def _rebase(self, pts: int, now: float) -> None:
        if self._last_out is None:
            self._offset = 0
            return
        # Continue the viewer's timeline where it stopped, advanced by the time that passed.
        elapsed = max(FRAME_TICKS[self.kind], round((now - self._last_wall) * self.clock_rate))
        self._offset = self._last_out + elapsed - pts

    def _overflow(self) -> None:
        if self.kind == "audio":
            self._queue.get_nowait()
            self.dropped += 1
            return
        while not self._queue.empty():
            self._queue.get_nowait()
            self.dropped += 1
        self._await_keyframe = True
        self.request_keyframe()

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        self.forwarded += 1
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            super().stop()
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(None)
