"""Measured media quality: audio level, silence and clipping; frame brightness and sharpness.
These functions only measure (``best_frames`` keeps the sharpest frames for OCR).
``inspection.rules`` compares the numbers with its thresholds
and turns them into ``media.quality`` findings.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

_FLOOR_DBFS = -120.0  # reported level of digital silence, instead of -inf
_NOISE_PERCENTILE = 10.0  # a track pauses more than 10% of the time: this is the room's floor
_SHARPNESS_WIDTH = 640  # frames wider than this are scaled down before measuring sharpness


@dataclass(frozen=True)
class AudioQuality:
    """Levels of one mono float32 signal (full scale = 1.0), measured in fixed windows.

    ``speech_dbfs`` is the median level of the speech windows (None when every window is
    silent): "is the voice loud enough" without counting pauses or room noise. Speech
    windows are those ``speech_margin_db`` above the noise floor (the 10th percentile of the
    window levels) and louder than ``silence_dbfs``; when no window stands out of the floor
    (continuous sound, or no pause at all), every non-silent window counts.
    ``silent_spans`` are maximal runs of silent windows, in seconds of the input timeline.
    ``noise_dbfs`` is that noise floor and ``snr_db`` how far the speech stands above it
    (None when silent): the speech windows' median power less the floor's, over the floor,
    or, when no window stands out, the loudest window's (speech drowned in noise measures
    low). The
    floor is a percentile of half-second windows, so steady noise (fan, hum) and babble
    (many voices: its windows vary little at 0.5 s) both measure as floor, and a customer
    who speaks a few seconds in two minutes does not raise it.
    """

    duration_s: float
    window_s: float
    rms_dbfs: float
    peak_dbfs: float
    speech_dbfs: float | None
    silent_share: float
    clipped_share: float
    silent_spans: list[tuple[float, float]]
    noise_dbfs: float = _FLOOR_DBFS
    snr_db: float | None = None


@dataclass(frozen=True)
class FrameQuality:
    """Brightness and sharpness of one video frame.

    ``mean_luma`` and ``luma_std`` are on the 0-255 scale (dark frame: low mean; a frame
    that shows nothing, e.g. a covered lens: low std). ``sharpness`` is the variance of the
    Laplacian of the grey image (blurred or out of focus: low).
    """

    t_s: float
    mean_luma: float
    luma_std: float
    sharpness: float


def _dbfs(power: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.maximum(10.0 * np.log10(np.asarray(power, dtype=np.float64)), _FLOOR_DBFS)


def window_levels(audio: np.ndarray, sample_rate: int = 16000, window_s: float = 0.5) -> np.ndarray:
    """RMS level in dBFS of each consecutive window (a last partial window is included)."""
    if audio.ndim != 1:
        raise ValueError("expected a mono 1-D signal")
    size = max(1, round(window_s * sample_rate))
    if audio.size == 0:
        return np.zeros(0)
    full = audio.size // size
    power = np.empty(-(-audio.size // size), dtype=np.float64)
    rows = audio[: full * size].reshape(full, size)
    step = max(1, round(60 / window_s))  # a minute of windows at a time: no float64 track
    for i in range(0, full, step):
        j = min(i + step, full)
        power[i:j] = np.square(rows[i:j].astype(np.float64)).sum(axis=1) / size
    if full < power.size:  # the last, partial window
        tail = np.square(audio[full * size :].astype(np.float64))
        power[-1] = tail.sum() / tail.size
    return _dbfs(power)


def audio_quality(
    audio: np.ndarray,
    sample_rate: int = 16000,
    window_s: float = 0.5,
    silence_dbfs: float = -50.0,
    clip_level: float = 0.99,
    speech_margin_db: float = 6.0,
) -> AudioQuality:
    """Measure level, silence and clipping of a float32 mono signal (e.g. a session track)."""
    levels = window_levels(audio, sample_rate, window_s)
    if levels.size == 0:
        return AudioQuality(0.0, window_s, _FLOOR_DBFS, _FLOOR_DBFS, None, 1.0, 0.0, [])
    power, peak, clipped = _sample_stats(audio, clip_level)
    silent = levels < silence_dbfs
    loud = levels[~silent]
    duration = audio.size / sample_rate
    floor = float(np.percentile(levels, _NOISE_PERCENTILE))
    speech = _speech_level(levels, loud, speech_margin_db)
    return AudioQuality(
        duration_s=duration,
        window_s=window_s,
        rms_dbfs=float(_dbfs(power)),
        peak_dbfs=float(_dbfs(peak**2)),
        speech_dbfs=speech,
        silent_share=float(silent.mean()),
        clipped_share=clipped,
        silent_spans=_runs(silent, window_s, duration),
        noise_dbfs=floor,
        snr_db=_snr(levels, loud, floor, speech_margin_db),
    )


def _sample_stats(audio: np.ndarray, clip_level: float) -> tuple[float, float, float]:
    """Mean power, peak magnitude and clipped share of ``audio``, a minute at a time: a
    float64 copy of a 20-minute track and its square were ~0.3 GB at once, per participant,
    while both participants' audio stages run side by side."""
    n = audio.size
    step = 16000 * 60
    total, peak, clipped = 0.0, 0.0, 0
    for i in range(0, n, step):
        chunk = audio[i : i + step].astype(np.float64)
        total += float(np.dot(chunk, chunk))
        mag = np.abs(chunk)
        peak = max(peak, float(mag.max()))
        clipped += int(np.count_nonzero(mag >= clip_level))
    return total / n, peak, clipped / n


def _speech_level(levels: np.ndarray, loud: np.ndarray, margin_db: float) -> float | None:
    # In a noisy room most windows above the silence level are noise (a customer speaks a
    # few seconds in two minutes): their median is the noise level, not the voice's. Speech
    # is what stands out of the noise floor; a steady too-quiet voice still measures low.
    if not loud.size:
        return None
    floor = float(np.percentile(levels, _NOISE_PERCENTILE))
    speech = loud[loud >= floor + margin_db]
    return float(np.median(speech if speech.size else loud))


def _snr(levels: np.ndarray, loud: np.ndarray, floor: float, margin_db: float) -> float | None:
    if not loud.size:
        return None
    speech = loud[loud >= floor + margin_db]
    lift = float(np.median(speech) if speech.size else np.max(levels)) - floor
    # Speech windows hold speech plus noise: take the noise's power out (a voice at the
    # noise's own level measures +3 dB, i.e. 0 dB once subtracted).
    return float(10.0 * np.log10(max(10.0 ** (lift / 10.0) - 1.0, 1e-6)))


def _runs(flags: np.ndarray, window_s: float, duration: float) -> list[tuple[float, float]]:
    # Start/end times of each run of True windows; the last window may be partial.
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(s * window_s, min(e * window_s, duration)) for s, e in zip(starts, ends, strict=True)]


def _grey(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return bgr
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def sharpness(bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image (higher = sharper).

    Frames wider than 640 px are scaled to 640 first so that values from different camera
    resolutions compare. It also grows with texture and contrast: compare frames of one
    camera, or use a threshold chosen for webcam frames.
    """
    grey = _grey(bgr)
    if grey.shape[1] > _SHARPNESS_WIDTH:
        # At least one row: a 4096 x 2 picture (the sender's choice) rounded to 0, an
        # OpenCV assertion that failed the whole inspection.
        height = max(1, round(grey.shape[0] * _SHARPNESS_WIDTH / grey.shape[1]))
        grey = cv2.resize(grey, (_SHARPNESS_WIDTH, height), interpolation=cv2.INTER_AREA)
    _, std = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_64F))  # 2x faster than ndarray.var
    return float(std[0, 0]) ** 2


def frame_quality(bgr: np.ndarray, t_s: float = 0.0) -> FrameQuality:
    """Mean and spread of luma (0-255) and sharpness of one BGR frame."""
    grey = _grey(bgr)
    mean, std = cv2.meanStdDev(grey)
    return FrameQuality(
        t_s=t_s,
        mean_luma=float(mean[0, 0]),
        luma_std=float(std[0, 0]),
        sharpness=sharpness(grey),
    )


def video_quality(frames: Iterable[tuple[float, np.ndarray]]) -> list[FrameQuality]:
    """``frame_quality`` of each ``(t_s, bgr)`` frame, e.g. from ``media.sample_frames``."""
    return [frame_quality(bgr, t_s) for t_s, bgr in frames]


def best_frames(
    frames: Iterable[tuple[float, np.ndarray]], k: int
) -> list[tuple[float, np.ndarray, float]]:
    """The ``k`` sharpest frames as ``(t_s, bgr, sharpness)``, sharpest first.

    Consumes the iterable (e.g. ``inspection.media.sample_frames``) keeping only ``k``
    frames in memory, so OCR runs on the few frames most likely to be legible.
    """
    if k <= 0:
        return []
    heap: list[tuple[float, int, float, np.ndarray]] = []
    for n, (t_s, bgr) in enumerate(frames):
        item = (sharpness(bgr), n, t_s, bgr)
        if len(heap) < k:
            heapq.heappush(heap, item)
        elif item[0] > heap[0][0]:
            heapq.heapreplace(heap, item)
    return [(t, img, s) for s, _, t, img in sorted(heap, key=lambda x: (-x[0], x[1]))]
