"""Facts about a recording, read back with PyAV: streams, duration, frames, colour, loudness, pitch."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class RecordingFacts:
    video_codec: str | None
    audio_codec: str | None
    width: int
    height: int
    video_frames: int
    video_duration_s: float
    audio_duration_s: float
    mean_rgb: tuple[float, float, float]  # over sampled decoded frames
    audio_rms: float  # full-scale 1.0
    audio_peak_hz: float  # strongest frequency of the loudest parts


def _span(times: list[float]) -> float:
    return max(times) - min(times) if times else 0.0


def _video(container: av.container.InputContainer) -> tuple[int, float, tuple[float, float, float]]:
    stream = container.streams.video[0]
    frames, times, colours = 0, [], []
    for frame in container.decode(stream):
        if frame.pts is not None:
            times.append(float(frame.pts * frame.time_base))
        if frames % 10 == 0:
            rgb = frame.to_ndarray(format="rgb24")
            colours.append(rgb.reshape(-1, 3).mean(axis=0))
        frames += 1
    mean = np.mean(colours, axis=0) if colours else np.zeros(3)
    fps_guess = frames / _span(times) if _span(times) > 0 else 0.0
    # Duration covers the last frame too.
    duration = _span(times) + (1 / fps_guess if fps_guess else 0.0)
    return frames, duration, (float(mean[0]), float(mean[1]), float(mean[2]))


def _audio(container: av.container.InputContainer) -> tuple[float, float, float]:
    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="flt", layout="mono", rate=48_000)
    chunks, times = [], []
    for frame in container.decode(stream):
        if frame.pts is not None:
            times.append(float(frame.pts * frame.time_base) + frame.samples / frame.sample_rate)
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(chunks) if chunks else np.zeros(1, np.float32)
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    peak_hz = _peak_frequency(samples, 48_000)
    first = min(times) if times else 0.0
    return rms, peak_hz, (max(times) - first if times else 0.0)


def _peak_frequency(samples: np.ndarray, rate: int) -> float:
    """Strongest frequency (50-2000 Hz) summed over the loudest 100 ms windows."""
    win = rate // 10
    n = len(samples) // win
    if n == 0:
        return 0.0
    frames = samples[: n * win].reshape(n, win).astype(np.float64)
    energy = (frames**2).mean(axis=1)
    loud = frames[energy >= np.quantile(energy, 0.5)]
    spectrum = np.abs(np.fft.rfft(loud * np.hanning(win), axis=1)).sum(axis=0)
    freqs = np.fft.rfftfreq(win, 1 / rate)
    band = (freqs >= 50) & (freqs <= 2000)
    return float(freqs[band][np.argmax(spectrum[band])])


def probe(path: Path) -> RecordingFacts:
    """Decode the whole file (recordings in tests are a few seconds long)."""
    with av.open(str(path)) as container:
        v = container.streams.video[0] if container.streams.video else None
        a = container.streams.audio[0] if container.streams.audio else None
        video_codec = v.codec_context.name if v else None
        audio_codec = a.codec_context.name if a else None
        width, height = (v.codec_context.width, v.codec_context.height) if v else (0, 0)
    frames, vdur, rgb = (0, 0.0, (0.0, 0.0, 0.0))
    if v is not None:
        with av.open(str(path)) as container:
            frames, vdur, rgb = _video(container)
    rms, peak, adur = (0.0, 0.0, 0.0)
    if a is not None:
        with av.open(str(path)) as container:
            rms, peak, adur = _audio(container)
    return RecordingFacts(
        video_codec, audio_codec, width, height, frames, vdur, adur, rgb, rms, peak
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
