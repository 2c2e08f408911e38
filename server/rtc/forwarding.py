"""The packet path of a room: every packet one participant sends goes to its recorder, to
the live tap and on to the other participant; and keyframes are asked of a browser when a
viewer or a recorder needs a picture.

Apart from :class:`~server.rtc.room.Room` (who is connected, segments, leaving) because it
runs once per packet and must never wait: it reads the room's participants but never
changes them, and what it starts (keyframe requests) goes to the room's owned tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from server.rtc import passthrough
from server.rtc.owned_tasks import OwnedTasks
from server.rtc.participant import Participant, other_role
from server.rtc.passthrough import SenderReport

log = logging.getLogger("kesu.rtc.room")


class MediaTap(Protocol):
    """Sees every received packet before it is relayed (live checks: server/live/tap.py).
    Must copy what it keeps and never block."""

    frame_interval_s: float

    def __call__(
        self, role: str, kind: str, packet: av.Packet[Any], now: float, codec: str | None
    ) -> None: ...


class Forwarder:
    """The packet path of one room (its ``participants`` dict is the room's own, shared)."""

    def __init__(
        self,
        participants: dict[str, Participant],
        tasks: OwnedTasks,
        gate: Callable[[], bool] | None = None,
    ) -> None:
        self._participants = participants
        self._tasks = tasks
        # False while this node may not take media (its lease lapsed: server.fence).
        self._gate = gate
        self.tap: MediaTap | None = None

    async def pump(
        self, p: Participant, kind: str, track: MediaStreamTrack, video_codec: str | None
    ) -> None:
        """Move one incoming track's packets to the recorder and the other participant.
        ``video_codec`` is the room's, fixed by its first offer before any pump starts."""
        viewer_role = other_role(p.role)
        while True:
            try:
                packet = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(packet, av.Packet):
                continue
            now = time.time()
            p.last_media = now
            p.packets[kind] += 1
            if self._gate is not None and not self._gate():
                continue  # fenced: neither recorded nor relayed (the browser still sends)
            if p.recorder is not None:
                p.recorder.push(kind, packet, now)  # copies the payload first
            if self.tap is not None:
                try:
                    self.tap(p.role, kind, packet, now, video_codec)
                except Exception:  # live checks are advisory: never cost the relay
                    log.exception("live tap failed; detached")
                    self.tap = None
            viewer = self._participants.get(viewer_role)
            if viewer is not None and not viewer.closing:
                viewer.out[kind].feed(packet, p)

    def sender_report(self, p: Participant, kind: str, report: SenderReport) -> None:
        if p.recorder is not None:
            p.recorder.sender_report(kind, report)

    def request_keyframe(self, role: str) -> None:
        """Ask ``role``'s browser for a keyframe (rate-limited)."""
        p = self._participants.get(role)
        if p is None or p.closing or "video" not in p.receivers:
            return
        if p.keyframe_due(time.time()):
            self._tasks.spawn(passthrough.request_keyframe(p.receivers["video"]))

    def keyframe_interval(self, default_s: float) -> float:
        """Seconds between periodic keyframe requests: live checks look at keyframes only,
        so a tap that wants frames more often shortens it."""
        if self.tap is None:
            return default_s
        return min(default_s, self.tap.frame_interval_s)
