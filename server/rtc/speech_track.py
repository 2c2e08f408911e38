"""A microphone that says given lines at given times (tests and benchmarks of live checks).

``SpeechAudioTrack`` plays float32 48 kHz mono clips on a ``MediaTimeline`` (each at its
start time, room tone in between) as 20 ms frames that aiortc encodes to Opus, paced by the
wall clock like a real microphone. ``loop_s`` repeats the schedule (benchmarks).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from server.rtc.client import AUDIO_RATE, AUDIO_SAMPLES, MediaTimeline

ROOM_TONE = 0.002  # ~-54 dBFS of noise: pauses are not digital silence


class SpeechAudioTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(
        self,
        timeline: MediaTimeline,
        lines: Sequence[tuple[float, np.ndarray]],
        loop_s: float | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.timeline = timeline
        self.lines = [(round(t * AUDIO_RATE), np.asarray(a, np.float32)) for t, a in lines]
        self.loop = round(loop_s * AUDIO_RATE) if loop_s else None
        self.rng = np.random.default_rng(seed)
        self.sent = 0

    def samples_at(self, start: int) -> np.ndarray:
        """``AUDIO_SAMPLES`` samples from sample position ``start`` of the schedule."""
        out = (self.rng.standard_normal(AUDIO_SAMPLES) * ROOM_TONE).astype(np.float32)
        pos = start % self.loop if self.loop else start
        for t0, clip in self.lines:
            a, b = max(pos, t0), min(pos + AUDIO_SAMPLES, t0 + len(clip))
            if a < b:
                out[a - pos : b - pos] += clip[a - t0 : b - t0]
        return out

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self.timeline.wait_until(self.sent * AUDIO_SAMPLES / AUDIO_RATE)
        pcm = np.clip(self.samples_at(self.sent * AUDIO_SAMPLES), -1.0, 1.0)
        frame = av.AudioFrame.from_ndarray(
            (pcm * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = AUDIO_RATE
        frame.pts = self.sent * AUDIO_SAMPLES
        frame.time_base = Fraction(1, AUDIO_RATE)
        self.sent += 1
        return frame
