"""The media process's side of the live checks: copy a few packets off the relay, never block.

The room calls a :class:`LiveTap` for every packet it forwards. Audio (Opus, 50 packets a
second) is batched per participant into ~0.5 s messages; video is sampled as keyframes only,
at most one per ``frame_interval_s`` (the room asks browsers for keyframes that often while a
tap is attached), so that nothing in between needs decoding anywhere. ``push`` is
non-blocking and returns False when the live checks' queue is full: the batch is dropped
(the recording never waits for live checks).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import av

AUDIO_BATCH = 25  # 0.5 s of 20 ms Opus packets


class LiveTap:
    def __init__(
        self,
        session_id: str,
        t0: float,
        push: Callable[[tuple[Any, ...]], bool],
        frame_interval_s: float,
    ) -> None:
        self.session_id = session_id
        self.t0 = t0
        self.frame_interval_s = frame_interval_s
        self._push = push
        self._audio: dict[str, list[tuple[float, int, bytes]]] = {}
        self._last_frame: dict[str, float] = {}
        self.closed = False

    def __call__(
        self, role: str, kind: str, packet: av.Packet[Any], now: float, codec: str | None
    ) -> None:
        """One received packet of ``role`` (before the relay takes ownership of it)."""
        if self.closed or packet.pts is None:
            return
        t_s = now - self.t0
        if kind == "audio":
            batch = self._audio.setdefault(role, [])
            batch.append((t_s, int(packet.pts), bytes(packet)))
            if len(batch) >= AUDIO_BATCH:
                self._audio[role] = []
                self._push(("audio", self.session_id, role, time.time(), batch))
        elif packet.is_keyframe and codec is not None:
            if t_s - self._last_frame.get(role, -1e9) >= self.frame_interval_s * 0.9:
                self._last_frame[role] = t_s
                self._push(("video", self.session_id, role, time.time(), t_s, codec, bytes(packet)))
