"""Is the customer's track really silent where no answer was found? (issue 7, "missing" answers)

An answer window with no customer utterance was "no answer", a `fail`. In babble a short answer
can be lost before any words are read: on a dev session re-rendered with the customer in babble
at 15 dB (``scripts/make_noisy_probe.py``), dev04's 0.7 s "同意" got no speech region at all and
the clean consent failed, although it stood 25 dB above the track's noise floor where the babble
around it peaked at 8-12 dB. So a window without utterances is checked on the audio itself: a
stretch whose loudest frames stand ``min_peak_db`` above the floor (louder than the room, the
same test speech.py uses before decoding a customer region) for at least ``min_hot_s`` is speech
nobody read — an empty ``voice_energy`` utterance, closed-set scored like any other region, so the
answer is `unrecognised` (review, ``voice_energy`` and the stretch's time in the evidence) or a closed-set answer; a window
whose track never rises above the room stays "no answer" (`fail`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inspection.speech_regions import FRAME, TrackLevels
from inspection.speech_types import DecodeOptions, Utterance

SAMPLE_RATE = 16000
#: Frames this close are one stretch (a pause inside a short answer).
JOIN_S = 0.3
#: Padding kept around the stretch, as around a decoded customer region.
PAD_S = 0.4


def voice_in_windows(
    audio: np.ndarray,
    utts: Sequence[Utterance],
    windows: Sequence[tuple[float, float]],
    options: DecodeOptions | None = None,
) -> list[Utterance]:
    """Empty ``voice_energy`` utterances (tagged for closed-set scoring) for the loud stretches of
    every window in ``windows`` that holds no customer utterance; ``audio`` starts at 0 s."""
    o = options or DecodeOptions()
    levels = TrackLevels.of(np.asarray(audio, dtype=np.float32), o.noise_percentile)
    out: list[Utterance] = []
    for w0, w1 in windows:
        if any(u.end_s >= w0 and u.start_s <= w1 for u in utts):
            continue
        out += _stretches(levels, w0, w1, o)
    return out


def _stretches(levels: TrackLevels, w0: float, w1: float, o: DecodeOptions) -> list[Utterance]:
    per_s = SAMPLE_RATE / FRAME
    f0, f1 = max(0, int(w0 * per_s)), min(len(levels.db), int(w1 * per_s))
    if f1 <= f0:
        return []
    rel = levels.db[f0:f1] - levels.floor
    hot = np.flatnonzero(rel >= o.min_peak_db)
    out: list[Utterance] = []
    if hot.size == 0:
        return out
    groups = np.split(hot, np.flatnonzero(np.diff(hot) > JOIN_S * per_s) + 1)
    voiced = rel >= o.energy_margin_db
    for g in groups:
        if g.size * FRAME < o.min_hot_s * SAMPLE_RATE:
            continue  # a click, not a syllable
        a, b = int(g[0]), int(g[-1]) + 1
        while a > 0 and voiced[a - 1]:  # the quieter edges of the same syllables
            a -= 1
        while b < len(voiced) and voiced[b]:
            b += 1
        lo = max(0.0, (f0 + a) / per_s - PAD_S)
        hi = (f0 + b) / per_s + PAD_S
        region = (round(lo, 3), round(hi, 3))
        out.append(
            Utterance(
                participant="customer",
                start_s=region[0],
                end_s=region[1],
                text="",
                uncertain="voice_energy",
                region_s=region,
            )
        )
    return out
