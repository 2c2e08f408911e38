"""The recorder's video after a lost frame: held back until the next keyframe, asked for.

A video inter frame is coded against the frames before it. When the recorder loses one
(its handling raised, it fell before the file's start, or the recorder's queue was full),
every frame after it up to the next keyframe decodes against the wrong picture: FFmpeg
decodes H.264 with a picture that drifts further from the camera's frame by frame, and VP8
with smeared blocks. So after a loss the recorder asks the sender for a keyframe (the
room's PLI path, rate-limited) and writes no inter frame until one comes: the file has a
short freeze instead of a spoiled picture. A browser answers within a round trip; a sender
that ignores the request holds video back for ``HOLD_S`` at most, after which its frames
are written again as before.

One instance belongs to one thread: the recorder has one on its mux thread (frames lost
there) and one on the event loop (frames lost to a full queue, held before queueing). The
times are packet arrivals (server clock), never read here.
"""

from __future__ import annotations

from collections.abc import Callable

KEYFRAME_RETRY_S = 1.0  # between the mux thread's keyframe requests while it waits
HOLD_S = 3.0  # at most this long without a keyframe: then inter frames are written again


class KeyframeWait:
    """Whether video is held back for a keyframe, and the rate-limited requests for one."""

    def __init__(self, ask: Callable[[], None]) -> None:
        self._ask = ask  # thread-safe: hands the request to the event loop
        self._last_request: float | None = None
        self._lost_at: float | None = None  # the first loss since the last keyframe
        self.held = 0  # frames held back (not written) waiting for a keyframe

    def request(self, now: float) -> None:
        """Ask for a keyframe, at most once per ``KEYFRAME_RETRY_S``."""
        if self._last_request is None or now - self._last_request >= KEYFRAME_RETRY_S:
            self._last_request = now
            self._ask()

    def lost(self, now: float) -> None:
        """A video frame was not written: hold the next ones until a keyframe."""
        if self._lost_at is None:
            self._lost_at = now
        self.request(now)

    def holds(self, keyframe: bool, now: float) -> bool:
        """Whether a video frame arriving at ``now`` must be held back (not written)."""
        if self._lost_at is None:
            return False
        if keyframe or now - self._lost_at > HOLD_S:
            self._lost_at = None
            return False
        self.held += 1
        self.request(now)
        return True
