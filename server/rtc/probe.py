"""Reopen a recording and describe it: codecs, duration, frames, audio level, sync markers.

Used by tests, the e2e checks and the session benchmark. ``marker_offsets`` finds the
white flashes and loud beeps that :mod:`server.rtc.client` puts at the same instants and
returns audio-minus-video time for each pair: the A/V offset of the recording.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

import av
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from inspection.media import decoder_for

FLASH_LUMA = 200.0
BEEP_RMS = 0.3


@dataclass
class RecordingProbe:
    """What is in one media file (times in seconds from the file's start)."""

    path: Path
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int = 0
    height: int = 0
    video_frames: int = 0
    audio_frames: int = 0
    video_start: float | None = None
    video_end: float | None = None
    audio_end: float | None = None
    audio_rms: float = 0.0
    decode_errors: int = 0
    flashes: list[float] = field(default_factory=list)
    beeps: list[float] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return max(self.video_end or 0.0, self.audio_end or 0.0)


def probe_recording(path: Path, find_markers: bool = False) -> RecordingProbe:
    """Decode every frame of ``path`` (blocking; run it off the event loop)."""
    info = RecordingProbe(Path(path))
    with av.open(str(path)) as container:
        if container.streams.video:
            _probe_video(container, info, find_markers)
    with av.open(str(path)) as container:
        if container.streams.audio:
            _probe_audio(container, info, find_markers)
    return info


@overload
def _decoded(
    container: InputContainer, stream: VideoStream, info: RecordingProbe
) -> Iterator[VideoFrame]: ...
@overload
def _decoded(
    container: InputContainer, stream: AudioStream, info: RecordingProbe
) -> Iterator[AudioFrame]: ...
def _decoded(
    container: InputContainer, stream: VideoStream | AudioStream, info: RecordingProbe
) -> Iterator[object]:
    """The frames of ``stream``; a packet that does not decode is counted, not raised (a
    recording is described as it is, damaged packets included). VP8 is decoded as a browser
    does (``decoder_for``: libvpx), as review video and inspection do: after a gap FFmpeg's
    own decoder refused the inter frames a browser shows."""
    decoder = decoder_for(stream)
    for packet in container.demux(stream):
        try:
            frames = decoder.decode(packet)
        except av.FFmpegError:
            info.decode_errors += 1
            continue
        yield from frames


def _probe_video(container: InputContainer, info: RecordingProbe, markers: bool) -> None:
    stream = container.streams.video[0]
    info.video_codec = stream.codec_context.name
    info.width, info.height = stream.codec_context.width, stream.codec_context.height
    was_white = False
    for frame in _decoded(container, stream, info):
        t = float(frame.time or 0.0)
        info.video_frames += 1
        info.video_start = t if info.video_start is None else info.video_start
        info.video_end = t
        if markers:
            white = float(frame.to_ndarray(format="gray").mean()) > FLASH_LUMA
            if white and not was_white:
                info.flashes.append(t)
            was_white = white


def _probe_audio(container: InputContainer, info: RecordingProbe, markers: bool) -> None:
    stream = container.streams.audio[0]
    info.audio_codec = stream.codec_context.name
    total, count = 0.0, 0
    was_loud = False
    for frame in _decoded(container, stream, info):
        samples = frame.to_ndarray().astype(np.float64)
        if samples.dtype.kind == "i":
            samples /= 32768.0
        mono = (
            samples.mean(axis=0) if samples.ndim == 2 and samples.shape[0] > 1 else samples.ravel()
        )
        total += float(np.sum(mono**2))
        count += mono.size
        t = float(frame.time or 0.0)
        info.audio_frames += 1
        info.audio_end = t + frame.samples / frame.sample_rate
        if markers:
            _find_beeps(mono, t, frame.sample_rate, info, was_loud)
            was_loud = bool(info.beeps) and _loud(mono[-96:])
    info.audio_rms = float(np.sqrt(total / count)) if count else 0.0


def _loud(samples: np.ndarray) -> bool:
    return bool(samples.size) and float(np.sqrt(np.mean(samples**2))) > BEEP_RMS


def _find_beeps(
    mono: np.ndarray, t: float, rate: int, info: RecordingProbe, was_loud: bool
) -> None:
    """Onset of a loud burst at 2 ms resolution."""
    step = rate // 500
    for start in range(0, mono.size - step + 1, step):
        loud = _loud(mono[start : start + step])
        if loud and not was_loud and (not info.beeps or t - info.beeps[-1] > 0.5):
            info.beeps.append(t + start / rate)
        was_loud = loud


def marker_offsets(info: RecordingProbe, max_pair_s: float = 0.5) -> list[float]:
    """Audio-minus-video seconds for each flash that has a beep within ``max_pair_s``."""
    offsets = []
    for flash in info.flashes:
        nearest = min(info.beeps, key=lambda b: abs(b - flash), default=None)
        if nearest is not None and abs(nearest - flash) <= max_pair_s:
            offsets.append(nearest - flash)
    return offsets
