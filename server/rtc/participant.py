"""One connection of one participant: its peer connection, outgoing relay tracks, recorder."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiortc import RTCPeerConnection, RTCRtpReceiver

from server.rtc.recorder import SegmentRecorder
from server.rtc.recorder_stats import RecorderStats
from server.rtc.relay import PacketRelayTrack

KEYFRAME_MIN_INTERVAL_S = 0.3
ROLES = ("salesperson", "customer")


def other_role(role: str) -> str:
    return ROLES[1] if role == ROLES[0] else ROLES[0]


@dataclass(eq=False)
class Participant:
    """State of one connection; the Room drives it (this class starts nothing itself)."""

    role: str
    serial: int
    pc: RTCPeerConnection
    out: dict[str, PacketRelayTrack]
    joined_at: float = field(default_factory=time.time)
    receivers: dict[str, RTCRtpReceiver] = field(default_factory=dict)
    segment: Path | None = None
    recorder: SegmentRecorder | None = None
    pumps: list[asyncio.Task[None]] = field(default_factory=list)
    start_task: asyncio.Task[None] | None = None
    last_media: float | None = None
    last_keyframe_request: float = 0.0
    last_periodic_keyframe: float = field(default_factory=time.time)
    packets: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    closing: bool = False
    recorder_stats: RecorderStats | None = None
    # Written and dropped by this connection's earlier recorders (a segment with audio only
    # closed when the picture came): the counters are the connection's, and never go down.
    earlier_written: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    earlier_dropped: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    # Packets those earlier recorders could not write: lost for good, so the connection's
    # recording stays failed (``Room.recording_failed``) after the segment rolls over.
    earlier_write_errors: int = 0

    def next_recorder(self) -> None:
        """Fold the stopped recorder's counts into the connection's, before a new one."""
        if self.recorder_stats is not None:
            for kind in self.earlier_written:
                self.earlier_written[kind] += self.recorder_stats.packets_written.get(kind, 0)
                self.earlier_dropped[kind] += self.recorder_stats.dropped.get(kind, 0)
            self.earlier_write_errors += self.recorder_stats.write_errors
        self.recorder_stats = None

    def write_errors(self) -> int:
        """Packets of this connection lost because writing them failed, every segment."""
        rec = self.current_recorder_stats()
        return self.earlier_write_errors + (rec.write_errors if rec else 0)

    def keyframe_due(self, now: float) -> bool:
        """Rate limit for PLIs sent to this participant's browser."""
        if now - self.last_keyframe_request < KEYFRAME_MIN_INTERVAL_S:
            return False
        self.last_keyframe_request = now
        return True

    def current_recorder_stats(self) -> RecorderStats | None:
        return self.recorder_stats or (self.recorder.stats if self.recorder else None)

    def stats(self) -> dict[str, object]:
        rec = self.current_recorder_stats()
        return {
            "role": self.role,
            "connection": self.serial,
            "state": self.pc.connectionState,
            "packets_received": dict(self.packets),
            "forwarded_to_me": {k: t.forwarded for k, t in self.out.items()},
            "relay_dropped": {k: t.dropped for k, t in self.out.items()},
            "relay_skipped": {k: t.skipped for k, t in self.out.items()},
            "relay_held": {k: t.held for k, t in self.out.items()},  # during voice playback
            "recorded": _plus(self.earlier_written, rec.packets_written if rec else {}),
            "recorder_dropped": _plus(self.earlier_dropped, rec.dropped if rec else {}),
            "recorder_write_errors": self.write_errors(),
            "sync_mode": rec.sync_mode if rec else None,
            "recorder_backlog": list(self.recorder.backlog()) if self.recorder else [0, 0.0],
        }


def _plus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {kind: a.get(kind, 0) + b.get(kind, 0) for kind in dict.fromkeys([*a, *b])}
