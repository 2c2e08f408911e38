"""Where the speech is on a track: Silero VAD regions, on noisy customer tracks cut to their
stretches that stand above the room's noise floor (per-region decoding, issue 11).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from inspection.speech_types import SAMPLE_RATE, DecodeOptions, Region, Utterance

FRAME = 320  # 20 ms at 16 kHz


@dataclass(frozen=True)
class TrackLevels:
    """A track's 20 ms frame levels (dBFS) and its noise floor (their ``percentile``, at least
    -70 dBFS: digital silence has no floor), computed once per track for the energy gate, the
    rescue of stretches VAD missed and the regions' peaks."""

    db: np.ndarray
    floor: float

    @classmethod
    def of(cls, samples: np.ndarray, percentile: float) -> TrackLevels:
        db = _frame_db(samples)
        floor = max(float(np.percentile(db, percentile)), -70.0) if db.size else -70.0
        return cls(db, floor)

    def above(self, margin_db: float) -> np.ndarray:
        """Per frame: True where the level is ``margin_db`` above the floor."""
        return np.asarray(self.db > self.floor + margin_db)

    def peaks(self, regions: list[tuple[int, int]]) -> list[float]:
        """How far (dB) the loudest frame of each sample range stands above the floor."""
        out = []
        for a, b in regions:
            seg = self.db[a // FRAME : max(a // FRAME + 1, -(-b // FRAME))]
            out.append(float(seg.max()) - self.floor if seg.size else 0.0)
        return out


def speech_regions(
    samples: np.ndarray,
    options: DecodeOptions,
    gate: bool = False,
    levels: TrackLevels | None = None,
) -> list[tuple[int, int]]:
    """Sample ranges ``[start, end)`` of speech (Silero VAD, shipped with faster-whisper), with
    ``gate`` cut to their energetic stretches (``levels``: the track's, computed here when not
    given), neighbours less than ``region_merge_gap_s`` apart joined up to ``region_max_s``."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    o = options
    found = get_speech_timestamps(
        samples,
        VadOptions(
            threshold=o.gated_vad_threshold if gate else o.vad_threshold,
            min_silence_duration_ms=o.vad_min_silence_ms,
            speech_pad_ms=o.vad_speech_pad_ms,
            max_speech_duration_s=o.region_max_s,
        ),
    )
    gap = int(o.region_merge_gap_s * SAMPLE_RATE)
    longest = int(o.region_max_s * SAMPLE_RATE)
    spans = [(int(ts["start"]), int(ts["end"])) for ts in found]
    if gate:
        levels = levels or TrackLevels.of(samples, o.noise_percentile)
        voiced = levels.above(o.energy_margin_db)
        spans = [v for a, b in spans for v in _gated(a, b, voiced, o)]
        spans = sorted(spans + _missed_by_vad(len(samples), levels, spans, o))
    return join_close(spans, gap, longest)


def join_close(spans: list[tuple[int, int]], gap: int, longest: int) -> list[tuple[int, int]]:
    """Sorted ``spans`` with neighbours at most ``gap`` samples apart joined while the joined
    span stays at most ``longest`` samples long."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and a - out[-1][1] <= gap and b - out[-1][0] <= longest:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _missed_by_vad(
    n: int, levels: TrackLevels, spans: list[tuple[int, int]], o: DecodeOptions
) -> list[tuple[int, int]]:
    """Stretches standing ``rescue_margin_db`` above the noise floor that no VAD span touches.

    Silero missed a whole answer on a long, lossy customer track (dev16: "嗯，都清楚" at 726 s,
    peaks 38 dB above the floor, not found at any threshold down to 0.15); a customer's words
    must never vanish. Whisper decides what such a stretch holds (a cough decodes to nothing
    and stays unrecognised speech, evidence for review at most)."""
    if o.rescue_margin_db <= 0:
        return []
    loud = levels.above(o.rescue_margin_db)
    out = []
    for a, b in _voiced_stretches(0, n, loud, o):
        if not any(a < y and x < b for x, y in spans):
            out.append((a, b))
    return out


def _frame_db(samples: np.ndarray) -> np.ndarray:
    """Level (dBFS) of each 20 ms frame, a minute at a time (no float64 copy of the track)."""
    n = len(samples) // FRAME
    frames = samples[: n * FRAME].reshape(n, FRAME)
    power = np.empty(n, np.float64)
    step = 3000  # frames: 60 s
    for i in range(0, n, step):
        power[i : i + step] = np.mean(frames[i : i + step].astype(np.float64) ** 2, axis=1)
    return np.asarray(10 * np.log10(power + 1e-12))


def energetic_frames(samples: np.ndarray, margin_db: float, percentile: float) -> np.ndarray:
    """Per 20 ms frame: True where the level is ``margin_db`` above the noise floor (the
    ``percentile`` of all frame levels, at least -70 dBFS: digital silence has no floor)."""
    return TrackLevels.of(samples, percentile).above(margin_db)


def _gated(a: int, b: int, voiced: np.ndarray, o: DecodeOptions) -> list[tuple[int, int]]:
    """The energetic stretches of the VAD span ``[a, b)``, or the whole span when it has
    energetic frames but none of its stretches lasts ``min_voiced_s``: in pink noise at 10 dB
    or hum at 15 dB a short answer (同意, 嗯，同意) stands 8 dB above the floor only at its
    peaks, so the gate kept nothing of it and the answer read as missing (3 of 61 yeses of a
    calibration set, docs/inspection.md). Such a span is then judged like any other region
    (a weak one is not decoded but kept, and closed-set scored in an answer window)."""
    parts = _voiced_stretches(a, b, voiced, o)
    if parts:
        return parts
    fa, fb = a // FRAME, min(-(-b // FRAME), len(voiced))
    hot = int(np.count_nonzero(voiced[fa:fb]))
    return [(a, b)] if hot * FRAME >= o.min_hot_s * SAMPLE_RATE else []


def _voiced_stretches(
    a: int, b: int, voiced: np.ndarray, o: DecodeOptions
) -> list[tuple[int, int]]:
    """The stretches of ``[a, b)`` whose frames are energetic (gaps under ``voiced_gap_s``
    closed, at least ``min_voiced_s`` long), each widened by the VAD padding within ``[a, b)``."""
    fa, fb = a // FRAME, min(-(-b // FRAME), len(voiced))
    hot = np.flatnonzero(voiced[fa:fb]) + fa
    if hot.size == 0:
        return []
    gap = int(o.voiced_gap_s * SAMPLE_RATE / FRAME)
    cuts = np.flatnonzero(np.diff(hot) > gap)
    firsts = np.concatenate([[hot[0]], hot[cuts + 1]])
    lasts = np.concatenate([hot[cuts], [hot[-1]]])
    pad = int(o.vad_speech_pad_ms * SAMPLE_RATE / 1000)
    out: list[tuple[int, int]] = []
    for f0, f1 in zip(firsts, lasts, strict=True):
        if (f1 - f0 + 1) * FRAME < o.min_voiced_s * SAMPLE_RATE:
            continue
        out.append((max(a, int(f0) * FRAME - pad), min(b, (int(f1) + 1) * FRAME + pad)))
    return out


def clamp_times(utt: Utterance, lo_s: float, hi_s: float) -> Utterance:
    """``utt`` with its own and its words' times inside ``[lo_s, hi_s]`` (the decoded region:
    Whisper may stamp a word in the zero padding past the end of a short clip)."""

    def c(t: float) -> float:
        return round(min(max(t, lo_s), hi_s), 3)

    words = [replace(w, start_s=c(w.start_s), end_s=c(w.end_s)) for w in utt.words]
    return replace(utt, start_s=c(utt.start_s), end_s=c(utt.end_s), words=words)


@dataclass(frozen=True)
class TrackRegions:
    """A track's regions to decode (:func:`track_regions`) and, for the recogniser's counts, how
    many padded VAD regions were found and how many of them were weak."""

    regions: list[Region]
    found: int
    weak: int


def track_regions(samples: np.ndarray, participant: str, o: DecodeOptions) -> TrackRegions:
    """The speech regions of ``participant``'s whole track ``samples`` (16 kHz mono float32,
    not empty), padded, each marked weak when nothing in it stands ``min_peak_db`` above the
    track's noise floor (energy-gated participants that keep uncertain speech only).
    Computed over the whole track: the noise floor is the track's."""
    gate = participant in o.energy_gate
    keep = participant in o.keep_uncertain
    judged = o.min_peak_db > 0 and ((gate and keep) or participant in o.skip_quiet_for)
    # The frame levels and the floor once for the gate, the rescue and the peaks.
    levels = TrackLevels.of(samples, o.noise_percentile) if gate or judged else None
    pad = int(o.region_pad_s * SAMPLE_RATE)
    padded = [
        (max(0, a - pad), min(len(samples), b + pad))
        for a, b in speech_regions(samples, o, gate, levels)
    ]
    weak: set[tuple[int, int]] = set()
    if levels is not None and judged:
        peaks = levels.peaks(padded)
        weak = {r for r, p in zip(padded, peaks, strict=True) if p < o.min_peak_db}
    if participant in o.skip_quiet_for:
        # Quiet regions dropped, the rest joined across reading pauses: a sentence decoded
        # with its neighbours in one window, as a whole-track decode would.
        kept = [r for r in padded if r not in weak]
        regions = [Region(a, b) for a, b in joined_regions(kept, o, pad)]
    else:
        regions = [Region(a, b, (a, b) in weak) for a, b in padded]
    return TrackRegions(regions, len(padded), len(weak))


def joined_regions(
    regions: list[tuple[int, int]], o: DecodeOptions, pad: int
) -> list[tuple[int, int]]:
    """``regions`` (padded by ``pad``) with neighbours less than ``context_merge_gap_s`` apart
    joined while the result spans at most ``region_max_s`` (+ the padding): one window."""
    gap = int(o.context_merge_gap_s * SAMPLE_RATE)
    return join_close(regions, gap, int(o.region_max_s * SAMPLE_RATE) + 2 * pad)
