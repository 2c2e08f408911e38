"""What a segment recorder did (its counters), read by the room and its statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RecorderStats:
    """What a recorder did; ``server_start``/``server_end`` are server-clock Unix seconds."""

    path: Path
    started: bool = False
    sync_mode: str = "none"
    packets_in: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    packets_written: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    dropped: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    keyframe_requests: int = 0
    write_errors: int = 0
    """Packets lost because writing them failed (``OSError``: a full or failing disk)."""
    audio_only: bool = False
    """The file holds no video: the camera sent no keyframe within ``video_wait_s``."""
    server_start: float | None = None
    server_end: float | None = None
    error: str | None = None

    @property
    def duration_s(self) -> float:
        if self.server_start is None or self.server_end is None:
            return 0.0
        return self.server_end - self.server_start
